package localplane

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func sdkTags(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

func (p *plane) tagMap(t *testing.T, arn string) map[string]string {
	t.Helper()
	out, err := p.ecs.ListTagsForResource(context.Background(), &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("ListTagsForResource %s: %v", arn, err)
	}
	m := map[string]string{}
	for _, tg := range out.Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// TestTagResource tags and untags tasks and container instances, checks the limits, and
// that the tags survive a restart of the control plane.
func TestTagResource(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.json")
	p := newPlane(t, Options{StatePath: statePath})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	p.connect(t, "prod", instance, false)
	def := p.registerTaskDef(t, "web", 64, 0)
	run, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def), Tags: sdkTags("team", "a")})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v", err)
	}
	task := aws.ToString(run.Tasks[0].TaskArn)

	if _, err := p.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(task), Tags: sdkTags("team", "b", "env", "prod")}); err != nil {
		t.Fatalf("TagResource task: %v", err)
	}
	if _, err := p.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(instance), Tags: sdkTags("rack", "r1", "zone", "z")}); err != nil {
		t.Fatalf("TagResource instance: %v", err)
	}
	if got, want := p.tagMap(t, task), map[string]string{"team": "b", "env": "prod"}; !maps.Equal(got, want) {
		t.Errorf("task tags %v, want %v", got, want)
	}
	if _, err := p.ecs.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: aws.String(instance), TagKeys: []string{"zone", "absent"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	if got, want := p.tagMap(t, instance), map[string]string{"rack": "r1"}; !maps.Equal(got, want) {
		t.Errorf("instance tags %v, want %v", got, want)
	}

	var ipe *types.InvalidParameterException
	for name, in := range map[string]*ecs.TagResourceInput{
		"unknown task":  {ResourceArn: aws.String("arn:aws:ecs:local:000000000000:task/prod/nope"), Tags: sdkTags("a", "b")},
		"other account": {ResourceArn: aws.String("arn:aws:ecs:local:111122223333:task/prod/x"), Tags: sdkTags("a", "b")},
		"reserved key":  {ResourceArn: aws.String(task), Tags: sdkTags("AWS:owner", "x")},
		"empty key":     {ResourceArn: aws.String(task), Tags: sdkTags("", "x")},
		"no tags":       {ResourceArn: aws.String(task), Tags: []types.Tag{}},
	} {
		if _, err := p.ecs.TagResource(ctx, in); !errors.As(err, &ipe) {
			t.Errorf("TagResource %s: %v, want InvalidParameterException", name, err)
		}
	}
	var many []string
	for i := range maxTags {
		many = append(many, string(rune('A'+i/26))+string(rune('a'+i%26)), "v")
	}
	if _, err := p.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(task), Tags: sdkTags(many...)}); !errors.As(err, &ipe) {
		t.Errorf("TagResource beyond %d tags: %v, want InvalidParameterException", maxTags, err)
	}

	// The tags are part of the persisted state.
	p2 := newPlane(t, Options{StatePath: statePath})
	if got, want := p2.tagMap(t, instance), map[string]string{"rack": "r1"}; !maps.Equal(got, want) {
		t.Errorf("instance tags after restart %v, want %v", got, want)
	}
}

// TestRunTaskPropagateTags: propagateTags=TASK_DEFINITION gives the task the definition's
// tags under the request's; no value or NONE gives it only the request's.
func TestRunTaskPropagateTags(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	p.connect(t, "prod", instance, false)
	def, err := p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("tagged"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox"),
			Memory: aws.Int32(16)}},
		Tags: sdkTags("owner", "defs", "team", "def-team"),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := def.TaskDefinition.TaskDefinitionArn
	for _, tc := range []struct {
		propagate types.PropagateTags
		want      map[string]string
	}{
		{"", map[string]string{"team": "run"}},
		{types.PropagateTagsNone, map[string]string{"team": "run"}},
		{types.PropagateTagsTaskDefinition, map[string]string{"owner": "defs", "team": "run"}},
	} {
		run, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: arn,
			Tags: sdkTags("team", "run"), PropagateTags: tc.propagate})
		if err != nil || len(run.Tasks) != 1 {
			t.Fatalf("RunTask propagate %q: %v", tc.propagate, err)
		}
		if got := p.tagMap(t, aws.ToString(run.Tasks[0].TaskArn)); !maps.Equal(got, tc.want) {
			t.Errorf("propagate %q: task tags %v, want %v", tc.propagate, got, tc.want)
		}
	}
	var ipe *types.InvalidParameterException
	if _, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: arn,
		PropagateTags: types.PropagateTagsService}); !errors.As(err, &ipe) {
		t.Errorf("RunTask propagate SERVICE: %v, want InvalidParameterException", err)
	}
	if _, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: arn,
		Tags: sdkTags("aws:ecs:clusterName", "x")}); !errors.As(err, &ipe) {
		t.Errorf("RunTask with a reserved tag key: %v, want InvalidParameterException", err)
	}
}
