package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

// unitAdoptRuntime is the runtime as the Adopter sees it: a list of containers and the
// records kept with them.
type unitAdoptRuntime struct {
	containers []runtime.ContainerState
	records    map[string][]byte
	listErr    error
}

func (r *unitAdoptRuntime) ListContainers(context.Context) ([]runtime.ContainerState, error) {
	return r.containers, r.listErr
}

func (r *unitAdoptRuntime) ContainerRecord(_ context.Context, id string) ([]byte, error) {
	b, ok := r.records[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	return b, nil
}

func (r *unitAdoptRuntime) InspectImage(_ context.Context, ref string) (runtime.ImageInfo, error) {
	return runtime.ImageInfo{Ref: ref, Digest: "sha256:d-" + ref, ID: "sha256:i-" + ref}, nil
}

// unitRuntimeContainer is the runtime container of container cname of the unit task.
func unitRuntimeContainer(task *api.Task, cname string, status runtime.Status) runtime.ContainerState {
	return runtime.ContainerState{
		ID:     api.RuntimeID(task.Spec.ARN, cname),
		Image:  "busybox:latest",
		Status: status,
		Labels: map[string]string{api.LabelTaskName: task.Name, api.LabelTaskARN: task.Spec.ARN, api.LabelContainerName: cname},
		Pid:    42, CreatedAt: testutil.Epoch(), StartedAt: testutil.Epoch().Add(time.Second),
	}
}

type unitAdoption struct {
	st  client.Client
	a   *Adopter
	res AdoptResult
	err error
}

func unitAdopt(t *testing.T, o Options, network runtime.Network, rt *unitAdoptRuntime, objs ...client.Object) unitAdoption {
	t.Helper()
	st := testutil.Store(t, objs...)
	a := NewAdopter(st.DirectClient(), rt, network, o.DataDir, o.Network, o.Adopt, testutil.Clock(), testutil.Logger(t))
	res, err := a.Adopt(context.Background())
	return unitAdoption{st: st.DirectClient(), a: a, res: res, err: err}
}

func (u unitAdoption) task(t *testing.T) *api.Task {
	t.Helper()
	task := &api.Task{}
	if err := u.st.Get(context.Background(), types.NamespacedName{Namespace: api.Namespace, Name: unitTaskName}, task); err != nil {
		t.Fatalf("task: %v", err)
	}
	return task
}

func (u unitAdoption) container(t *testing.T, name string) *api.Container {
	t.Helper()
	c := &api.Container{}
	if err := u.st.Get(context.Background(), types.NamespacedName{Namespace: api.Namespace, Name: api.ContainerName(unitTaskName, name)}, c); err != nil {
		t.Fatalf("container %s: %v", name, err)
	}
	return c
}

func (u unitAdoption) count(t *testing.T) (tasks, containers int) {
	t.Helper()
	var tl api.TaskList
	var cl api.ContainerList
	if err := u.st.List(context.Background(), &tl); err != nil {
		t.Fatal(err)
	}
	if err := u.st.List(context.Background(), &cl); err != nil {
		t.Fatal(err)
	}
	return len(tl.Items), len(cl.Items)
}

func orphanIDs(res AdoptResult) []string {
	var ids []string
	for _, o := range res.Orphans {
		ids = append(ids, o.ID)
	}
	slices.Sort(ids)
	return ids
}

// unitTaskObjects is the unit task with containers app and side as the engine would have
// stored them.
func unitTaskObjects() (*api.Task, *api.Container, *api.Container) {
	task := unitTask("app", "side")
	task.Labels = map[string]string{api.LabelTaskARN: task.Spec.ARN, api.LabelTaskName: task.Name}
	app := unitContainer("app", "", "")
	side := unitContainer("side", "", "", unitNotEssential)
	for _, c := range []*api.Container{app, side} {
		c.Labels = map[string]string{api.LabelTaskARN: task.Spec.ARN, api.LabelContainerName: c.Spec.Name}
	}
	return task, app, side
}

// TestAdoptRebuildsATaskFromItsRecord: after a damaged checkpoint, a running task's objects
// come back from the record kept with its runtime container, and it keeps running.
func TestAdoptRebuildsATaskFromItsRecord(t *testing.T) {
	task, app, side := unitTaskObjects()
	rec, err := encodeAdoptionRecord(task, unitSiblings(app, side))
	if err != nil {
		t.Fatal(err)
	}
	rc := unitRuntimeContainer(task, "app", runtime.StatusRunning)
	u := unitAdopt(t, unitOptions(t), nil, &unitAdoptRuntime{containers: []runtime.ContainerState{rc}, records: map[string][]byte{rc.ID: rec}})
	if u.err != nil || u.res.Adopted != 1 || len(u.res.Orphans) != 0 {
		t.Fatalf("Adopt = %+v, %v; want one task adopted, no orphans", u.res, u.err)
	}
	got := u.task(t)
	if got.Spec.ARN != task.Spec.ARN || got.DesiredStatus() != api.TaskStatusRunning || !strings.Contains(got.Annotations[api.AnnotationAdopted], "rebuilt from the record") {
		t.Errorf("task %+v annotations %v", got.Spec, got.Annotations)
	}
	a := u.container(t, "app")
	if a.Status.KnownStatus != api.ContainerStatusRunning || a.Status.RuntimeID != rc.ID || a.Status.DesiredStatus == api.ContainerStatusStopped ||
		a.Status.ImageDigest != "sha256:d-busybox:latest" || a.Status.StartedAt == nil {
		t.Errorf("app status %+v", a.Status)
	}
	// side was never created: rebuilt from the record with no status, the engine creates it.
	if s := u.container(t, "side"); s.Status.KnownStatus != "" || s.Spec.Essential || s.Status.RuntimeID != "" {
		t.Errorf("side %+v %+v", s.Spec, s.Status)
	}

	// A second pass finds everything owned.
	res, err := u.a.Adopt(context.Background())
	if err != nil || res.Adopted != 0 || len(res.Orphans) != 0 {
		t.Fatalf("second pass %+v, %v; want nothing to do", res, err)
	}
}

// TestAdoptWithoutARecordStopsTheTaskSayingWhy: a task whose record is gone gets objects
// just good enough to stop it and report AgentStateLostError.
func TestAdoptWithoutARecordStopsTheTaskSayingWhy(t *testing.T) {
	task, _, _ := unitTaskObjects()
	task.Spec.ClusterARN = "arn:aws:ecs:us-west-2:123456789012:cluster/prod"
	running := unitRuntimeContainer(task, "app", runtime.StatusRunning)
	running.Labels[api.LabelFamily] = "web"
	running.Labels[api.LabelCluster] = task.Spec.ClusterARN
	oom := unitRuntimeContainer(task, "side", runtime.StatusStopped)
	oom.ExitCode, oom.OOMKilled, oom.FinishedAt = 137, true, testutil.Epoch().Add(time.Minute)
	u := unitAdopt(t, unitOptions(t), nil, &unitAdoptRuntime{
		containers: []runtime.ContainerState{running, oom},
		records:    map[string][]byte{running.ID: nil, oom.ID: []byte("{corrupt")},
	})
	if u.err != nil || u.res.Adopted != 1 {
		t.Fatalf("Adopt = %+v, %v", u.res, u.err)
	}
	got := u.task(t)
	if got.DesiredStatus() != api.TaskStatusStopped || !strings.HasPrefix(got.Status.StoppedReason, ReasonStateLost) {
		t.Errorf("task desired %s reason %q, want STOPPED with %q", got.DesiredStatus(), got.Status.StoppedReason, ReasonStateLost)
	}
	if got.Spec.Family != "web" || got.Spec.ClusterARN != task.Spec.ClusterARN || !slices.Equal(got.Spec.Containers, []string{"app", "side"}) || got.NetworkMode() != "host" {
		t.Errorf("task spec from labels %+v", got.Spec)
	}
	if !strings.Contains(got.Annotations[api.AnnotationAdopted], "could not be rebuilt") {
		t.Errorf("annotation %q", got.Annotations[api.AnnotationAdopted])
	}
	a := u.container(t, "app")
	if a.Status.KnownStatus != api.ContainerStatusRunning || a.Status.DesiredStatus != api.ContainerStatusStopped || !strings.HasPrefix(a.Status.Reason, ReasonStateLost) || !a.Spec.Essential {
		t.Errorf("app %+v", a.Status)
	}
	s := u.container(t, "side")
	if s.Status.KnownStatus != api.ContainerStatusStopped || s.Status.ExitCode == nil || *s.Status.ExitCode != 137 || s.Status.Reason != ReasonOOM ||
		!s.Status.FinishedAt.Time.Equal(oom.FinishedAt) {
		t.Errorf("side %+v, want STOPPED 137 with the OOM reason", s.Status)
	}
}

// TestAdoptSortsRuntimeContainers: what is owned, claimed, an orphan, or not the Adopter's.
func TestAdoptSortsRuntimeContainers(t *testing.T) {
	task, app, side := unitTaskObjects()
	app.Status.RuntimeID = api.RuntimeID(task.Spec.ARN, "app")
	owned := unitRuntimeContainer(task, "app", runtime.StatusRunning)
	duplicate := unitRuntimeContainer(task, "app", runtime.StatusStopped)
	duplicate.ID = "stray-duplicate"
	claimed := unitRuntimeContainer(task, "side", runtime.StatusCreated) // side has not recorded an ID yet
	unlabelled := runtime.ContainerState{ID: "made-by-hand", Status: runtime.StatusStopped}
	legacy := runtime.ContainerState{ID: side.Name, Status: runtime.StatusCreated} // an older agent's old-form ID
	holder := runtime.ContainerState{ID: api.NamespaceHolderID(task.Name), Labels: map[string]string{api.LabelNamespaceHolder: task.Name}}
	u := unitAdopt(t, unitOptions(t), nil, &unitAdoptRuntime{containers: []runtime.ContainerState{owned, duplicate, claimed, unlabelled, legacy, holder}}, task, app, side)
	if u.err != nil || u.res.Adopted != 0 {
		t.Fatalf("Adopt = %+v, %v; want nothing adopted", u.res, u.err)
	}
	if got, want := orphanIDs(u.res), []string{"made-by-hand", "stray-duplicate"}; !slices.Equal(got, want) {
		t.Fatalf("orphans %v, want %v", got, want)
	}
}

// TestAdoptStrayContainerOfAKnownTask: a runtime container labelled with a task whose spec
// does not list it is an orphan, while the task's missing container is rebuilt.
func TestAdoptStrayContainerOfAKnownTask(t *testing.T) {
	task, app, side := unitTaskObjects()
	rec, err := encodeAdoptionRecord(task, unitSiblings(app, side))
	if err != nil {
		t.Fatal(err)
	}
	rcSide := unitRuntimeContainer(task, "side", runtime.StatusRunning)
	stray := unitRuntimeContainer(task, "extra", runtime.StatusStopped)
	// The task and app survive; side's record was quarantined.
	u := unitAdopt(t, unitOptions(t), nil, &unitAdoptRuntime{
		containers: []runtime.ContainerState{rcSide, stray},
		records:    map[string][]byte{rcSide.ID: rec, stray.ID: rec},
	}, task, app)
	if u.err != nil || u.res.Adopted != 1 {
		t.Fatalf("Adopt = %+v, %v", u.res, u.err)
	}
	if got := orphanIDs(u.res); !slices.Equal(got, []string{stray.ID}) {
		t.Fatalf("orphans %v, want the stray", got)
	}
	if s := u.container(t, "side"); s.Status.KnownStatus != api.ContainerStatusRunning || s.Status.RuntimeID != rcSide.ID {
		t.Errorf("side %+v", s.Status)
	}
	if _, n := u.count(t); n != 2 {
		t.Errorf("%d containers, want app and side", n)
	}
}

// TestAdoptRebuildsAMissingTaskForItsContainers: Container objects whose Task record was
// quarantined get their Task back from the record.
func TestAdoptRebuildsAMissingTaskForItsContainers(t *testing.T) {
	task, app, side := unitTaskObjects()
	rec, err := encodeAdoptionRecord(task, unitSiblings(app, side))
	if err != nil {
		t.Fatal(err)
	}
	rc := unitRuntimeContainer(task, "app", runtime.StatusRunning)
	app.Status.RuntimeID = rc.ID
	u := unitAdopt(t, unitOptions(t), nil, &unitAdoptRuntime{containers: []runtime.ContainerState{rc}, records: map[string][]byte{rc.ID: rec}}, app, side)
	if u.err != nil || u.res.Adopted != 1 {
		t.Fatalf("Adopt = %+v, %v", u.res, u.err)
	}
	if got := u.task(t); got.Spec.ARN != task.Spec.ARN || !slices.Equal(got.Spec.Containers, []string{"app", "side"}) {
		t.Errorf("task %+v", got.Spec)
	}
	if tasks, containers := u.count(t); tasks != 1 || containers != 2 {
		t.Errorf("%d tasks %d containers", tasks, containers)
	}
}

// TestAdoptNeverCreatedContainerWithoutARecord: a container of a task that never reached
// the runtime and has nothing to rebuild it from stops at once, so its task stops too.
func TestAdoptNeverCreatedContainerWithoutARecord(t *testing.T) {
	task, _, _ := unitTaskObjects()
	u := unitAdopt(t, unitOptions(t), nil, &unitAdoptRuntime{}, task)
	if u.err != nil || u.res.Adopted != 1 {
		t.Fatalf("Adopt = %+v, %v", u.res, u.err)
	}
	for _, name := range []string{"app", "side"} {
		c := u.container(t, name)
		if c.Status.KnownStatus != api.ContainerStatusStopped || !strings.Contains(c.Status.Reason, "no runtime container of the task is left") {
			t.Errorf("%s %+v", name, c.Status)
		}
	}
	// A stopped task may miss its containers: cleanup deletes them first.
	stopped := task.DeepCopy()
	stopped.Status.KnownStatus = api.TaskStatusStopped
	u = unitAdopt(t, unitOptions(t), nil, &unitAdoptRuntime{}, stopped)
	if u.err != nil || u.res.Adopted != 0 {
		t.Fatalf("stopped task: Adopt = %+v, %v; want nothing", u.res, u.err)
	}
}

// TestAdoptBridgeNetworkComesBack: an adopted bridge container gets its address and host
// ports back from the network layer.
func TestAdoptBridgeNetworkComesBack(t *testing.T) {
	task, app, _ := unitTaskObjects()
	task.Spec.Containers = []string{"app"}
	rec, err := encodeAdoptionRecord(task, unitSiblings(app))
	if err != nil {
		t.Fatal(err)
	}
	rc := unitRuntimeContainer(task, "app", runtime.StatusRunning)
	o := unitOptions(t)
	o.Network.BridgeSubnet = netip.MustParsePrefix("10.200.0.1/16")
	// The network layer still knows the network it set up before the agent restarted.
	net := fake.NewNetwork()
	res, err := net.Setup(context.Background(), runtime.NetworkRequest{ID: app.Name, Mode: runtime.NetworkBridge,
		Ports: []runtime.PortMapping{{ContainerPort: 80, HostPort: 32770, Protocol: "tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	u := unitAdopt(t, o, net, &unitAdoptRuntime{containers: []runtime.ContainerState{rc}, records: map[string][]byte{rc.ID: rec}})
	if u.err != nil {
		t.Fatal(u.err)
	}
	c := u.container(t, "app")
	if n := c.Status.Network; n == nil || n.IPv4Address != res.IPv4.String() || n.IPv4SubnetCIDR != "10.200.0.0/16" || n.NetNSPath != res.NetNSPath {
		t.Fatalf("network %+v", n)
	}
	if b := c.Status.NetworkBindings; len(b) != 1 || b[0].HostPort != 32770 {
		t.Fatalf("bindings %+v", b)
	}
}

func TestAdoptDisabledTreatsUnownedContainersAsOrphans(t *testing.T) {
	task, app, side := unitTaskObjects()
	rec, _ := encodeAdoptionRecord(task, unitSiblings(app, side))
	rc := unitRuntimeContainer(task, "app", runtime.StatusStopped)
	o := unitOptions(t)
	o.Adopt.Disable = true
	u := unitAdopt(t, o, nil, &unitAdoptRuntime{containers: []runtime.ContainerState{rc}, records: map[string][]byte{rc.ID: rec}})
	if u.err != nil || u.res.Adopted != 0 || !slices.Equal(orphanIDs(u.res), []string{rc.ID}) {
		t.Fatalf("Adopt = %+v, %v; want the container as an orphan", u.res, u.err)
	}
	if tasks, containers := u.count(t); tasks+containers != 0 {
		t.Fatalf("objects made with adoption disabled: %d tasks %d containers", tasks, containers)
	}
}

func TestAdoptRuntimeListFailure(t *testing.T) {
	u := unitAdopt(t, unitOptions(t), nil, &unitAdoptRuntime{listErr: fmt.Errorf("dial: %w", runtime.ErrUnavailable)})
	if !errors.Is(u.err, runtime.ErrUnavailable) {
		t.Fatalf("err = %v, want the runtime's", u.err)
	}
}

func TestStateLostReason(t *testing.T) {
	if got := stateLostReason(nil); got != ReasonStateLost {
		t.Errorf("nil: %q", got)
	}
	if got := stateLostReason(context.Canceled); got != ReasonStateLost {
		t.Errorf("cancelled: %q", got)
	}
	if got := stateLostReason(errors.New("bad record")); got != ReasonStateLost+": bad record" {
		t.Errorf("with a cause: %q", got)
	}
	at := testutil.Epoch()
	if got := adoptionNote(metav1.NewTime(at), false, nil); !strings.Contains(got, "could not be rebuilt (unknown)") || !strings.HasPrefix(got, "2026-07-01T12:00:00Z") {
		t.Errorf("note %q", got)
	}
}
