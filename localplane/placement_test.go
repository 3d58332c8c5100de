package localplane

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// registerInstance registers one more instance of the test resources in cluster prod with attrs.
func (p *plane) registerInstance(t *testing.T, attrs []types.Attribute) string {
	t.Helper()
	out, err := p.ecs.RegisterContainerInstance(context.Background(), &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String("prod"), TotalResources: testResources(), Attributes: attrs})
	if err != nil {
		t.Fatalf("RegisterContainerInstance: %v", err)
	}
	return aws.ToString(out.ContainerInstance.ContainerInstanceArn)
}

// perInstance counts tasks by container instance.
func perInstance(tasks []types.Task) map[string]int {
	out := map[string]int{}
	for _, task := range tasks {
		out[aws.ToString(task.ContainerInstanceArn)]++
	}
	return out
}

// TestRunTaskSpreadsAcrossInstances: RunTask with a count places each task on the
// instance with the fewest tasks not STOPPED (those placed earlier in the call counted,
// the earliest registered first among equals), and never on an instance that could not
// run it: one whose agent is not connected or that lacks an attribute the definition
// requires.
func TestRunTaskSpreadsAcrossInstances(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	ctx := context.Background()
	a := p.setup(t, "prod")
	b := p.registerInstance(t, agentAttributes(t))
	c := p.registerInstance(t, agentAttributes(t))
	offline := p.registerInstance(t, agentAttributes(t))
	bare := p.registerInstance(t, nil)
	for _, in := range []string{a, b, c, bare} {
		p.connect(t, "prod", in, false)
	}
	// awslogs with an execution role: attributes the bare instance did not register.
	reg, err := p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:           aws.String("web"),
		ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/exec"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox"), Memory: aws.Int32(8),
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{"awslogs-group": "g"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	def := aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	// A already runs one task.
	if out, err := p.ecs.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def),
		ContainerInstances: []string{a}}); err != nil || len(out.Tasks) != 1 {
		t.Fatalf("StartTask on A: %v", err)
	}

	out, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def), Count: aws.Int32(5)})
	if err != nil || len(out.Tasks) != 5 {
		t.Fatalf("RunTask count 5: %v, %d tasks, failures %v", err, len(out.Tasks), failures(out.Failures))
	}
	// B and C (no tasks) first, then one each round: A 1, B 2, C 2, so every instance
	// ends with two.
	want := map[string]int{a: 1, b: 2, c: 2}
	if got := perInstance(out.Tasks); !maps.Equal(got, want) {
		t.Errorf("tasks per instance %v, want %v (offline %s, bare %s)", got, want, offline, bare)
	}
	var order []string
	for _, task := range out.Tasks {
		order = append(order, aws.ToString(task.ContainerInstanceArn))
	}
	if wantOrder := []string{b, c, a, b, c}; !slices.Equal(order, wantOrder) {
		t.Errorf("placement order %v, want %v", order, wantOrder)
	}
	// What DescribeTasks says, as a user would check it.
	var arns []string
	for _, task := range out.Tasks {
		arns = append(arns, aws.ToString(task.TaskArn))
	}
	d, err := p.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("prod"), Tasks: arns})
	if err != nil || !maps.Equal(perInstance(d.Tasks), want) {
		t.Errorf("DescribeTasks: %v, per instance %v, want %v", err, perInstance(d.Tasks), want)
	}
}

// TestRunTaskSpreadRespectsResources: a task goes to the least loaded instance that has
// room for it; when no instance has, the rest of the count fails with the resource that
// is short, and what was placed fills every instance.
func TestRunTaskSpreadRespectsResources(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	ctx := context.Background()
	a := p.setup(t, "prod")
	b := p.registerInstance(t, agentAttributes(t))
	for _, in := range []string{a, b} {
		p.connect(t, "prod", in, false)
	}
	small := p.registerTaskDef(t, "small", 100, 0)
	big := p.registerTaskDef(t, "big", 400, 0)
	// A runs three small tasks (300 of its 1024 MiB). B, with none, takes big tasks until
	// it is full (two), then A, still with more tasks, takes one; the fourth fits nowhere.
	for range 3 {
		if out, err := p.ecs.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(small),
			ContainerInstances: []string{a}}); err != nil || len(out.Tasks) != 1 {
			t.Fatalf("StartTask: %v", err)
		}
	}
	out, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(big), Count: aws.Int32(4)})
	if err != nil {
		t.Fatal(err)
	}
	if want, got := map[string]int{a: 1, b: 2}, perInstance(out.Tasks); !maps.Equal(got, want) {
		t.Errorf("tasks per instance %v, want %v; failures %v", got, want, failures(out.Failures))
	}
	if len(out.Failures) == 0 {
		t.Fatal("no failure for the task that fits nowhere")
	}
	for _, f := range out.Failures {
		if aws.ToString(f.Reason) != "RESOURCE:MEMORY" {
			t.Errorf("failure %s on %s, want RESOURCE:MEMORY", aws.ToString(f.Reason), aws.ToString(f.Arn))
		}
	}
}
