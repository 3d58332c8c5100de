package payload

import (
	"fmt"
	"time"
)

// DefaultENIAttachWait is ecsd's wait for an attached ENI to show up when an attach
// message carries no waitTimeoutMs. The reference agent adds the absent value as zero,
// which makes the deadline the message's own timestamp and drops the ENI at once; the
// ConfirmAttachmentMessage default is the more useful reading.
const DefaultENIAttachWait = DefaultConfirmAttachmentWait

// Validate applies the reference agent's checks to a task ENI attachment: messageId,
// clusterArn, containerInstanceArn and taskArn are set, and there is exactly one valid
// ENI. An invalid message is dropped (logged, not acknowledged).
func (m *AttachTaskNetworkInterfacesMessage) Validate() error {
	if m == nil {
		return fmt.Errorf("AttachTaskNetworkInterfacesMessage: %w", ErrMissing)
	}
	if err := checkAttachEnvelope("AttachTaskNetworkInterfacesMessage", m.MessageID, m.ClusterArn, m.ContainerInstanceArn); err != nil {
		return err
	}
	if _, err := TaskID(m.TaskArn); err != nil {
		return fmt.Errorf("AttachTaskNetworkInterfacesMessage.taskArn: %w", err)
	}
	if n := len(m.ElasticNetworkInterfaces); n != 1 {
		return fmt.Errorf("AttachTaskNetworkInterfacesMessage.elasticNetworkInterfaces: %w: %d ENIs (want 1)", ErrInvalidValue, n)
	}
	return checkENIs("AttachTaskNetworkInterfacesMessage", m.ElasticNetworkInterfaces)
}

// ExpiresAt is the deadline for the ENI to show up: generatedAt (epoch seconds; now when
// absent) plus the wait timeout.
func (m *AttachTaskNetworkInterfacesMessage) ExpiresAt(now time.Time) time.Time {
	return attachDeadline(m.GeneratedAt, m.WaitTimeoutMs, now)
}

// Validate applies the reference agent's checks to an instance ENI attachment: messageId,
// clusterArn and containerInstanceArn are set, and there is at least one ENI, all valid.
func (m *AttachInstanceNetworkInterfacesMessage) Validate() error {
	if m == nil {
		return fmt.Errorf("AttachInstanceNetworkInterfacesMessage: %w", ErrMissing)
	}
	if err := checkAttachEnvelope("AttachInstanceNetworkInterfacesMessage", m.MessageID, m.ClusterArn, m.ContainerInstanceArn); err != nil {
		return err
	}
	if len(m.ElasticNetworkInterfaces) == 0 {
		return fmt.Errorf("AttachInstanceNetworkInterfacesMessage.elasticNetworkInterfaces: %w", ErrMissing)
	}
	return checkENIs("AttachInstanceNetworkInterfacesMessage", m.ElasticNetworkInterfaces)
}

// ExpiresAt is the deadline for the ENIs to show up, as for a task attachment.
func (m *AttachInstanceNetworkInterfacesMessage) ExpiresAt(now time.Time) time.Time {
	return attachDeadline(m.GeneratedAt, m.WaitTimeoutMs, now)
}

// Ack is the AckRequest answering this message.
func (m *AttachTaskNetworkInterfacesMessage) Ack() AckRequest {
	return AckRequest{Cluster: m.ClusterArn, ContainerInstance: m.ContainerInstanceArn, MessageID: m.MessageID}
}

// Ack is the AckRequest answering this message.
func (m *AttachInstanceNetworkInterfacesMessage) Ack() AckRequest {
	return AckRequest{Cluster: m.ClusterArn, ContainerInstance: m.ContainerInstanceArn, MessageID: m.MessageID}
}

func checkAttachEnvelope(typ, messageID, cluster, instance string) error {
	switch {
	case messageID == "":
		return fmt.Errorf("%s.messageId: %w", typ, ErrMissing)
	case cluster == "":
		return fmt.Errorf("%s.clusterArn: %w", typ, ErrMissing)
	case instance == "":
		return fmt.Errorf("%s.containerInstanceArn: %w", typ, ErrMissing)
	}
	return nil
}

func checkENIs(typ string, enis []ElasticNetworkInterface) error {
	for i := range enis {
		if err := checkENI(&enis[i]); err != nil {
			return fmt.Errorf("%s.elasticNetworkInterfaces[%d]: %w", typ, i, err)
		}
	}
	return nil
}

func attachDeadline(generatedAt, waitTimeoutMs int64, now time.Time) time.Time {
	start := now
	if generatedAt > 0 {
		start = time.Unix(generatedAt, 0)
	}
	wait := DefaultENIAttachWait
	if waitTimeoutMs > 0 {
		wait = time.Duration(waitTimeoutMs) * time.Millisecond
	}
	return start.Add(wait)
}
