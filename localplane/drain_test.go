package localplane

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestUpdateContainerInstancesState: DRAINING takes an instance out of placement but keeps
// its agent's session and lets it re-register; ACTIVE puts it back; unknown instances are
// failures and a status other than ACTIVE or DRAINING is refused.
func TestUpdateContainerInstancesState(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	ctx := context.Background()
	inst := p.setup(t, "prod")
	p.connect(t, "prod", inst, false)
	def := p.registerTaskDef(t, "web", 64, 0)

	out, err := p.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Cluster: aws.String("prod"), ContainerInstances: []string{inst, "0123456789abcdef0123456789abcdef"},
		Status: types.ContainerInstanceStatusDraining})
	if err != nil {
		t.Fatalf("UpdateContainerInstancesState: %v", err)
	}
	if len(out.ContainerInstances) != 1 || aws.ToString(out.ContainerInstances[0].Status) != "DRAINING" {
		t.Fatalf("instances %+v, want the one instance DRAINING", out.ContainerInstances)
	}
	if len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
		t.Fatalf("failures %+v, want the unknown instance MISSING", failures(out.Failures))
	}
	// As in ECS, a cluster whose only instance drains has nowhere to place a task.
	if run, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def)}); err == nil {
		t.Fatalf("RunTask on a cluster with only a DRAINING instance placed %d tasks", len(run.Tasks))
	}
	if !p.agentConnected(inst) {
		t.Error("draining dropped the agent's session")
	}
	listed, err := p.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("prod"), Status: types.ContainerInstanceStatusDraining})
	if err != nil || len(listed.ContainerInstanceArns) != 1 {
		t.Fatalf("ListContainerInstances DRAINING = %v, %v", listed, err)
	}
	// The agent restarts and re-registers with its ARN: it stays DRAINING.
	rereg, err := p.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("prod"),
		ContainerInstanceArn: aws.String(inst), TotalResources: testResources()})
	if err != nil {
		t.Fatalf("re-registering a DRAINING instance: %v", err)
	}
	if got := aws.ToString(rereg.ContainerInstance.Status); got != "DRAINING" {
		t.Errorf("re-registered instance is %s, want DRAINING", got)
	}

	if _, err := p.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Cluster: aws.String("prod"), ContainerInstances: []string{inst}, Status: types.ContainerInstanceStatusActive}); err != nil {
		t.Fatal(err)
	}
	p.runTask(t, "prod", def)

	if code, _ := p.callErr(t, "UpdateContainerInstancesState", `{"cluster":"prod","containerInstances":["`+inst+`"],"status":"REGISTERING"}`); code != "InvalidParameterException" {
		t.Errorf("status REGISTERING: %s, want InvalidParameterException", code)
	}
	if code, _ := p.callErr(t, "UpdateContainerInstancesState", `{"cluster":"prod","containerInstances":[],"status":"DRAINING"}`); code != "InvalidParameterException" {
		t.Errorf("no instances: %s, want InvalidParameterException", code)
	}
}
