package payload

import (
	"testing"
	"time"
)

func TestAttachMessagesValidateAndDeadline(t *testing.T) {
	eni := ElasticNetworkInterface{AttachmentArn: "arn:aws:ecs:us-west-2:1:attachment/att-1", MacAddress: "02:00:00:00:00:01"}
	good := func() *AttachTaskNetworkInterfacesMessage {
		return &AttachTaskNetworkInterfacesMessage{MessageID: "m", ClusterArn: "c", ContainerInstanceArn: "ci",
			TaskArn: testTaskARN, GeneratedAt: 1782900000, WaitTimeoutMs: 5000, ElasticNetworkInterfaces: []ElasticNetworkInterface{eni}}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		edit     func(m *AttachTaskNetworkInterfacesMessage)
		sentinel error
	}{
		"no message id": {func(m *AttachTaskNetworkInterfacesMessage) { m.MessageID = "" }, ErrMissing},
		"no task":       {func(m *AttachTaskNetworkInterfacesMessage) { m.TaskArn = "" }, ErrMissing},
		"two ENIs": {func(m *AttachTaskNetworkInterfacesMessage) {
			m.ElasticNetworkInterfaces = append(m.ElasticNetworkInterfaces, eni)
		}, ErrInvalidValue},
		"bad MAC": {func(m *AttachTaskNetworkInterfacesMessage) { m.ElasticNetworkInterfaces[0].MacAddress = "x" }, ErrInvalidValue},
	} {
		m := good()
		m.ElasticNetworkInterfaces = append([]ElasticNetworkInterface{}, m.ElasticNetworkInterfaces...)
		tc.edit(m)
		if err := m.Validate(); !errorsIs(err, tc.sentinel) {
			t.Errorf("%s: Validate = %v, want %v", name, err, tc.sentinel)
		}
	}
	now := time.Unix(1800000000, 0)
	if got, want := good().ExpiresAt(now), time.Unix(1782900005, 0); !got.Equal(want) {
		t.Errorf("ExpiresAt = %v, want generatedAt + waitTimeoutMs = %v", got, want)
	}
	m := good()
	m.GeneratedAt, m.WaitTimeoutMs = 0, 0
	if got := m.ExpiresAt(now); !got.Equal(now.Add(DefaultENIAttachWait)) {
		t.Errorf("ExpiresAt without generatedAt and waitTimeoutMs = %v", got)
	}

	inst := &AttachInstanceNetworkInterfacesMessage{MessageID: "m", ClusterArn: "c", ContainerInstanceArn: "ci"}
	if err := inst.Validate(); !errorsIs(err, ErrMissing) {
		t.Errorf("instance message without ENIs: %v", err)
	}
	inst.ElasticNetworkInterfaces = []ElasticNetworkInterface{eni}
	if err := inst.Validate(); err != nil {
		t.Errorf("instance message: %v", err)
	}
}
