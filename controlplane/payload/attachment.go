package payload

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// ENIAttachment converts an ENI (from a task's elasticNetworkInterfaces or an
// Attach*NetworkInterfacesMessage) into its Attachment object, named by attachment ID
// (AttachmentName). taskARN is empty for an instance-level ENI. expiresAt, when not nil,
// is the deadline for the ENI to show up (generatedAt + waitTimeoutMs of an attach
// message); ENIs inside a task payload have none.
func ENIAttachment(eni *ElasticNetworkInterface, taskARN string, expiresAt *metav1.Time) (*v1alpha1.Attachment, error) {
	if eni == nil {
		return nil, fmt.Errorf("elasticNetworkInterface: %w", ErrMissing)
	}
	if err := checkENI(eni); err != nil {
		return nil, err
	}
	name, _ := AttachmentName(eni.AttachmentArn)
	spec := v1alpha1.AttachmentSpec{
		AttachmentARN:     eni.AttachmentArn,
		TaskARN:           taskARN,
		MACAddress:        eni.MacAddress,
		SubnetGatewayIPv4: eni.SubnetGatewayIPv4Address,
		DomainNameServers: copySlice(eni.DomainNameServers),
		DomainName:        copySlice(eni.DomainName),
		PrivateDNSName:    eni.PrivateDNSName,
		ExpiresAt:         expiresAt.DeepCopy(),
	}
	// Primary addresses first: consumers take the first as the interface's address.
	for _, primary := range []bool{true, false} {
		for _, a := range eni.IPv4Addresses {
			if a.Primary == primary {
				spec.IPv4Addresses = append(spec.IPv4Addresses, a.PrivateAddress)
			}
		}
		for _, a := range eni.IPv6Addresses {
			if a.Primary == primary {
				spec.IPv6Addresses = append(spec.IPv6Addresses, a.Address)
			}
		}
	}
	obj := &v1alpha1.Attachment{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Attachment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: v1alpha1.Namespace},
		Spec:       spec,
	}
	if taskARN != "" {
		obj.Labels = map[string]string{v1alpha1.LabelTaskARN: taskARN}
		if id, err := TaskID(taskARN); err == nil {
			obj.Labels[v1alpha1.LabelTaskName] = id
		}
	}
	return obj, nil
}
