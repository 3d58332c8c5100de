package localplane

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/sigv4"
)

func TestTCS(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: 20 * time.Millisecond})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	p.connect(t, "prod", instance, false)
	task := p.runTask(t, "prod", p.registerTaskDef(t, "web", 64, 0))

	out, err := p.ecs.DiscoverPollEndpoint(ctx, &ecs.DiscoverPollEndpointInput{Cluster: aws.String("prod"), ContainerInstance: aws.String(instance)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.TelemetryEndpoint); got != p.http.URL+"/tcs" {
		t.Fatalf("telemetryEndpoint %q", got)
	}
	tcsURL := aws.ToString(out.TelemetryEndpoint) + "/ws?" + url.Values{"agentHash": {"abc"}, "agentVersion": {"1.0.0"},
		"cluster": {"prod"}, "containerInstance": {instance}}.Encode()
	conn, resp, err := dial(t, tcsURL, staticCreds(testKey, testSecret))
	if err != nil {
		t.Fatalf("TCS dial: %v %v", err, resp)
	}
	defer conn.CloseNow()

	write := func(frame []byte) {
		t.Helper()
		if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
			t.Fatal(err)
		}
	}
	signedFrame := func(typ string, msg any) []byte {
		t.Helper()
		body, err := payload.Encode(typ, msg)
		if err != nil {
			t.Fatal(err)
		}
		f, err := sigv4.SignFrame(ctx, staticCreds(testKey, testSecret), DefaultRegion, tcsURL, body)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// next returns the type of the next frame, skipping heartbeats unless wantHeartbeat.
	heartbeats := 0
	next := func(wantHeartbeat bool) string {
		t.Helper()
		for {
			rctx, cancel := context.WithTimeout(ctx, waitTimeout)
			_, data, err := conn.Read(rctx)
			cancel()
			if err != nil {
				t.Fatalf("TCS read: %v", err)
			}
			f, err := payload.DecodeFrame(data)
			if err != nil {
				t.Fatal(err)
			}
			if f.Type == "HeartbeatMessage" {
				heartbeats++
				if !wantHeartbeat {
					continue
				}
			}
			return f.Type
		}
	}

	// A frame whose body was changed after signing is dropped: the next answer is for
	// the valid frame after it.
	bad := signedFrame("PublishHealthRequest", map[string]any{"tasks": []any{}})
	write(bytes.Replace(bad, []byte(`"tasks":[]`), []byte(`"tasks":[{}]`), 1))
	write(signedFrame("PublishMetricsRequest", map[string]any{
		"metadata":  map[string]any{"cluster": "prod", "containerInstance": instance, "messageId": "m1", "idle": true, "fin": true},
		"timestamp": 1782900000.5}))
	if got := next(false); got != "AckPublishMetric" {
		t.Fatalf("answer %s, want AckPublishMetric", got)
	}
	write(signedFrame("PublishHealthRequest", map[string]any{
		"metadata": map[string]any{"cluster": "prod", "containerInstance": instance, "messageId": "h1", "fin": true},
		"tasks": []any{map[string]any{"taskArn": task, "containers": []any{
			map[string]any{"containerName": "app", "healthStatus": "HEALTHY", "statusSince": 1782900000}}}}}))
	if got := next(false); got != "AckPublishHealth" {
		t.Fatalf("answer %s, want AckPublishHealth", got)
	}
	write(signedFrame("PublishInstanceStatusRequest", map[string]any{
		"metadata": map[string]any{"cluster": "prod", "containerInstance": instance, "requestId": "r1"},
		"statuses": []any{map[string]any{"type": "CONTAINER_RUNTIME", "status": "OK", "lastUpdated": 1782900000}}}))
	if got := next(false); got != "AckPublishInstanceStatus" {
		t.Fatalf("answer %s, want AckPublishInstanceStatus", got)
	}
	for heartbeats == 0 {
		next(true)
	}

	frames := p.Telemetry()
	var kinds []string
	for _, f := range frames {
		if f.ContainerInstance != instance {
			t.Errorf("frame for %s", f.ContainerInstance)
		}
		kinds = append(kinds, f.Type)
	}
	if strings.Join(kinds, ",") != "PublishMetricsRequest,PublishHealthRequest,PublishInstanceStatusRequest" {
		t.Fatalf("Telemetry() types %v", kinds)
	}
	var metrics struct {
		Metadata struct{ MessageID string }
	}
	if err := json.Unmarshal(frames[0].Message, &metrics); err != nil || metrics.Metadata.MessageID != "m1" {
		t.Fatalf("recorded message %s: %v", frames[0].Message, err)
	}

	got := p.describeTask(t, task)
	if got.Containers[0].HealthStatus != "HEALTHY" || got.HealthStatus != "HEALTHY" {
		t.Fatalf("health: container %s task %s", got.Containers[0].HealthStatus, got.HealthStatus)
	}
	di, err := p.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("prod"),
		ContainerInstances: []string{instance}, Include: []types.ContainerInstanceField{types.ContainerInstanceFieldContainerInstanceHealth}})
	if err != nil {
		t.Fatal(err)
	}
	if h := di.ContainerInstances[0].HealthStatus; h == nil || h.OverallStatus != "OK" || len(h.Details) != 1 {
		t.Fatalf("instance health %+v", h)
	}
}
