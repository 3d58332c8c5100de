package localplane

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// brokenDir replaces dir with a regular file, so that writing the state file in it fails
// (ENOTDIR, even for root), and returns the function that puts the directory back.
func brokenDir(t *testing.T, dir string) (repair func()) {
	t.Helper()
	away := dir + ".away"
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(away, dir); err != nil {
			t.Fatal(err)
		}
	}
}

// taskARNs lists the cluster's tasks of the desired status.
func (p *plane) taskARNs(t *testing.T, cluster, desired string) []string {
	t.Helper()
	out, err := p.ecs.ListTasks(context.Background(), &ecs.ListTasksInput{Cluster: aws.String(cluster), DesiredStatus: types.DesiredStatus(desired)})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	sort.Strings(out.TaskArns)
	return out.TaskArns
}

func (p *plane) seqNum(instance string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.Instances[instance].SeqNum
}

func arnsOf(tasks []types.Task) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, aws.ToString(t.TaskArn))
	}
	sort.Strings(out)
	return out
}

func isServerException(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ServerException"
}

// TestRunTaskNotSavedPlacesNothing: a RunTask whose state cannot be written places nothing
// and sends nothing to the agent; the same call retried with its clientToken once the
// disk is back places exactly count tasks, and every later retry answers with those
// same tasks, across a restart too.
func TestRunTaskNotSavedPlacesNothing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "state.json")
	opts := Options{StatePath: path, HeartbeatInterval: time.Hour, ManifestInterval: time.Hour, ResendAfter: time.Hour}
	p := newPlane(t, opts)
	instance := p.setup(t, "prod")
	def := p.registerTaskDef(t, "web", 64, 0)
	a := p.connect(t, "prod", instance, false)
	seq := p.seqNum(instance)
	in := &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def), Count: aws.Int32(3),
		ClientToken: aws.String("cli-retry-token")}

	repair := brokenDir(t, dir)
	if _, err := p.ecs.RunTask(ctx, in); !isServerException(err) {
		t.Fatalf("RunTask with an unwritable state: %v, want ServerException", err)
	}
	if _, err := p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("other"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("c"), Image: aws.String("busybox"), Memory: aws.Int32(8)}}}); !isServerException(err) {
		t.Fatalf("RegisterTaskDefinition with an unwritable state: %v, want ServerException", err)
	}
	if got := p.taskARNs(t, "prod", "RUNNING"); len(got) != 0 {
		t.Fatalf("tasks after the failed RunTask: %v", got)
	}
	if _, err := p.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("other")}); err == nil {
		t.Fatal("the task definition whose registration failed exists")
	}
	p.view(func(st *state) {
		if len(st.Tasks) != 0 || len(st.RunTokens) != 0 || st.Instances[instance].SeqNum != seq {
			t.Errorf("after the failed RunTask: %d tasks, %d tokens, seqNum %d (was %d)",
				len(st.Tasks), len(st.RunTokens), st.Instances[instance].SeqNum, seq)
		}
	})
	repair()

	out, err := p.ecs.RunTask(ctx, in)
	if err != nil || len(out.Tasks) != 3 {
		t.Fatalf("RunTask retried with its token: %v, %d tasks", err, len(out.Tasks))
	}
	placed := arnsOf(out.Tasks)
	// The first payload the agent ever gets carries exactly these tasks, and is the first
	// number of the sequence after the failure: nothing was sent meanwhile.
	m := a.payload()
	var sent []string
	for _, pt := range m.Tasks {
		sent = append(sent, pt.Arn)
	}
	sort.Strings(sent)
	if !slices.Equal(sent, placed) || m.SeqNum != seq+1 {
		t.Fatalf("first payload: seqNum %d (want %d), tasks %v (want %v)", m.SeqNum, seq+1, sent, placed)
	}

	// Retried again (the AWS CLI retries a call whose answer it did not get): the same tasks.
	again, err := p.ecs.RunTask(ctx, in)
	if err != nil || !slices.Equal(arnsOf(again.Tasks), placed) {
		t.Fatalf("RunTask repeated with its token: %v, %v, want %v", err, arnsOf(again.Tasks), placed)
	}
	if got := p.taskARNs(t, "prod", "RUNNING"); !slices.Equal(got, placed) {
		t.Fatalf("tasks %v, want exactly %v", got, placed)
	}
	// The token with other parameters: ECS's ConflictException, naming the tasks.
	other := *in
	other.Count = aws.Int32(2)
	_, err = p.ecs.RunTask(ctx, &other)
	var ce *types.ConflictException
	if !errors.As(err, &ce) || !slices.Equal(slices.Sorted(slices.Values(ce.ResourceIds)), placed) {
		t.Fatalf("RunTask reusing the token with another count: %v, want ConflictException naming %v", err, placed)
	}

	// A StopTask that cannot be saved changes nothing and sends nothing.
	repair = brokenDir(t, dir)
	if _, err := p.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("prod"), Task: aws.String(placed[0])}); !isServerException(err) {
		t.Fatalf("StopTask with an unwritable state: %v, want ServerException", err)
	}
	if got := p.describeTask(t, placed[0]); aws.ToString(got.DesiredStatus) != "RUNNING" {
		t.Fatalf("task after the failed StopTask: desired %s", aws.ToString(got.DesiredStatus))
	}
	repair()
	if _, err := p.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("prod"), Task: aws.String(placed[0])}); err != nil {
		t.Fatal(err)
	}
	// The tasks were never acknowledged: this payload resends them with the stop.
	stop := a.payload()
	if stop.SeqNum != seq+2 {
		t.Fatalf("the stop payload has seqNum %d, want %d: a payload went out while the state could not be saved", stop.SeqNum, seq+2)
	}

	// Remembered across a restart.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.http.Close()
	p2 := newPlane(t, opts)
	after, err := p2.ecs.RunTask(ctx, in)
	if err != nil || !slices.Equal(arnsOf(after.Tasks), placed) {
		t.Fatalf("RunTask with the token after a restart: %v, %v, want %v", err, arnsOf(after.Tasks), placed)
	}
}

// TestRunTaskSDKRetryAfterFailedSave is the case: the SDK fills in a clientToken
// and, when the first attempt fails with a 500 because the state could not be written,
// retries with the same token. count tasks are placed, not more.
func TestRunTaskSDKRetryAfterFailedSave(t *testing.T) {
	ctx := context.Background()
	p := newPlane(t, Options{StatePath: filepath.Join(t.TempDir(), "state.json"), ManifestInterval: time.Hour})
	instance := p.setup(t, "prod")
	def := p.registerTaskDef(t, "web", 64, 0)
	p.connect(t, "prod", instance, false)

	var failures, writes atomic.Int32
	failures.Store(1)
	p.mu.Lock()
	p.writeState = func(path string, data []byte) error {
		writes.Add(1)
		if failures.Add(-1) >= 0 {
			return syscall.EIO
		}
		return writeFileAtomic(path, data)
	}
	p.mu.Unlock()
	retrying := ecs.New(ecs.Options{
		Region: DefaultRegion, BaseEndpoint: aws.String(p.http.URL), Credentials: staticCreds(testKey, testSecret),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 5
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	out, err := retrying.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def), Count: aws.Int32(3)})
	if err != nil || len(out.Tasks) != 3 {
		t.Fatalf("RunTask: %v, %d tasks", err, len(out.Tasks))
	}
	if failures.Load() > 0 || writes.Load() < 2 {
		t.Fatalf("%d writes, %d injected failures left: the failure and the retry did not both happen", writes.Load(), failures.Load())
	}
	if got := p.taskARNs(t, "prod", "RUNNING"); len(got) != 3 {
		t.Fatalf("%d tasks placed, want 3: %v", len(got), got)
	}
	p.view(func(st *state) {
		if len(st.RunTokens) != 1 {
			t.Errorf("%d tokens recorded, want the SDK's one", len(st.RunTokens))
		}
		for k := range st.RunTokens {
			if !strings.HasPrefix(k, "prod/") || len(k) <= len("prod/") {
				t.Errorf("token key %q", k)
			}
		}
	})
}

// TestRunTaskLimits checks ECS's documented limits and their messages.
func TestRunTaskLimits(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	p.connect(t, "prod", instance, false)
	def := p.registerTaskDef(t, "web", 8, 0)
	for _, tc := range []struct {
		name string
		in   ecs.RunTaskInput
		want string
	}{
		{"count 11", ecs.RunTaskInput{Count: aws.Int32(11)}, "InvalidParameterException: Task count can not be greater than 10."},
		{"count 0", ecs.RunTaskInput{Count: aws.Int32(0)}, "InvalidParameterException: Task count must be at least 1."},
		{"long token", ecs.RunTaskInput{ClientToken: aws.String(strings.Repeat("t", 65))}, "InvalidParameterException: clientToken"},
		{"token with a space", ecs.RunTaskInput{ClientToken: aws.String("a b")}, "InvalidParameterException: clientToken"},
		{"startedBy", ecs.RunTaskInput{StartedBy: aws.String("me and you")}, "InvalidParameterException: startedBy"},
	} {
		in := tc.in
		in.Cluster, in.TaskDefinition = aws.String("prod"), aws.String(def)
		_, err := p.ecs.RunTask(ctx, &in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	out, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def), Count: aws.Int32(10)})
	if err != nil || len(out.Tasks) != 10 {
		t.Fatalf("RunTask count 10: %v, %d tasks, failures %v", err, len(out.Tasks), failures(out.Failures))
	}

	containers := func(n int, image string) []types.ContainerDefinition {
		var cds []types.ContainerDefinition
		for i := range n {
			cds = append(cds, types.ContainerDefinition{Name: aws.String("c" + string(rune('a'+i))), Image: aws.String(image), Memory: aws.Int32(8)})
		}
		return cds
	}
	if _, err := p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("ten"), ContainerDefinitions: containers(10, "busybox")}); err != nil {
		t.Errorf("10 containers: %v", err)
	}
	_, err = p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("eleven"), ContainerDefinitions: containers(11, "busybox")})
	var ce *types.ClientException
	if !errors.As(err, &ce) || aws.ToString(ce.Message) != "Too many containers." {
		t.Errorf("11 containers: %v, want ClientException: Too many containers.", err)
	}
	// 64 KiB of definition: a long command.
	big := containers(1, "busybox")
	big[0].Command = []string{strings.Repeat("x", 64<<10)}
	_, err = p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("big"), ContainerDefinitions: big})
	if !errors.As(err, &ce) || !strings.HasPrefix(aws.ToString(ce.Message), "Actual length: '") ||
		!strings.HasSuffix(aws.ToString(ce.Message), "'. Max allowed length is '65536' bytes.") {
		t.Errorf("a 64 KiB definition: %v, want ECS's length ClientException", err)
	}
}

// TestLaunchTypes: RunTask records the launch type it was asked for and places EXTERNAL
// tasks only on external (ECS Anywhere) instances and EC2 tasks only on the others;
// DescribeTasks, ListTasks and the payload carry it; StartTask takes the instance's.
func TestLaunchTypes(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	ctx := context.Background()
	ec2 := p.setup(t, "prod")
	def := p.registerTaskDef(t, "web", 8, 0)
	a := p.connect(t, "prod", ec2, false)

	_, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def), LaunchType: types.LaunchTypeExternal})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) || aws.ToString(ipe.Message) != "No Container Instances were found in your cluster." {
		t.Fatalf("EXTERNAL without an external instance: %v", err)
	}
	reg, err := p.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String("prod"), TotalResources: testResources(),
		Attributes: []types.Attribute{{Name: aws.String(attrExternal)}}})
	if err != nil {
		t.Fatal(err)
	}
	external := aws.ToString(reg.ContainerInstance.ContainerInstanceArn)
	b := p.connect(t, "prod", external, false)

	run := func(lt types.LaunchType, count int32) []types.Task {
		t.Helper()
		out, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def), LaunchType: lt, Count: aws.Int32(count)})
		if err != nil || int32(len(out.Tasks)) != count {
			t.Fatalf("RunTask %s: %v, %d tasks, failures %v", lt, err, len(out.Tasks), failures(out.Failures))
		}
		return out.Tasks
	}
	for _, task := range run(types.LaunchTypeExternal, 3) {
		if task.LaunchType != types.LaunchTypeExternal || aws.ToString(task.ContainerInstanceArn) != external {
			t.Errorf("EXTERNAL task: launch type %s on %s", task.LaunchType, aws.ToString(task.ContainerInstanceArn))
		}
	}
	defaulted := run("", 2)
	for _, task := range defaulted {
		if task.LaunchType != types.LaunchTypeEc2 || aws.ToString(task.ContainerInstanceArn) != ec2 {
			t.Errorf("default task: launch type %s on %s", task.LaunchType, aws.ToString(task.ContainerInstanceArn))
		}
	}
	if pt := b.payload().Tasks[0]; pt.LaunchType != "EXTERNAL" {
		t.Errorf("payload to the external instance: launchType %q", pt.LaunchType)
	}
	if pt := a.payload().Tasks[0]; pt.LaunchType != "EC2" {
		t.Errorf("payload to the EC2 instance: launchType %q", pt.LaunchType)
	}
	if got := p.describeTask(t, aws.ToString(defaulted[0].TaskArn)); got.LaunchType != types.LaunchTypeEc2 {
		t.Errorf("DescribeTasks launch type %s", got.LaunchType)
	}
	count := func(lt types.LaunchType) int {
		out, err := p.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), LaunchType: lt})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.TaskArns)
	}
	if e, c, all, f := count(types.LaunchTypeExternal), count(types.LaunchTypeEc2), count(""), count(types.LaunchTypeFargate); e != 3 || c != 2 || all != 5 || f != 0 {
		t.Errorf("ListTasks by launch type: EXTERNAL %d EC2 %d all %d FARGATE %d, want 3 2 5 0", e, c, all, f)
	}
	st, err := p.ecs.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def),
		ContainerInstances: []string{external, ec2}})
	if err != nil || len(st.Tasks) != 2 {
		t.Fatalf("StartTask: %v, %d tasks", err, len(st.Tasks))
	}
	for _, task := range st.Tasks {
		want := types.LaunchTypeEc2
		if aws.ToString(task.ContainerInstanceArn) == external {
			want = types.LaunchTypeExternal
		}
		if task.LaunchType != want {
			t.Errorf("StartTask on %s: launch type %s, want %s", aws.ToString(task.ContainerInstanceArn), task.LaunchType, want)
		}
	}
	// A definition that requires EC2 cannot run as EXTERNAL.
	if _, err := p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("ec2only"),
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityEc2},
		ContainerDefinitions:    []types.ContainerDefinition{{Name: aws.String("c"), Image: aws.String("busybox"), Memory: aws.Int32(8)}}}); err != nil {
		t.Fatal(err)
	}
	_, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String("ec2only"), LaunchType: types.LaunchTypeExternal})
	if !errors.As(err, &ipe) || aws.ToString(ipe.Message) != "Task definition does not support launch_type EXTERNAL." {
		t.Errorf("EC2-only definition as EXTERNAL: %v", err)
	}
}
