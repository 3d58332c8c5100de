package payload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeFrame(t *testing.T) {
	f, err := DecodeFrame([]byte(`{"type":"HeartbeatMessage","message":{"healthy":true,"messageId":"hb-1"},"extra":1}`))
	if err != nil || f.Type != TypeHeartbeatMessage {
		t.Fatalf("%+v %v", f, err)
	}
	m, err := DecodeMessage(f)
	if err != nil || !reflect.DeepEqual(m, &HeartbeatMessage{Healthy: true, MessageID: "hb-1"}) {
		t.Fatalf("%+v %v", m, err)
	}
	for name, tc := range map[string]struct {
		data     []byte
		sentinel error
	}{
		"empty":        {nil, ErrMalformedFrame},
		"not json":     {[]byte("hello"), ErrMalformedFrame},
		"array":        {[]byte(`[1,2]`), ErrMalformedFrame},
		"no type":      {[]byte(`{"message":{}}`), ErrMalformedFrame},
		"type number":  {[]byte(`{"type":1,"message":{}}`), ErrMalformedFrame},
		"truncated":    {[]byte(`{"type":"PayloadMessage","message":{"tasks":[`), ErrMalformedFrame},
		"too large":    {append(append([]byte(`{"type":"X","message":"`), bytes.Repeat([]byte("a"), MaxFrameSize)...), `"}`...), ErrFrameTooLarge},
		"max+1 spaces": {bytes.Repeat([]byte(" "), MaxFrameSize+1), ErrFrameTooLarge},
	} {
		if _, err := DecodeFrame(tc.data); !errorsIs(err, tc.sentinel) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		f        Frame
		sentinel error
	}{
		"unknown type":   {Frame{Type: "RefreshCredentialsMessage", Message: json.RawMessage(`{}`)}, ErrUnknownType},
		"no message":     {Frame{Type: TypePayloadMessage}, ErrMalformedFrame},
		"null message":   {Frame{Type: TypePayloadMessage, Message: json.RawMessage(`null`)}, ErrMalformedFrame},
		"string message": {Frame{Type: TypeAckRequest, Message: json.RawMessage(`"x"`)}, ErrMalformedFrame},
		"wrong member":   {Frame{Type: TypePayloadMessage, Message: json.RawMessage(`{"tasks":{}}`)}, ErrMalformedFrame},
		"wrong seqNum":   {Frame{Type: TypePayloadMessage, Message: json.RawMessage(`{"seqNum":"7"}`)}, ErrMalformedFrame},
	} {
		if _, err := DecodeMessage(tc.f); !errorsIs(err, tc.sentinel) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestEveryTypeRoundTrips encodes a populated value of every message type and decodes it
// back to the same typed value.
func TestEveryTypeRoundTrips(t *testing.T) {
	eni := ElasticNetworkInterface{AttachmentArn: "arn:aws:ecs:r:1:attachment/a", MacAddress: "0a:00:00:00:00:01",
		IPv4Addresses: []IPv4AddressAssignment{{PrivateAddress: "10.0.0.1", Primary: true}}}
	ids := []TaskIdentifier{{TaskArn: "t1", TaskClusterArn: "c", DesiredStatus: "STOPPED"}}
	msgs := []Message{
		&HeartbeatMessage{Healthy: true, MessageID: "1"},
		&HeartbeatAckRequest{MessageID: "1"},
		&PayloadMessage{ClusterArn: "c", ContainerInstanceArn: "ci", MessageID: "m", SeqNum: 3, GeneratedAt: 9, Timeline: Ptr(int64(0)),
			Tasks: []Task{{Arn: "a", DesiredStatus: "RUNNING", Containers: []Container{{Name: "x", Privileged: Ptr(false)}}}}},
		&AckRequest{Cluster: "c", ContainerInstance: "ci", MessageID: "m"},
		&NackRequest{Cluster: "c", ContainerInstance: "ci", MessageID: "m", Reason: "updates disabled"},
		&IAMRoleCredentialsMessage{TaskArn: "t", TaskClusterArn: "c", RoleType: "TaskApplication", MessageID: "m",
			RoleCredentials: &IAMRoleCredentials{CredentialsID: "id", SecretAccessKey: "s", CredentialScope: "x"}},
		&IAMRoleCredentialsAckRequest{MessageID: "m", Expiration: "e", CredentialsID: "id"},
		&TaskManifestMessage{ClusterArn: "c", ContainerInstanceArn: "ci", MessageID: "m", Timeline: 4, GeneratedAt: 1, Tasks: ids},
		&TaskStopVerificationMessage{MessageID: "m", StopCandidates: ids},
		&TaskStopVerificationAck{MessageID: "m", GeneratedAt: 2, StopTasks: ids},
		&AttachTaskNetworkInterfacesMessage{TaskArn: "t", MessageID: "m", WaitTimeoutMs: 1000, ElasticNetworkInterfaces: []ElasticNetworkInterface{eni}},
		&AttachInstanceNetworkInterfacesMessage{MessageID: "m", WaitTimeoutMs: 1000, ElasticNetworkInterfaces: []ElasticNetworkInterface{eni}},
		&ConfirmAttachmentMessage{TaskArn: "t", MessageID: "m", Attachment: &Attachment{AttachmentArn: "a", AttachmentType: "amazonebs",
			AttachmentProperties: []AttachmentProperty{{Name: "volumeId", Value: "vol-1"}}}},
		&StageUpdateMessage{MessageID: "m", UpdateInfo: &UpdateInfo{Location: "https://x/y.tar", Signature: "ab"}},
		&PerformUpdateMessage{MessageID: "m", UpdateInfo: &UpdateInfo{Location: "https://x/y.tar"}},
		&CloseMessage{Message: "bye"},
		&ErrorMessage{Message: "oops"},
		&PollRequest{Cluster: "c", SendCredentials: true, ProtocolVersion: Ptr(int64(2)), VersionInfo: &VersionInfo{AgentVersion: "1"}},
		&ServerException{Message: "s"},
		&BadRequestException{Message: "b"},
		&InvalidClusterException{Message: "c"},
		&InvalidInstanceException{Message: "i"},
		&AccessDeniedException{Message: "a"},
		&InactiveInstanceException{Message: "x"},
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		data, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		f, err := DecodeFrame(data)
		if err != nil || f.Type != m.MessageType() {
			t.Fatalf("%T: %+v %v", m, f, err)
		}
		got, err := DecodeMessage(f)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%T: got %+v want %+v", m, got, m)
		}
		seen[f.Type] = true
	}
	if len(seen) != len(msgs) {
		t.Fatalf("duplicate types in the test table: %v", seen)
	}
}

func TestEncode(t *testing.T) {
	b, err := Encode(TypeHeartbeatAckRequest, HeartbeatAckRequest{MessageID: "hb-1"})
	if err != nil || string(b) != `{"type":"HeartbeatAckRequest","message":{"messageId":"hb-1"}}` {
		t.Fatalf("%s %v", b, err)
	}
	b, err = Encode(TypeAckRequest, &AckRequest{Cluster: "c", ContainerInstance: "ci", MessageID: "pm-42"})
	if err != nil || string(b) != `{"type":"AckRequest","message":{"cluster":"c","containerInstance":"ci","messageId":"pm-42"}}` {
		t.Fatalf("%s %v", b, err)
	}
	if b, err := Encode("CustomThing", map[string]int{"a": 1}); err != nil || string(b) != `{"type":"CustomThing","message":{"a":1}}` {
		t.Fatalf("%s %v", b, err)
	}
	if b, err := Encode(TypePerformUpdateMessage, nil); err != nil || string(b) != `{"type":"PerformUpdateMessage","message":{}}` {
		t.Fatalf("%s %v", b, err)
	}
	if _, err := Encode(TypeAckRequest, HeartbeatAckRequest{}); !errorsIs(err, ErrTypeMismatch) {
		t.Fatal(err)
	}
	if _, err := Encode("", AckRequest{}); !errorsIs(err, ErrMalformedFrame) {
		t.Fatal(err)
	}
	if _, err := Encode("X", func() {}); err == nil {
		t.Fatal("unencodable message accepted")
	}
	if _, err := Encode("X", strings.Repeat("a", MaxFrameSize)); !errorsIs(err, ErrFrameTooLarge) {
		t.Fatal(err)
	}
	if _, err := EncodeMessage(nil); !errorsIs(err, ErrMalformedFrame) {
		t.Fatal(err)
	}
}

func TestPayloadHelpers(t *testing.T) {
	p := &PayloadMessage{ClusterArn: "c", ContainerInstanceArn: "ci", MessageID: "m", SeqNum: 5}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.Ack() != (AckRequest{Cluster: "c", ContainerInstance: "ci", MessageID: "m"}) || p.Options() != (Options{ClusterARN: "c", SeqNum: 5}) {
		t.Fatal(p.Ack(), p.Options())
	}
	for _, bad := range []*PayloadMessage{nil, {ClusterArn: "c", ContainerInstanceArn: "ci"}, {MessageID: "m", ContainerInstanceArn: "ci"}, {MessageID: "m", ClusterArn: "c"}} {
		if err := bad.Validate(); !errorsIs(err, ErrMissing) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	c := &ConfirmAttachmentMessage{}
	if c.WaitTimeout() != 5*time.Minute {
		t.Fatal(c.WaitTimeout())
	}
	c.WaitTimeoutMs = 1500
	if c.WaitTimeout() != 1500*time.Millisecond {
		t.Fatal(c.WaitTimeout())
	}
}

func TestExceptions(t *testing.T) {
	for body, want := range map[string]string{
		`{"InactiveInstanceException":"instance gone"}`:                         "InactiveInstanceException: instance gone",
		`{"type":"InvalidClusterException","message":{"message":"no cluster"}}`: "InvalidClusterException: no cluster",
		`{"type":"ServerException","message":"weird"}`:                          `ServerException: "weird"`,
		`{"AccessDeniedException":{"detail":1}}`:                                `AccessDeniedException: {"detail":1}`,
		`{"InvalidInstanceException":"a","ServerException":"b"}`:                "InvalidInstanceException: a",
	} {
		err := DecodeErrorBody([]byte(body))
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", body, err, want)
		}
	}
	for _, body := range []string{``, `not json`, `{"type":"HeartbeatMessage","message":{}}`, `{"Other":"x"}`, `[]`} {
		if err := DecodeErrorBody([]byte(body)); err != nil {
			t.Errorf("%q: %v", body, err)
		}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&InactiveInstanceException{}, true},
		{&InvalidClusterException{}, true},
		{&InvalidInstanceException{}, true},
		{fmt.Errorf("connect: %w", &AccessDeniedException{}), true},
		{&ServerException{}, false},
		{&BadRequestException{}, false},
		{ErrMalformedFrame, false},
		{nil, false},
	} {
		if got := IsUnretriable(tc.err); got != tc.want {
			t.Errorf("IsUnretriable(%v) = %v", tc.err, got)
		}
	}
	m, err := DecodeMessage(Frame{Type: TypeInactiveInstanceException, Message: json.RawMessage(`{"message":"m"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.(error); !ok || !IsUnretriable(e) {
		t.Fatalf("%T", m)
	}
}
