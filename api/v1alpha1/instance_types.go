package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InstanceSpec is the host's registration as configured.
type InstanceSpec struct {
	Cluster string `json:"cluster"`
}

// Resource is a registered resource.
type Resource struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	IntegerValue int64    `json:"integerValue,omitempty"`
	StringSet    []string `json:"stringSetValue,omitempty"`
}

// InstanceStatus is the host's registration as ECS knows it.
type InstanceStatus struct {
	ContainerInstanceARN string            `json:"containerInstanceArn,omitempty"`
	EC2InstanceID        string            `json:"ec2InstanceId,omitempty"`
	AvailabilityZone     string            `json:"availabilityZone,omitempty"`
	Resources            []Resource        `json:"resources,omitempty"`
	Attributes           map[string]string `json:"attributes,omitempty"`
	ACSConnected         bool              `json:"acsConnected,omitempty"`
	TCSConnected         bool              `json:"tcsConnected,omitempty"`
	RegisteredAt         *metav1.Time      `json:"registeredAt,omitempty"`
	ManifestSeqNum       int64             `json:"manifestSeqNum,omitempty"`
	// Conditions are the host's conditions the agent watches, such as DataDirFull.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// InstanceConditionDataDirFull is True while ECS_DATADIR's filesystem is full: container
// output is being dropped, and state changes use the checkpoint's reserve. Its reason is
// one of the InstanceReason… values, its lastTransitionTime when that began or ended.
const InstanceConditionDataDirFull = "DataDirFull"

// Reasons of the DataDirFull condition.
const (
	// InstanceReasonNoSpace: writes to the data directory fail with ENOSPC or EDQUOT.
	InstanceReasonNoSpace = "NoSpace"
	// InstanceReasonHasSpace: writes succeed again.
	InstanceReasonHasSpace = "HasSpace"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status

// Instance is this container instance.
type Instance struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   InstanceSpec   `json:"spec,omitempty"`
	Status InstanceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// InstanceList is a list of Instances.
type InstanceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Instance `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Instance{}, &InstanceList{})
}
