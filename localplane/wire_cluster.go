package localplane

import "encoding/json"

type clusterSetting struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

type createClusterRequest struct {
	ClusterName       string           `json:"clusterName,omitempty"`
	Tags              []tag            `json:"tags,omitempty"`
	Settings          []clusterSetting `json:"settings,omitempty"`
	Configuration     json.RawMessage  `json:"configuration,omitempty"`
	CapacityProviders []string         `json:"capacityProviders,omitempty"`
}

type clusterOutput struct {
	ClusterArn                        string           `json:"clusterArn"`
	ClusterName                       string           `json:"clusterName"`
	Status                            string           `json:"status"`
	RegisteredContainerInstancesCount int32            `json:"registeredContainerInstancesCount"`
	RunningTasksCount                 int32            `json:"runningTasksCount"`
	PendingTasksCount                 int32            `json:"pendingTasksCount"`
	ActiveServicesCount               int32            `json:"activeServicesCount"`
	Statistics                        []keyValuePair   `json:"statistics"`
	Tags                              []tag            `json:"tags"`
	Settings                          []clusterSetting `json:"settings"`
	CapacityProviders                 []string         `json:"capacityProviders"`
	DefaultCapacityProviderStrategy   []struct{}       `json:"defaultCapacityProviderStrategy"`
}

type createClusterResponse struct {
	Cluster clusterOutput `json:"cluster"`
}

type describeClustersRequest struct {
	Clusters []string `json:"clusters,omitempty"`
	Include  []string `json:"include,omitempty"`
}

type describeClustersResponse struct {
	Clusters []clusterOutput `json:"clusters"`
	Failures []failure       `json:"failures"`
}

type listClustersRequest struct {
	paging
}

type listClustersResponse struct {
	ClusterArns []string `json:"clusterArns"`
	NextToken   string   `json:"nextToken,omitempty"`
}
