package tcs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTimestampJSON(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Unix(1782900020, 500e6), "1782900020.5"},
		{time.Unix(1782900020, 123456789), "1782900020.123"},
		{time.Unix(1782900020, 0), "1782900020"},
		{time.Unix(1782900020, 1e6), "1782900020.001"},
	} {
		b, err := json.Marshal(At(tc.at))
		if err != nil || string(b) != tc.want {
			t.Errorf("marshal %v = %s (%v), want %s", tc.at, b, err, tc.want)
		}
		var back Timestamp
		if err := json.Unmarshal(b, &back); err != nil || !back.Time().Equal(tc.at.Truncate(time.Millisecond)) {
			t.Errorf("round trip of %s = %v (%v)", b, back.Time(), err)
		}
	}
	for _, bad := range []string{`"2026-07-01T12:00:00Z"`, `true`, `{}`} {
		var ts Timestamp
		if err := json.Unmarshal([]byte(bad), &ts); !errors.Is(err, ErrMalformedFrame) {
			t.Errorf("unmarshal %s: %v, want ErrMalformedFrame", bad, err)
		}
	}
	// The zero timestamp is left out of a message.
	b, _ := json.Marshal(PublishHealthRequest{Metadata: &HealthMetadata{Fin: true}})
	if strings.Contains(string(b), "timestamp") {
		t.Errorf("zero timestamp marshalled: %s", b)
	}
}

// TestWireForm pins the exact JSON of a metrics request: member names from the model,
// timestamps as numbers, idle and fin always present.
func TestWireForm(t *testing.T) {
	req := PublishMetricsRequest{
		Metadata: &MetricsMetadata{Cluster: "prod", ContainerInstance: "ci", MessageID: "m1", Fin: true},
		TaskMetrics: []TaskMetric{{TaskArn: "arn:t", TaskDefinitionFamily: "web", TaskDefinitionVersion: "3",
			ContainerMetrics: []ContainerMetric{{ContainerName: "app",
				CPUStatsSet:     &CWStatsSet{Min: 0.4, Max: 3.1, SampleCount: 4, Sum: 6.2},
				MemoryStatsSet:  &CWStatsSet{Min: 41, Max: 44, SampleCount: 4, Sum: 170},
				RestartStatsSet: &RestartStatsSet{RestartCount: 0}}}}},
		Timestamp: At(time.Unix(1782900020, 500e6)),
	}
	b, err := Encode(req)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"PublishMetricsRequest","message":{"metadata":{"cluster":"prod","containerInstance":"ci","messageId":"m1","idle":false,"fin":true},` +
		`"taskMetrics":[{"taskArn":"arn:t","taskDefinitionFamily":"web","taskDefinitionVersion":"3","containerMetrics":[{"containerName":"app",` +
		`"cpuStatsSet":{"min":0.4,"max":3.1,"sampleCount":4,"sum":6.2},"memoryStatsSet":{"min":41,"max":44,"sampleCount":4,"sum":170},` +
		`"restartStatsSet":{"restartCount":0}}]}],"timestamp":1782900020.5}}`
	if string(b) != want {
		t.Fatalf("frame\n%s\nwant\n%s", b, want)
	}
	f, err := DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := m.(*PublishMetricsRequest)
	if !ok || got.TaskMetrics[0].ContainerMetrics[0].CPUStatsSet.Sum != 6.2 || !got.Timestamp.Time().Equal(req.Timestamp.Time()) {
		t.Fatalf("decoded %#v", m)
	}

	h, _ := Encode(PublishHealthRequest{Metadata: &HealthMetadata{MessageID: "h"}, Tasks: []TaskHealth{{TaskArn: "arn:t",
		Containers: []ContainerHealth{{ContainerName: "app", HealthStatus: HealthHealthy, StatusSince: At(time.Unix(1782900000, 0))}}}}})
	if want := `{"type":"PublishHealthRequest","message":{"metadata":{"messageId":"h","fin":false},"tasks":[{"taskArn":"arn:t","containers":[{"containerName":"app","healthStatus":"HEALTHY","statusSince":1782900000}]}]}}`; string(h) != want {
		t.Errorf("health frame\n%s\nwant\n%s", h, want)
	}
}

func TestDecodeServerFrames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Message
		err  error
	}{
		{in: `{"type":"HeartbeatMessage","message":{"healthy":true}}`, want: &HeartbeatMessage{Healthy: true}},
		{in: `{"type":"AckPublishMetric","message":{"message":"ok"}}`, want: &AckPublishMetric{Message: "ok"}},
		{in: `{"type":"AckPublishHealth","message":{}}`, want: &AckPublishHealth{}},
		{in: `{"type":"AckPublishInstanceStatus","message":{}}`, want: &AckPublishInstanceStatus{}},
		{in: `{"type":"StopTelemetrySessionMessage","message":{"message":"bye"}}`, want: &StopTelemetrySessionMessage{Message: "bye"}},
		{in: `{"type":"ServerException","message":{"message":"boom"}}`, want: &Exception{Type: TypeServerException, Message: "boom"}},
		{in: `{"type":"HeartbeatMessage","message":{"healthy":true,"newMember":1}}`, want: &HeartbeatMessage{Healthy: true}},
		{in: `{"type":"NoSuchThing","message":{}}`, err: ErrUnknownType},
		{in: `{"type":"HeartbeatMessage","message":"x"}`, err: ErrMalformedFrame},
		{in: `{"type":"HeartbeatMessage","message":{"healthy":"yes"}}`, err: ErrMalformedFrame},
		{in: `{"message":{}}`, err: ErrMalformedFrame},
		{in: `not json`, err: ErrMalformedFrame},
	} {
		f, err := DecodeFrame([]byte(tc.in))
		var m Message
		if err == nil {
			m, err = DecodeMessage(f)
		}
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: error %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		gb, _ := json.Marshal(m)
		wb, _ := json.Marshal(tc.want)
		if m.MessageType() != tc.want.MessageType() || string(gb) != string(wb) {
			t.Errorf("%s: got %T %s, want %T %s", tc.in, m, gb, tc.want, wb)
		}
	}
}

func TestDecodeErrorBody(t *testing.T) {
	for _, tc := range []struct {
		body, typ, msg string
	}{
		{`{"type":"BadRequestException","message":{"message":"bad"}}`, TypeBadRequestException, "bad"},
		{`{"InvalidParameterException":"no such cluster"}`, TypeInvalidParameterException, "no such cluster"},
		{`{"ServerException":{"detail":1}}`, TypeServerException, `{"detail":1}`},
		{`<html>503</html>`, "", ""},
		{`{"other":"x"}`, "", ""},
	} {
		err := DecodeErrorBody([]byte(tc.body))
		var ex *Exception
		if tc.typ == "" {
			if err != nil {
				t.Errorf("%s: %v, want nil", tc.body, err)
			}
			continue
		}
		if !errors.As(err, &ex) || ex.Type != tc.typ || ex.Message != tc.msg {
			t.Errorf("%s: %#v, want %s %q", tc.body, err, tc.typ, tc.msg)
		}
	}
}

func TestMessageID(t *testing.T) {
	a, b := newMessageID(), newMessageID()
	if a == b || len(a) != 36 || a[14] != '4' || strings.Count(a, "-") != 4 {
		t.Errorf("message IDs %q %q", a, b)
	}
}
