package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// ReasonStateLost stops a task whose objects the agent lost (a damaged checkpoint, an
// undecodable record) and could not rebuild from the runtime.
const ReasonStateLost = "AgentStateLostError: the agent lost its record of this task (damaged checkpoint) and cannot rebuild it from containerd"

// adoptRuntime is what the Adopter needs of the runtime.
type adoptRuntime interface {
	ListContainers(ctx context.Context) ([]runtime.ContainerState, error)
	ContainerRecord(ctx context.Context, id string) ([]byte, error)
	InspectImage(ctx context.Context, ref string) (runtime.ImageInfo, error)
}

// Adopter rebuilds the Task and Container objects of runtime containers the store has no
// object for: after a damaged checkpoint was moved aside, or when a record of it was
// quarantined. It maps a runtime container to its objects by its labels (task name, task
// ARN, container name), never by its runtime ID, and rebuilds them from the adoption record
// the create controller kept with it, so the task keeps running and is reported, stopped and
// cleaned up as if nothing had happened. A task it cannot rebuild (no usable record) gets
// objects just good enough to stop it and report why, so no container is ever left without
// an owner. Objects are only ever created, all of a task at once, never overwritten: a
// concurrent write (an ACS payload, the create controller) always wins.
type Adopter struct {
	c            client.Client
	rt           adoptRuntime
	net          runtime.Network
	dataDir      string
	bridgeSubnet string
	disabled     bool
	log          logr.Logger
	clock        clock.PassiveClock

	mu sync.Mutex // one pass at a time
}

// NewAdopter returns an Adopter over the store's direct client c (reads must see every write
// that returned) and the runtime. The network layer, when there is one, gives adopted
// containers their addresses and host port bindings back.
func NewAdopter(c client.Client, rt adoptRuntime, network runtime.Network, dataDir string, n NetworkOptions, o AdoptOptions,
	clk clock.PassiveClock, log logr.Logger) *Adopter {
	return &Adopter{c: c, rt: rt, net: network, dataDir: dataDir, log: log, clock: clk,
		bridgeSubnet: n.bridgeSubnet(), disabled: o.Disable}
}

// AdoptResult is what one pass found.
type AdoptResult struct {
	// Adopted counts the tasks whose objects were rebuilt (or made, to be stopped).
	Adopted int
	// Orphans are runtime containers no object owns and none can be made for: they carry
	// no ECS labels. Everything else is owned, adopted, or kept for the next pass.
	Orphans []runtime.ContainerState
}

// taskGroup is one task that needs objects made.
type taskGroup struct {
	name string
	arn  string
	task *api.Task                 // the Task object, nil when it is missing
	objs map[string]*api.Container // the task's Container objects, by container name
	// unowned are the task's runtime containers no object owns, by container name.
	unowned map[string]runtime.ContainerState
	// sources are all the task's runtime containers: any of them may hold the record.
	sources []runtime.ContainerState
}

// Adopt runs one pass: it reads the store first and the runtime second, so a task cleaned
// up in between is never rebuilt (cleanup removes runtime containers before objects), and a
// container created in between only makes a create fail with AlreadyExists.
func (a *Adopter) Adopt(ctx context.Context) (AdoptResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var res AdoptResult
	var tl api.TaskList
	if err := a.c.List(ctx, &tl, client.InNamespace(api.Namespace)); err != nil {
		return res, fmt.Errorf("adopt: list tasks: %w", err)
	}
	var cl api.ContainerList
	if err := a.c.List(ctx, &cl, client.InNamespace(api.Namespace)); err != nil {
		return res, fmt.Errorf("adopt: list containers: %w", err)
	}
	rcs, err := a.rt.ListContainers(ctx)
	if err != nil {
		return res, fmt.Errorf("adopt: list runtime containers: %w", err)
	}

	tasks := make(map[string]*api.Task, len(tl.Items))
	for i := range tl.Items {
		tasks[tl.Items[i].Name] = &tl.Items[i]
	}
	objs := make(map[string]*api.Container, len(cl.Items))
	byRuntimeID := make(map[string]*api.Container, len(cl.Items))
	for i := range cl.Items {
		c := &cl.Items[i]
		objs[c.Name] = c
		if c.Status.RuntimeID != "" {
			byRuntimeID[c.Status.RuntimeID] = c
		}
	}
	groups := map[string]*taskGroup{}
	group := func(name, arn string) *taskGroup {
		g := groups[name]
		if g == nil {
			g = &taskGroup{name: name, task: tasks[name], objs: map[string]*api.Container{}, unowned: map[string]runtime.ContainerState{}}
			groups[name] = g
		}
		if g.arn == "" {
			g.arn = arn
		}
		return g
	}

	// Runtime containers: owned by the object that names their runtime ID; else mapped to
	// their objects by labels.
	sources := map[string][]runtime.ContainerState{}
	for _, rc := range rcs {
		if rc.Labels[api.LabelNamespaceHolder] != "" {
			continue // a task's namespace holder: TaskNamespaces and its sweep own it
		}
		taskName, arn, cname := rc.Labels[api.LabelTaskName], rc.Labels[api.LabelTaskARN], rc.Labels[api.LabelContainerName]
		labelled := taskName != "" && arn != "" && cname != ""
		if labelled {
			sources[taskName] = append(sources[taskName], rc)
		}
		if byRuntimeID[rc.ID] != nil {
			continue
		}
		if !labelled {
			// Not a task container ecsd can map (created by an old build, or by hand):
			// owned only by an object of the same name that has not recorded an ID yet.
			if c := objs[rc.ID]; c != nil && c.Status.RuntimeID == "" {
				continue
			}
			res.Orphans = append(res.Orphans, rc)
			continue
		}
		if c := objs[api.ContainerName(taskName, cname)]; c != nil {
			if c.Status.RuntimeID == "" {
				continue // its create controller has not recorded the ID yet: it claims it
			}
			// The object has its own runtime container; this one is a stray duplicate.
			res.Orphans = append(res.Orphans, rc)
			continue
		}
		if a.disabled {
			res.Orphans = append(res.Orphans, rc)
			continue
		}
		group(taskName, arn).unowned[cname] = rc
	}
	if a.disabled {
		return res, nil
	}
	// Container objects whose Task is missing (its record was quarantined).
	for _, c := range objs {
		if _, ok := tasks[c.Spec.TaskName]; ok || c.Spec.TaskName == "" {
			continue
		}
		group(c.Spec.TaskName, c.Labels[api.LabelTaskARN]).objs[c.Spec.Name] = c
	}
	// Tasks that still run but miss Container objects (a container record was quarantined).
	// A stopped task may miss them legitimately: cleanup deletes containers before the task.
	for _, t := range tasks {
		if t.Status.KnownStatus == api.TaskStatusStopped || t.DeletionTimestamp != nil {
			continue
		}
		for _, name := range t.Spec.Containers {
			if objs[api.ContainerName(t.Name, name)] == nil {
				group(t.Name, t.Spec.ARN)
				break
			}
		}
	}

	names := slices.Sorted(maps.Keys(groups))
	for _, name := range names {
		g := groups[name]
		g.sources = sources[name]
		for _, rc := range g.sources {
			if g.arn == "" {
				g.arn = rc.Labels[api.LabelTaskARN]
			}
		}
		if g.task != nil {
			for _, cname := range g.task.Spec.Containers {
				if c := objs[api.ContainerName(name, cname)]; c != nil {
					g.objs[cname] = c
				}
			}
		}
		adopted, strays, err := a.adoptTask(ctx, g)
		res.Orphans = append(res.Orphans, strays...)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			a.log.Error(err, "cannot adopt a task's containers yet; retrying at the next relist", "task", g.arn, "name", name)
			continue
		}
		if adopted {
			res.Adopted++
		}
	}
	return res, nil
}

// adoptTask makes the missing objects of one task and reports whether it wrote any. strays
// are runtime containers labelled with the task that its spec does not list: nothing can own
// them, so they are orphans.
func (a *Adopter) adoptTask(ctx context.Context, g *taskGroup) (adopted bool, strays []runtime.ContainerState, err error) {
	rec, recErr := a.findRecord(ctx, g)
	now := metav1.NewTime(a.clock.Now())
	var toCreate []client.Object
	var rebuilt []string

	task := g.task
	if task == nil {
		if rec != nil {
			task = &api.Task{
				ObjectMeta: metav1.ObjectMeta{Name: g.name, Namespace: api.Namespace, Labels: rec.Task.Labels},
				Spec:       rec.Task.Spec,
			}
		} else {
			task = a.lostTask(g, recErr)
		}
		task.Annotations = map[string]string{api.AnnotationAdopted: adoptionNote(now, rec != nil, recErr)}
		if rec != nil && task.NetworkMode() == api.NetworkModeAWSVPC {
			task.Status.Network, _ = a.lookupNetwork(g.name, runtime.NetworkAWSVPC)
		}
		toCreate = append(toCreate, task)
	}

	for _, cname := range task.Spec.Containers {
		if g.objs[cname] != nil {
			continue
		}
		rc, inRuntime := g.unowned[cname]
		rcd := (*recordedContainer)(nil)
		if rec != nil {
			rcd = rec.container(cname)
		}
		var c *api.Container
		if rcd != nil {
			c = &api.Container{
				ObjectMeta: metav1.ObjectMeta{Name: rcd.Name, Namespace: api.Namespace, Labels: rcd.Labels, OwnerReferences: rcd.OwnerReferences},
				Spec:       rcd.Spec,
			}
		} else {
			c = a.lostContainer(g, task, cname, rc)
		}
		c.Annotations = map[string]string{api.AnnotationAdopted: adoptionNote(now, rcd != nil, recErr)}
		switch {
		case inRuntime:
			a.setRuntimeStatus(ctx, c, task, rc, now)
			if rcd == nil {
				// Nothing to rebuild its definition from: stop it (it is essential, so
				// its task stops too) and say why, rather than run it half-known.
				c.Status.DesiredStatus = api.ContainerStatusStopped
				if c.Status.Reason == "" {
					c.Status.Reason = stateLostReason(recErr)
				}
			}
		case rcd == nil:
			// Never created and nothing to create it from: a placeholder that has stopped,
			// so the task stops and says why instead of waiting for it for ever.
			c.Status.KnownStatus = api.ContainerStatusStopped
			c.Status.Reason = stateLostReason(recErr)
			c.Status.History = []api.Transition{{Time: now, From: string(api.ContainerStatusNone), To: string(api.ContainerStatusStopped), Reason: c.Status.Reason}}
		}
		// Else: never created; the engine creates it like any new container.
		toCreate = append(toCreate, c)
		rebuilt = append(rebuilt, fmt.Sprintf("%s=%s", cname, c.Status.KnownStatus.OrNone()))
	}
	for cname, rc := range g.unowned {
		if !slices.Contains(task.Spec.Containers, cname) {
			a.log.Info("runtime container is labelled with a task that does not list it; it is an orphan",
				"task", g.arn, "container", cname, "runtimeID", rc.ID)
			strays = append(strays, rc)
		}
	}
	if len(toCreate) == 0 {
		return false, strays, nil
	}
	err = createAll(ctx, a.c, toCreate)
	if apierrors.IsAlreadyExists(err) {
		// Someone wrote the task meanwhile (an ACS payload, the engine): theirs stands.
		a.log.V(1).Info("task objects appeared while adopting; leaving them", "task", g.arn, "error", err.Error())
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	sort.Strings(rebuilt)
	switch {
	case rec != nil:
		a.log.Info("adopted a task from containerd: rebuilt its objects from the record kept with its containers",
			"task", g.arn, "name", g.name, "taskObject", g.task == nil, "containers", strings.Join(rebuilt, ","))
	default:
		a.log.Error(recErr, "found a task's containers without objects and cannot rebuild them; stopping the task and reporting why",
			"task", g.arn, "name", g.name, "containers", strings.Join(rebuilt, ","))
	}
	return true, strays, nil
}

// createAll creates objs in one atomic write when the client can (the store's direct client
// can), else one by one.
func createAll(ctx context.Context, c client.Client, objs []client.Object) error {
	if ca, ok := c.(interface {
		CreateAll(context.Context, ...client.Object) error
	}); ok {
		return ca.CreateAll(ctx, objs...)
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// findRecord returns the first usable adoption record among the task's runtime containers,
// or nil and why there is none.
func (a *Adopter) findRecord(ctx context.Context, g *taskGroup) (*adoptionRecord, error) {
	if len(g.sources) == 0 {
		return nil, fmt.Errorf("%w: no runtime container of the task is left to read one from", errBadRecord)
	}
	var firstErr error
	for _, rc := range g.sources {
		b, err := a.rt.ContainerRecord(ctx, rc.ID)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		rec, err := decodeAdoptionRecord(b, g.name, rc.Labels[api.LabelTaskARN])
		if err == nil {
			return rec, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// lostTask is a Task made only to stop a task that cannot be rebuilt and report why: its
// identity comes from the containers' labels, its containers are those that exist.
func (a *Adopter) lostTask(g *taskGroup, why error) *api.Task {
	labels := map[string]string{api.LabelTaskName: g.name, api.LabelTaskARN: g.arn}
	var names []string
	from := func(l map[string]string, name string) {
		for _, k := range []string{api.LabelFamily, api.LabelRevision, api.LabelCluster} {
			if v := l[k]; v != "" && labels[k] == "" {
				labels[k] = v
			}
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for name, c := range g.objs {
		from(c.Labels, name)
	}
	for name, rc := range g.unowned {
		from(rc.Labels, name)
	}
	sort.Strings(names)
	t := &api.Task{
		ObjectMeta: metav1.ObjectMeta{Name: g.name, Namespace: api.Namespace, Labels: labels},
		Spec: api.TaskSpec{
			ARN:           g.arn,
			Family:        labels[api.LabelFamily],
			Version:       labels[api.LabelRevision],
			DesiredStatus: api.TaskStatusRunning, // what ECS wanted when it placed it
			Containers:    names,
			// Host mode: nothing to set up for containers that are only being stopped.
			NetworkMode: api.NetworkModeHost,
		},
	}
	if strings.HasPrefix(labels[api.LabelCluster], "arn:") {
		t.Spec.ClusterARN = labels[api.LabelCluster]
	}
	t.Status.DesiredStatus = api.TaskStatusStopped
	t.Status.StoppedReason = truncate(stateLostReason(why), 1024)
	return t
}

// lostContainer is a Container made from its runtime labels only, to be stopped.
func (a *Adopter) lostContainer(g *taskGroup, t *api.Task, cname string, rc runtime.ContainerState) *api.Container {
	labels := map[string]string{api.LabelTaskName: g.name, api.LabelContainerName: cname}
	if g.arn != "" {
		labels[api.LabelTaskARN] = g.arn
	}
	image := rc.Image
	if image == "" {
		image = "unknown"
	}
	return &api.Container{
		ObjectMeta: metav1.ObjectMeta{
			Name: api.ContainerName(g.name, cname), Namespace: api.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: api.GroupVersion.String(), Kind: "Task", Name: t.Name,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: api.ContainerSpec{TaskName: g.name, Name: cname, Image: image, Essential: true},
	}
}

// setRuntimeStatus records what the runtime knows of an adopted container: its ID, times,
// and status. A running container is RUNNING and a stopped one STOPPED with its exit code;
// the report controller then tells ECS both again (a repeated status is harmless, a lost one
// is not). A container created but not started is CREATED, and is started if its task runs.
func (a *Adopter) setRuntimeStatus(ctx context.Context, c *api.Container, t *api.Task, rc runtime.ContainerState, now metav1.Time) {
	st := &c.Status
	st.RuntimeID = rc.ID
	st.LogPath = api.ContainerLogPath(a.dataDir, t.Name, c.Spec.Name)
	if !rc.CreatedAt.IsZero() {
		st.CreatedAt = ptr.To(metav1.NewTime(rc.CreatedAt))
	}
	if !rc.StartedAt.IsZero() {
		st.StartedAt = ptr.To(metav1.NewTime(rc.StartedAt))
	}
	switch rc.Status {
	case runtime.StatusRunning:
		st.KnownStatus = api.ContainerStatusRunning
	case runtime.StatusStopped:
		st.KnownStatus = api.ContainerStatusStopped
		st.ExitCode = ptr.To(rc.ExitCode)
		fin := rc.FinishedAt
		if fin.IsZero() {
			fin = now.Time
		}
		st.FinishedAt = ptr.To(metav1.NewTime(fin))
		if rc.OOMKilled {
			st.Reason = ReasonOOM
		}
	default:
		st.KnownStatus = api.ContainerStatusCreated
	}
	if ref := rc.Image; ref != "" {
		if info, err := a.rt.InspectImage(ctx, ref); err == nil {
			st.ImageDigest, st.ImageID = info.Digest, info.ID
		}
	}
	if t.NetworkMode() == api.NetworkModeBridge {
		// A bridge network's ID is the container's object name (see ensureBridge).
		if n, bs := a.lookupNetwork(c.Name, runtime.NetworkBridge); n != nil {
			st.Network, st.NetworkBindings = n, bindings(bs)
		}
	}
	st.History = []api.Transition{{Time: now, From: string(api.ContainerStatusNone), To: string(st.KnownStatus),
		Reason: "adopted from containerd: the agent had no record of it"}}
}

// lookupNetwork returns the recorded network of id and its host port bindings, or nil.
func (a *Adopter) lookupNetwork(id, mode string) (*api.NetworkStatus, []runtime.PortBinding) {
	if a.net == nil {
		return nil, nil
	}
	res, ok, err := a.net.Lookup(id)
	if err != nil {
		a.log.Error(err, "cannot read the network of an adopted container", "id", id)
		return nil, nil
	}
	if !ok {
		return nil, nil
	}
	subnet := ""
	if mode == runtime.NetworkBridge {
		subnet = a.bridgeSubnet
	}
	return networkStatus(mode, id, res, subnet), res.Bindings
}

// adoptionNote is the value of the adopted annotation: when, and from what.
func adoptionNote(at metav1.Time, fromRecord bool, why error) string {
	if fromRecord {
		return at.UTC().Format(time.RFC3339) + ": rebuilt from the record kept with its runtime containers"
	}
	msg := "unknown"
	if why != nil {
		msg = why.Error()
	}
	return at.UTC().Format(time.RFC3339) + ": could not be rebuilt (" + msg + "); stopped"
}

func stateLostReason(why error) string {
	if why == nil || errors.Is(why, context.Canceled) {
		return ReasonStateLost
	}
	return ReasonStateLost + ": " + why.Error()
}
