package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AttachmentSpec is an ENI attachment from ACS.
type AttachmentSpec struct {
	AttachmentARN string   `json:"attachmentArn"`
	TaskARN       string   `json:"taskArn,omitempty"`
	MACAddress    string   `json:"macAddress"`
	IPv4Addresses []string `json:"ipv4Addresses,omitempty"`
	IPv6Addresses []string `json:"ipv6Addresses,omitempty"`
	// SubnetGatewayIPv4 is "<gateway>/<prefix>" as ACS sends it.
	SubnetGatewayIPv4 string       `json:"subnetGatewayIpv4Address,omitempty"`
	DomainNameServers []string     `json:"domainNameServers,omitempty"`
	DomainName        []string     `json:"domainName,omitempty"`
	PrivateDNSName    string       `json:"privateDnsName,omitempty"`
	ExpiresAt         *metav1.Time `json:"expiresAt,omitempty"`
}

// AttachmentStatus is the ENI's observed state.
type AttachmentStatus struct {
	// Status is NONE, ATTACHED or DETACHED.
	Status     string `json:"status,omitempty"`
	SentStatus string `json:"sentStatus,omitempty"`
	// InterfaceName is the host name of the interface once found by MAC.
	InterfaceName string `json:"interfaceName,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status

// Attachment is an ENI attached to a task or to the instance.
type Attachment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AttachmentSpec   `json:"spec,omitempty"`
	Status AttachmentStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AttachmentList is a list of Attachments.
type AttachmentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Attachment `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Attachment{}, &AttachmentList{})
}

// Attachment statuses (AttachmentStatus.Status and SentStatus).
const (
	AttachmentNone     = "NONE"
	AttachmentAttached = "ATTACHED"
	AttachmentDetached = "DETACHED"
)
