package main

import (
	"encoding/json"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/metadatafile"
)

// instanceFacts are what the endpoints and the container metadata file say about the host.
type instanceFacts struct {
	availabilityZone, privateIPv4 string
}

// factsFrom reads them from the signed instance identity document the agent fetched for
// registration (empty off EC2 and in local mode), so no extra IMDS calls are needed.
func factsFrom(doc string) instanceFacts {
	var d struct {
		AvailabilityZone string `json:"availabilityZone"`
		PrivateIP        string `json:"privateIp"`
	}
	if doc != "" {
		_ = json.Unmarshal([]byte(doc), &d) // a malformed document only leaves them empty
	}
	return instanceFacts{availabilityZone: d.AvailabilityZone, privateIPv4: d.PrivateIP}
}

// metadataInstance is the host part of the container metadata file.
func metadataInstance(cfg *config.Config, instanceARN string, f instanceFacts) metadatafile.Instance {
	in := metadatafile.Instance{Cluster: cfg.Cluster, ContainerInstanceARN: instanceARN, HostPrivateIPv4Address: f.privateIPv4}
	if !cfg.TaskMetadataAZDisabled.Enabled() {
		in.AvailabilityZone = f.availabilityZone
	}
	return in
}
