package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// metadataReply decodes credprobe's "<status> <body>" line for a task metadata response.
func metadataReply(t *testing.T, line string) (int, map[string]any) {
	t.Helper()
	status, body, ok := strings.Cut(line, " ")
	if !ok {
		t.Fatalf("task metadata answer %q is not \"<status> <body>\"", line)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("task metadata answer %q: %v", line, err)
	}
	code, err := strconv.Atoi(status)
	if err != nil {
		t.Fatalf("task metadata answer %q: status %v", line, err)
	}
	return code, doc
}

// stringMap converts a decoded JSON object of strings.
func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, _ := v.(string)
		out[k] = s
	}
	return out
}

// TestTaskMetadataTags: a task run with tags (its own and, with propagateTags, its task
// definition's) sees them in TaskTags of v4 and v3 taskWithTags from inside its container,
// with the container instance's tags (ECS_CONTAINER_INSTANCE_TAGS at registration plus a
// TagResource after it) in ContainerInstanceTags; the plain /task response has neither.
// The agent looks the tags up with ListTagsForResource on the backend it registered with.
func TestTaskMetadataTags(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, `ECS_CONTAINER_INSTANCE_TAGS={"rack":"r1"}`)
	h.start()
	ci := b.waitConnected(h)
	h.hostSetup(t)
	ctx := context.Background()

	if _, err := b.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: ci.ContainerInstanceArn,
		Tags: []types.Tag{{Key: aws.String("zone"), Value: aws.String("z1")}}}); err != nil {
		t.Fatalf("TagResource container instance: %v", err)
	}
	def := b.probeDef("tagged", "", `echo "v4-tags=$(credprobe get "$ECS_CONTAINER_METADATA_URI_V4/taskWithTags")"; `+
		`echo "v4-plain=$(credprobe get "$ECS_CONTAINER_METADATA_URI_V4/task")"; `+
		`echo "v3-tags=$(credprobe get "$ECS_CONTAINER_METADATA_URI/taskWithTags")"; echo done=1; `+serviceLoop)
	if _, err := b.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(def),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("defs")}, {Key: aws.String("team"), Value: aws.String("def-team")}}}); err != nil {
		t.Fatalf("TagResource task definition: %v", err)
	}
	arns := b.runTaskInput(&ecs.RunTaskInput{TaskDefinition: aws.String(def), PropagateTags: types.PropagateTagsTaskDefinition,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}, {Key: aws.String("cost-center"), Value: aws.String("42")}}})
	b.waitTasks("tagged task RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	log := h.taskLog(t, taskIDOf(arns[0]), "app", "done=")

	wantTask := map[string]string{"team": "blue", "cost-center": "42", "owner": "defs"}
	wantInstance := map[string]string{"rack": "r1", "zone": "z1"}
	for _, prefix := range []string{"v4-tags=", "v3-tags="} {
		status, doc := metadataReply(t, logValue(log, prefix))
		if status != 200 || doc["TaskARN"] != arns[0] {
			t.Errorf("%s %d %v", prefix, status, doc)
			continue
		}
		if got := stringMap(doc["TaskTags"]); !maps.Equal(got, wantTask) {
			t.Errorf("%s TaskTags = %v, want %v", prefix, doc["TaskTags"], wantTask)
		}
		if got := stringMap(doc["ContainerInstanceTags"]); !maps.Equal(got, wantInstance) {
			t.Errorf("%s ContainerInstanceTags = %v, want %v", prefix, doc["ContainerInstanceTags"], wantInstance)
		}
		if _, ok := doc["Errors"]; ok {
			t.Errorf("%s Errors = %v, want none", prefix, doc["Errors"])
		}
	}
	status, plain := metadataReply(t, logValue(log, "v4-plain="))
	if status != 200 || plain["TaskARN"] != arns[0] {
		t.Fatalf("v4 /task: %d %v", status, plain)
	}
	for _, k := range []string{"TaskTags", "ContainerInstanceTags", "Errors"} {
		if _, ok := plain[k]; ok {
			t.Errorf("v4 /task has %s: %v", k, plain[k])
		}
	}
}
