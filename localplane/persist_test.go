package localplane

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/internal/testutil"
)

func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	ctx := context.Background()
	opts := Options{StatePath: path, HeartbeatInterval: time.Hour, ManifestInterval: time.Hour}

	p1 := newPlane(t, opts)
	instance := p1.setup(t, "prod")
	def := p1.registerTaskDef(t, "web", 128, 0)
	a := p1.connect(t, "prod", instance, false)
	task := p1.runTask(t, "prod", def)
	msg := a.payload()
	a.send(&payload.AckRequest{MessageID: msg.MessageID})
	testutil.Eventually(t, "the acknowledgement", func() bool {
		p1.mu.Lock()
		defer p1.mu.Unlock()
		return p1.st.Tasks[task].AckedDesired == "RUNNING"
	})
	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	p1.http.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v, want 0600 (it holds credentials)", fi.Mode().Perm())
	}

	// A new server on the same file knows the instance, the definition and the task, and
	// what the agent acknowledged.
	p2 := newPlane(t, opts)
	out, err := p2.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String("prod"), ContainerInstanceArn: aws.String(instance), TotalResources: testResources()})
	if err != nil || aws.ToString(out.ContainerInstance.ContainerInstanceArn) != instance {
		t.Fatalf("re-registration after restart: %v %v", out, err)
	}
	if got := p2.describeTask(t, task); aws.ToString(got.DesiredStatus) != "RUNNING" || aws.ToString(got.TaskDefinitionArn) != def {
		t.Fatalf("task after restart: %+v", got)
	}
	a = p2.connect(t, "prod", instance, false)
	if _, err := p2.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("prod"), Task: aws.String(task)}); err != nil {
		t.Fatal(err)
	}
	stop := a.payload()
	if stop.Tasks[0].DesiredStatus != "STOPPED" || stop.SeqNum <= msg.SeqNum {
		t.Fatalf("first payload after restart: seq %d (before %d) desired %s", stop.SeqNum, msg.SeqNum, stop.Tasks[0].DesiredStatus)
	}
}

// A state file that cannot be parsed is moved aside with a timestamp and the plane starts
// empty (a crash loop helps nobody); the agent's re-registration is adopted, with a
// sequence above anything the earlier life could have sent. A newer schema is refused.
func TestCorruptStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A stopped clock (signatures are checked against it, so it is the real time).
	stopped := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return stopped }
	p := newPlane(t, Options{StatePath: path, Now: clock})
	aside := path + ".corrupt-" + stopped.Format("20060102T150405Z")
	if b, err := os.ReadFile(aside); err != nil || string(b) != "{not json" {
		t.Fatalf("damaged file not kept at %s: %q, %v", aside, b, err)
	}
	// The cluster of an agent that kept its instance ARN is created again by the agent
	// (RegisterContainerInstance answers "Cluster not found." and it calls CreateCluster).
	if _, err := p.ecs.CreateCluster(context.Background(), &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	instance := "arn:aws:ecs:local:000000000000:container-instance/prod/0123456789abcdef0123456789abcdef"
	if _, err := p.ecs.RegisterContainerInstance(context.Background(), &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String("prod"), ContainerInstanceArn: aws.String(instance), TotalResources: testResources()}); err != nil {
		t.Fatalf("re-registration with a known ARN after the state was lost: %v", err)
	}
	p.view(func(st *state) {
		if got := st.Instances[instance].SeqNum; got != clock().Unix() {
			t.Errorf("adopted instance's sequence starts at %d, want the Unix time %d", got, clock().Unix())
		}
	})
	// The same second again: another name, nothing overwritten.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("\x00\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	newPlane(t, Options{StatePath: path, Now: clock})
	if _, err := os.Stat(aside + "-1"); err != nil {
		t.Errorf("second damaged file: %v", err)
	}

	if err := os.WriteFile(path, []byte(`{"version":99}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Options{StatePath: path}); !errors.Is(err, ErrState) {
		t.Fatalf("New on a newer schema: %v, want ErrState", err)
	}
	if _, err := New(context.Background(), Options{AccountID: "12"}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New with a bad account: %v, want ErrInvalidOptions", err)
	}
}
