package localplane

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func TestTaskStateFollowsReports(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	p.connect(t, "prod", instance, false)
	def := p.registerTaskDef(t, "web", 512, 8080)

	submit := func(in *ecs.SubmitTaskStateChangeInput) {
		t.Helper()
		in.Cluster = aws.String("prod")
		if _, err := p.ecs.SubmitTaskStateChange(ctx, in); err != nil {
			t.Fatalf("SubmitTaskStateChange: %v", err)
		}
	}

	// A task that runs, then exits on its own: ECS blames the essential container.
	task := p.runTask(t, "prod", def)
	submit(&ecs.SubmitTaskStateChangeInput{Task: aws.String(task), Status: aws.String("RUNNING"),
		PullStartedAt: aws.Time(p.now()), PullStoppedAt: aws.Time(p.now()),
		Containers: []types.ContainerStateChange{{ContainerName: aws.String("app"), Status: aws.String("RUNNING"),
			RuntimeId: aws.String("abc123"), ImageDigest: aws.String("sha256:feed"),
			NetworkBindings: []types.NetworkBinding{{BindIP: aws.String("0.0.0.0"), ContainerPort: aws.Int32(80), HostPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp}}}}})
	got := p.describeTask(t, task)
	c := got.Containers[0]
	if aws.ToString(got.LastStatus) != "RUNNING" || got.StartedAt == nil || got.PullStartedAt == nil ||
		aws.ToString(c.LastStatus) != "RUNNING" || aws.ToString(c.RuntimeId) != "abc123" ||
		aws.ToString(c.ImageDigest) != "sha256:feed" || len(c.NetworkBindings) != 1 || aws.ToInt32(c.NetworkBindings[0].HostPort) != 8080 {
		t.Fatalf("after RUNNING: %+v", got)
	}
	// A late PENDING never takes it back.
	submit(&ecs.SubmitTaskStateChangeInput{Task: aws.String(task), Status: aws.String("PENDING")})
	if s := aws.ToString(p.describeTask(t, task).LastStatus); s != "RUNNING" {
		t.Fatalf("after a late PENDING: %s", s)
	}
	submit(&ecs.SubmitTaskStateChangeInput{Task: aws.String(task), Status: aws.String("STOPPED"),
		ExecutionStoppedAt: aws.Time(p.now()),
		Containers: []types.ContainerStateChange{{ContainerName: aws.String("app"), Status: aws.String("STOPPED"),
			ExitCode: aws.Int32(3), Reason: aws.String("exited")}}})
	got = p.describeTask(t, task)
	if aws.ToString(got.LastStatus) != "STOPPED" || aws.ToString(got.DesiredStatus) != "STOPPED" ||
		got.StopCode != types.TaskStopCodeEssentialContainerExited ||
		aws.ToString(got.StoppedReason) != "Essential container in task exited" || got.StoppedAt == nil ||
		aws.ToInt32(got.Containers[0].ExitCode) != 3 || aws.ToString(got.Containers[0].Reason) != "exited" {
		t.Fatalf("after STOPPED: %+v", got)
	}

	// Its port is free again; a user stop gets UserInitiated and the default reason.
	task2 := p.runTask(t, "prod", def)
	st, err := p.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("prod"), Task: aws.String(task2)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(st.Task.DesiredStatus) != "STOPPED" || st.Task.StopCode != types.TaskStopCodeUserInitiated ||
		aws.ToString(st.Task.StoppedReason) != "Task stopped by user" || st.Task.StoppingAt == nil {
		t.Fatalf("StopTask = %+v", st.Task)
	}
	l, err := p.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), DesiredStatus: types.DesiredStatusStopped})
	if err != nil || len(l.TaskArns) != 2 {
		t.Fatalf("ListTasks(STOPPED) = %v %v", l, err)
	}
	submit(&ecs.SubmitTaskStateChangeInput{Task: aws.String(task2), Status: aws.String("STOPPED"), Reason: aws.String("ignored")})
	got = p.describeTask(t, task2)
	if got.StopCode != types.TaskStopCodeUserInitiated || aws.ToString(got.StoppedReason) != "Task stopped by user" {
		t.Fatalf("user-stopped task after the agent's report: %s %q", got.StopCode, aws.ToString(got.StoppedReason))
	}

	// A task that never ran failed to start, with the reported reason.
	task3 := p.runTask(t, "prod", def)
	submit(&ecs.SubmitTaskStateChangeInput{Task: aws.String(task3), Status: aws.String("STOPPED"),
		Containers: []types.ContainerStateChange{{ContainerName: aws.String("app"), Status: aws.String("STOPPED"),
			Reason: aws.String("CannotPullContainerError: no such image")}}})
	got = p.describeTask(t, task3)
	if got.StopCode != types.TaskStopCodeTaskFailedToStart || aws.ToString(got.StoppedReason) != "CannotPullContainerError: no such image" {
		t.Fatalf("failed start: %s %q", got.StopCode, aws.ToString(got.StoppedReason))
	}

	// Attachment and container reports are recorded too.
	if _, err := p.ecs.SubmitAttachmentStateChanges(ctx, &ecs.SubmitAttachmentStateChangesInput{Cluster: aws.String("prod"),
		Attachments: []types.AttachmentStateChange{{AttachmentArn: aws.String("arn:aws:ecs:local:000000000000:attachment/x"), Status: aws.String("ATTACHED")}}}); err != nil {
		t.Fatal(err)
	}
	changes := p.StateChanges()
	if len(changes) != 6 || changes[0].Operation != OpSubmitTaskStateChange || changes[0].Task.Containers[0].RuntimeID != "abc123" ||
		changes[0].Task.PullStartedAt.IsZero() || changes[5].Operation != OpSubmitAttachmentStateChanges ||
		changes[5].Attachments.Attachments[0].Status != "ATTACHED" {
		t.Fatalf("StateChanges = %+v", changes)
	}
}
