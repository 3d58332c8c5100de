package fake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/runtime"
)

// Method names for FailNext, SetHook, SetLatency and Calls: the runtime.Runtime method names.
const (
	MethodPullImage        = "PullImage"
	MethodInspectImage     = "InspectImage"
	MethodRemoveImage      = "RemoveImage"
	MethodCreateContainer  = "CreateContainer"
	MethodStartContainer   = "StartContainer"
	MethodSignal           = "Signal"
	MethodInspectContainer = "InspectContainer"
	MethodListContainers   = "ListContainers"
	MethodContainerRecord  = "ContainerRecord"
	MethodRemoveContainer  = "RemoveContainer"
	MethodExec             = "Exec"
	MethodExecStream       = "ExecStream"
	MethodEvents           = "Events"
	MethodStats            = "Stats"

	MethodListImages              = "ListImages"
	MethodImageFilesystems        = "ImageFilesystems"
	MethodListUnmanagedContainers = "ListUnmanagedContainers"
)

// eventBuffer is how many events a subscriber may fall behind before its stream breaks.
const eventBuffer = 1024

// ErrEventOverflow breaks the stream of a subscriber that fell eventBuffer events behind.
var ErrEventOverflow = errors.New("fake runtime: event subscriber fell behind")

// Process is what a container's process does once started. The zero value runs until it is
// signalled and exits with 128+signal.
type Process struct {
	// Exit, when set, makes the process exit by itself with this code, ExitAfter after it
	// started (on the runtime's clock; zero exits at once).
	Exit      *int32
	ExitAfter time.Duration
	// OOM makes the exit by itself an OOM kill: exit code 137 and OOMKilled, with an oom
	// event before the exit event.
	OOM bool
	// IgnoreTERM makes SIGTERM do nothing: only SIGKILL ends the process.
	IgnoreTERM bool
	// TermExitCode, when set, is the exit code on SIGTERM instead of 143 (a service that
	// traps SIGTERM and exits cleanly has 0).
	TermExitCode *int32
	// ExecError, when set, makes CreateContainer refuse the container with a
	// *runtime.ExecError carrying it, as a runtime does for a process the kernel would never
	// execute.
	ExecError string
	// StartError, when set, makes the process fail to execute at start: the start succeeds,
	// the container stops at once with exit code 127 and InspectContainer reports StartError.
	StartError string
}

// Code returns a pointer to c, for Process.Exit and Process.TermExitCode.
func Code(c int32) *int32 { return &c }

// ExecResult is what one Exec returns.
type ExecResult struct {
	ExitCode int
	Output   string
	// Err, when set, is returned instead of a result (the command could not be run).
	Err error
	// EchoStdin makes ExecStream copy its input to its output (after Output), as cat does.
	EchoStdin bool
}

// Hook is called at the start of every call of a method with the call. A non-nil error fails
// the call.
type Hook func(ctx context.Context, call Call) error

// Call is one recorded call.
type Call struct {
	Method string
	// Subject is the container ID or image reference; "" for ListContainers and Events.
	Subject string
	// At is when the call was made, on the runtime's clock.
	At time.Time
	// Signal is Signal's signal; Cmd is Exec's command.
	Signal syscall.Signal
	Cmd    []string
}

type image struct {
	info runtime.ImageInfo
	// auth, when set, is the only credential the registry accepts for the image.
	auth *runtime.Auth
}

type container struct {
	cfg   runtime.ContainerConfig
	state runtime.ContainerState
	proc  Process
	// run counts starts, so that a scripted exit timer of an earlier run does nothing.
	run   int
	timer clock.Timer
	stats *runtime.Stats
}

type subscriber struct {
	events chan runtime.Event
	errs   chan error
	// closed and failed are guarded by Runtime.mu.
	closed, failed bool
}

type execKey struct{ target, cmd string }

// Runtime is the in-memory runtime. Create it with New.
type Runtime struct {
	clock clock.WithDelayedExecution

	mu       sync.Mutex
	registry map[string]image
	local    map[string]runtime.ImageInfo
	// localAt is when each local image name arrived (ImageRecord.CreatedAt).
	localAt map[string]time.Time
	// unmanaged are containers another client made in the namespace.
	unmanaged map[string]runtime.ContainerState
	// imageFS, when set, models the file system images live on (SetImageFilesystem).
	imageFS    *imageFS
	pulls      map[string]int
	containers map[string]*container
	imageProcs map[string]Process
	ctrProcs   map[string]Process
	execs      map[execKey]ExecResult
	faults     map[string][]error
	hooks      map[string]Hook
	latency    map[string]time.Duration
	calls      []Call
	subs       map[*subscriber]struct{}
	subscribed int
	nextPid    uint32
}

// New returns an empty runtime on clk (a real clock when nil).
func New(clk clock.WithDelayedExecution) *Runtime {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Runtime{
		clock:      clk,
		registry:   map[string]image{},
		local:      map[string]runtime.ImageInfo{},
		localAt:    map[string]time.Time{},
		unmanaged:  map[string]runtime.ContainerState{},
		pulls:      map[string]int{},
		containers: map[string]*container{},
		imageProcs: map[string]Process{},
		ctrProcs:   map[string]Process{},
		execs:      map[execKey]ExecResult{},
		faults:     map[string][]error{},
		hooks:      map[string]Hook{},
		latency:    map[string]time.Duration{},
		subs:       map[*subscriber]struct{}{},
		nextPid:    1000,
	}
}

var _ runtime.Runtime = (*Runtime)(nil)

// ---- scripting -------------------------------------------------------------------------

// AddImage puts an image in the registry under info.Ref. auth, when non-nil, is the one
// credential the registry accepts for it; other or missing credentials get ErrUnauthorized.
func (r *Runtime) AddImage(info runtime.ImageInfo, auth *runtime.Auth) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.registry[info.Ref] = image{info: info, auth: auth}
}

// RemoveRegistryImage takes ref out of the registry; a local copy stays.
func (r *Runtime) RemoveRegistryImage(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.registry, ref)
}

// AddLocalImage puts an image in the local image store, as if pulled earlier (now, on the
// runtime's clock).
func (r *Runtime) AddLocalImage(info runtime.ImageInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.storeLocal(info.Ref, info)
}

// storeLocal records a local image name; r.mu is held.
func (r *Runtime) storeLocal(ref string, info runtime.ImageInfo) {
	if cur, ok := r.local[ref]; !ok || cur.Digest != info.Digest {
		r.localAt[ref] = r.clock.Now()
	}
	r.local[ref] = info
}

// LocalImages returns the local image names and the digest each points at.
func (r *Runtime) LocalImages() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.local))
	for ref, info := range r.local {
		out[ref] = info.Digest
	}
	return out
}

// AddUnmanagedContainer puts a container made by another client (ctr, a script) in the
// namespace; ListUnmanagedContainers lists it and RemoveContainer removes it.
func (r *Runtime) AddUnmanagedContainer(st runtime.ContainerState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st.Labels = maps.Clone(st.Labels)
	r.unmanaged[st.ID] = st
}

// imageFS models the file system images are stored on: a fixed capacity, bytes used by
// other things, and the size of every distinct local image (by digest).
type imageFS struct {
	path           string
	capacity, base uint64
}

// SetImageFilesystem makes ImageFilesystems report one file system at path of capacity
// bytes, of which base are used by something else and the rest by the local images: each
// distinct digest counts its ImageInfo.Size once, so pulls fill it and removals free it.
func (r *Runtime) SetImageFilesystem(path string, capacity, base uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.imageFS = &imageFS{path: path, capacity: capacity, base: base}
}

// ScriptImage sets what the processes of containers created from ref do.
func (r *Runtime) ScriptImage(ref string, p Process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.imageProcs[ref] = p
}

// ScriptContainer sets what the process of the container id does; it wins over ScriptImage.
// It applies from the container's next create or start.
func (r *Runtime) ScriptContainer(id string, p Process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctrProcs[id] = p
	if c, ok := r.containers[id]; ok {
		c.proc = p
	}
}

// ScriptExec sets what Exec of cmd in the container id returns; a nil cmd matches any
// command. It can be changed at any time (a health check that starts failing).
func (r *Runtime) ScriptExec(id string, cmd []string, res ExecResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.execs[execKey{"id:" + id, cmdKey(cmd)}] = res
}

// ScriptImageExec is ScriptExec for every container of image ref; ScriptExec wins.
func (r *Runtime) ScriptImageExec(ref string, cmd []string, res ExecResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.execs[execKey{"image:" + ref, cmdKey(cmd)}] = res
}

func cmdKey(cmd []string) string {
	if cmd == nil {
		return "*"
	}
	return "=" + strings.Join(cmd, "\x00")
}

// SetStats sets what Stats returns for the container id (Time is filled in).
func (r *Runtime) SetStats(id string, s runtime.Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		c.stats = &s
	}
}

// FailNext makes the next len(errs) calls of method fail with errs, in order, before they do
// anything.
func (r *Runtime) FailNext(method string, errs ...error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults[method] = append(r.faults[method], errs...)
}

// SetHook calls h at the start of every call of method (nil removes it). A hook may block,
// fail the call, or change the fake (it is called without the fake's lock).
func (r *Runtime) SetHook(method string, h Hook) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h == nil {
		delete(r.hooks, method)
		return
	}
	r.hooks[method] = h
}

// SetLatency delays every call of method by d of real time (see the package doc), or until
// the call's context ends, which fails the call with the context's error.
func (r *Runtime) SetLatency(method string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latency[method] = d
}

// BreakEvents fails every open event subscription with err and ends it.
func (r *Runtime) BreakEvents(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		r.endSubscriber(s, err)
	}
}

// Vanish deletes the container id behind the agent's back, with no event: what an agent
// finds after containerd lost its state.
func (r *Runtime) Vanish(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		stopTimer(c)
		delete(r.containers, id)
	}
}

// Exit makes the running container id exit now with code, as if its process ended by
// itself. A container that is not running is left alone.
func (r *Runtime) Exit(id string, code int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok && c.state.Status == runtime.StatusRunning {
		r.exit(c, code, false)
	}
}

// ---- inspection for tests --------------------------------------------------------------

// Pulls is how many times PullImage was called for ref (failed calls included).
func (r *Runtime) Pulls(ref string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pulls[ref]
}

// Calls returns the calls made so far, of method only unless it is "".
func (r *Runtime) Calls(method string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, c := range r.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Subscriptions is how many times Events was called successfully.
func (r *Runtime) Subscriptions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.subscribed
}

// State returns the container's state without recording a call or applying faults: for
// assertions, and for hooks that look at other containers.
func (r *Runtime) State(id string) (runtime.ContainerState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.ContainerState{}, false
	}
	return snapshot(c), true
}

// States returns every container's state, by ID, without recording a call.
func (r *Runtime) States() map[string]runtime.ContainerState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]runtime.ContainerState, len(r.containers))
	for id, c := range r.containers {
		out[id] = snapshot(c)
	}
	return out
}

// Config returns the configuration the container id was created with.
func (r *Runtime) Config(id string) (runtime.ContainerConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.ContainerConfig{}, false
	}
	return c.cfg, true
}

// ---- runtime.Runtime -------------------------------------------------------------------

// enter records the call, applies its latency, hook and queued fault. It returns with the
// lock not held.
func (r *Runtime) enter(ctx context.Context, method, subject string) error {
	return r.enterCall(ctx, Call{Method: method, Subject: subject})
}

func (r *Runtime) enterCall(ctx context.Context, call Call) error {
	method, subject := call.Method, call.Subject
	r.mu.Lock()
	call.At = r.clock.Now()
	r.calls = append(r.calls, call)
	if method == MethodPullImage {
		r.pulls[subject]++
	}
	d := r.latency[method]
	h := r.hooks[method]
	var fault error
	if q := r.faults[method]; len(q) > 0 {
		fault, r.faults[method] = q[0], q[1:]
	}
	r.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("fake %s %s: %w", method, subject, ctx.Err())
		}
	}
	if h != nil {
		if err := h(ctx, call); err != nil {
			return err
		}
	}
	if fault != nil {
		return fault
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake %s %s: %w", method, subject, err)
	}
	return nil
}

func notFound(what, id string) error {
	return fmt.Errorf("fake: %s %s: %w", what, id, runtime.ErrNotFound)
}

// PullImage copies ref from the registry into the local store.
func (r *Runtime) PullImage(ctx context.Context, ref string, auth *runtime.Auth, _ ...runtime.PullOption) (runtime.ImageInfo, error) {
	if err := r.enter(ctx, MethodPullImage, ref); err != nil {
		return runtime.ImageInfo{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	im, ok := r.registry[ref]
	if !ok {
		return runtime.ImageInfo{}, fmt.Errorf("fake: pull %s: manifest unknown: %w", ref, runtime.ErrNotFound)
	}
	if im.auth != nil && (auth == nil || *auth != *im.auth) {
		return runtime.ImageInfo{}, fmt.Errorf("fake: pull %s: %w", ref, runtime.ErrUnauthorized)
	}
	r.storeLocal(ref, im.info)
	return im.info, nil
}

// InspectImage returns the local image ref.
func (r *Runtime) InspectImage(ctx context.Context, ref string) (runtime.ImageInfo, error) {
	if err := r.enter(ctx, MethodInspectImage, ref); err != nil {
		return runtime.ImageInfo{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	info, ok := r.local[ref]
	if !ok {
		return runtime.ImageInfo{}, notFound("image", ref)
	}
	return info, nil
}

// RemoveImage deletes the local image ref (with IfDigest, only while it points at that
// digest); absent is success.
func (r *Runtime) RemoveImage(ctx context.Context, ref string, opts ...runtime.RemoveImageOption) error {
	if err := r.enter(ctx, MethodRemoveImage, ref); err != nil {
		return err
	}
	var o runtime.RemoveImageOptions
	for _, opt := range opts {
		opt(&o)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if info, ok := r.local[ref]; ok && (o.Digest == "" || info.Digest == o.Digest) {
		delete(r.local, ref)
		delete(r.localAt, ref)
	}
	return nil
}

// ListImages lists the local image names, by name.
func (r *Runtime) ListImages(ctx context.Context) ([]runtime.ImageRecord, error) {
	if err := r.enter(ctx, MethodListImages, ""); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runtime.ImageRecord, 0, len(r.local))
	for ref, info := range r.local {
		out = append(out, runtime.ImageRecord{Name: ref, Digest: info.Digest, Size: info.Size, CreatedAt: r.localAt[ref]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ImageFilesystems reports the file system set with SetImageFilesystem; none without it.
func (r *Runtime) ImageFilesystems(ctx context.Context) ([]runtime.FilesystemUsage, error) {
	if err := r.enter(ctx, MethodImageFilesystems, ""); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.imageFS == nil {
		return nil, nil
	}
	used := r.imageFS.base
	seen := map[string]bool{}
	for _, info := range r.local {
		if !seen[info.Digest] {
			seen[info.Digest] = true
			used += uint64(max(info.Size, 0))
		}
	}
	avail := uint64(0)
	if used < r.imageFS.capacity {
		avail = r.imageFS.capacity - used
	}
	return []runtime.FilesystemUsage{{Path: r.imageFS.path, Used: min(used, r.imageFS.capacity), Available: avail}}, nil
}

// ListUnmanagedContainers lists the containers added with AddUnmanagedContainer, by ID.
func (r *Runtime) ListUnmanagedContainers(ctx context.Context) ([]runtime.ContainerState, error) {
	if err := r.enter(ctx, MethodListUnmanagedContainers, ""); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runtime.ContainerState, 0, len(r.unmanaged))
	for _, st := range r.unmanaged {
		st.Labels = maps.Clone(st.Labels)
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CreateContainer creates a container from a local image (or a root file system).
func (r *Runtime) CreateContainer(ctx context.Context, cfg runtime.ContainerConfig) error {
	if err := r.enter(ctx, MethodCreateContainer, cfg.ID); err != nil {
		return err
	}
	if len(cfg.Record) > runtime.MaxRecordSize {
		return fmt.Errorf("fake: create %s: record of %d bytes exceeds %d", cfg.ID, len(cfg.Record), runtime.MaxRecordSize)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.containers[cfg.ID]; ok {
		return fmt.Errorf("fake: create container %s: %w", cfg.ID, runtime.ErrAlreadyExists)
	}
	if cfg.RootFS == "" {
		if _, ok := r.local[cfg.Image]; !ok {
			return fmt.Errorf("fake: create container %s: image %s: %w", cfg.ID, cfg.Image, runtime.ErrNotFound)
		}
	}
	p := r.processFor(cfg.ID, cfg.Image)
	if p.ExecError != "" {
		return &runtime.ExecError{Detail: p.ExecError}
	}
	cfg.Labels = maps.Clone(cfg.Labels)
	cfg.Record = slices.Clone(cfg.Record)
	c := &container{cfg: cfg, proc: p, state: runtime.ContainerState{
		ID: cfg.ID, Labels: cfg.Labels, Image: cfg.Image, Status: runtime.StatusCreated, CreatedAt: r.clock.Now(),
	}}
	r.containers[cfg.ID] = c
	r.emit(runtime.EventCreate, c)
	return nil
}

func (r *Runtime) processFor(id, image string) Process {
	if p, ok := r.ctrProcs[id]; ok {
		return p
	}
	return r.imageProcs[image]
}

// StartContainer starts a created container, or a stopped one again in place (a new run, as
// containerd does after deleting the old task); a running one is success.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	if err := r.enter(ctx, MethodStartContainer, id); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return notFound("container", id)
	}
	if c.state.Status == runtime.StatusRunning {
		return nil
	}
	c.proc = r.processFor(id, c.cfg.Image)
	c.run++
	r.nextPid++
	c.state.Status = runtime.StatusRunning
	c.state.Pid = r.nextPid
	c.state.StartedAt = r.clock.Now()
	c.state.FinishedAt = time.Time{}
	c.state.ExitCode = 0
	c.state.OOMKilled = false
	c.state.StartError = ""
	r.emit(runtime.EventStart, c)
	p := c.proc
	switch {
	case p.StartError != "":
		c.state.StartError = p.StartError
		r.exit(c, 127, false)
	case p.Exit != nil && p.ExitAfter <= 0:
		r.exit(c, *p.Exit, p.OOM)
	case p.Exit != nil:
		run, code := c.run, *p.Exit
		// A fake clock runs f while holding its own lock, and r.mu is held around clock
		// calls elsewhere: taking r.mu in f itself could deadlock, so f hands over.
		c.timer = r.clock.AfterFunc(p.ExitAfter, func() {
			go func() {
				r.mu.Lock()
				defer r.mu.Unlock()
				if cur, ok := r.containers[id]; ok && cur == c && c.run == run && c.state.Status == runtime.StatusRunning {
					r.exit(c, code, p.OOM)
				}
			}()
		})
	}
	return nil
}

// exit stops c's process. r.mu is held.
func (r *Runtime) exit(c *container, code int32, oom bool) {
	stopTimer(c)
	if oom {
		code = 128 + int32(syscall.SIGKILL)
		c.state.OOMKilled = true
		r.emit(runtime.EventOOM, c)
	}
	c.state.Status = runtime.StatusStopped
	c.state.ExitCode = code
	c.state.Pid = 0
	c.state.FinishedAt = r.clock.Now()
	r.emit(runtime.EventExit, c)
}

func stopTimer(c *container) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// Signal delivers sig to the container's process: SIGKILL ends it with 137, SIGTERM with
// 143 or the scripted code unless it ignores SIGTERM, signal 0 does nothing, any other
// signal ends it with 128+sig. A container that does not run is success.
func (r *Runtime) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	if err := r.enterCall(ctx, Call{Method: MethodSignal, Subject: id, Signal: sig}); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return notFound("container", id)
	}
	if c.state.Status != runtime.StatusRunning || sig == 0 {
		return nil
	}
	code := 128 + int32(sig)
	if sig == syscall.SIGTERM {
		if c.proc.IgnoreTERM {
			return nil
		}
		if c.proc.TermExitCode != nil {
			code = *c.proc.TermExitCode
		}
	}
	r.exit(c, code, false)
	return nil
}

// InspectContainer returns the container's state.
func (r *Runtime) InspectContainer(ctx context.Context, id string) (runtime.ContainerState, error) {
	if err := r.enter(ctx, MethodInspectContainer, id); err != nil {
		return runtime.ContainerState{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.ContainerState{}, notFound("container", id)
	}
	return snapshot(c), nil
}

func snapshot(c *container) runtime.ContainerState {
	st := c.state
	st.Labels = maps.Clone(st.Labels)
	return st
}

// ListContainers lists every container, by ID.
func (r *Runtime) ListContainers(ctx context.Context) ([]runtime.ContainerState, error) {
	if err := r.enter(ctx, MethodListContainers, ""); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runtime.ContainerState, 0, len(r.containers))
	for _, c := range r.containers {
		st := snapshot(c)
		st.StartError = "" // as containerd's listing, which reads no logs
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ContainerRecord returns the record the container was created with.
func (r *Runtime) ContainerRecord(ctx context.Context, id string) ([]byte, error) {
	if err := r.enter(ctx, MethodContainerRecord, id); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, notFound("container", id)
	}
	if len(c.cfg.Record) == 0 {
		return nil, nil
	}
	return slices.Clone(c.cfg.Record), nil
}

// RemoveContainer kills what still runs and deletes the container; absent is success.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	if err := r.enter(ctx, MethodRemoveContainer, id); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.unmanaged, id)
	c, ok := r.containers[id]
	if !ok {
		return nil
	}
	if c.state.Status == runtime.StatusRunning {
		r.exit(c, 128+int32(syscall.SIGKILL), false)
	}
	delete(r.containers, id)
	r.emit(runtime.EventDelete, c)
	return nil
}

// Exec returns the scripted result of cmd in the running container id: the container's own
// script for cmd, then for any command, then its image's likewise. An unscripted command
// exits 127 (not found), so a test that forgot to script a health check sees it fail.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (int, string, error) {
	if err := r.enterCall(ctx, Call{Method: MethodExec, Subject: id, Cmd: slices.Clone(cmd)}); err != nil {
		return -1, "", err
	}
	res, err := r.execResult(id, cmd)
	if err != nil {
		return -1, "", err
	}
	return res.ExitCode, res.Output, nil
}

// execResult is the scripted result of cmd in the running container id.
func (r *Runtime) execResult(id string, cmd []string) (ExecResult, error) {
	if len(cmd) == 0 {
		return ExecResult{}, fmt.Errorf("fake: exec in %s: empty command", id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return ExecResult{}, notFound("container", id)
	}
	if c.state.Status != runtime.StatusRunning {
		return ExecResult{}, fmt.Errorf("fake: exec in %s: container is not running: %w", id, runtime.ErrNotFound)
	}
	for _, k := range []execKey{
		{"id:" + id, cmdKey(cmd)}, {"id:" + id, cmdKey(nil)},
		{"image:" + c.cfg.Image, cmdKey(cmd)}, {"image:" + c.cfg.Image, cmdKey(nil)},
	} {
		if res, ok := r.execs[k]; ok {
			return res, res.Err
		}
	}
	return ExecResult{ExitCode: 127, Output: fmt.Sprintf("fake: %q: executable file not found", cmd[0])}, nil
}

// ExecStream is Exec with streams: the scripted Output goes to s.Stdout (then the input,
// with EchoStdin), and the scripted exit code is returned.
func (r *Runtime) ExecStream(ctx context.Context, id string, cmd []string, s runtime.ExecStreams) (int, error) {
	if err := r.enterCall(ctx, Call{Method: MethodExecStream, Subject: id, Cmd: slices.Clone(cmd)}); err != nil {
		return -1, err
	}
	res, err := r.execResult(id, cmd)
	if err != nil {
		return -1, err
	}
	out := s.Stdout
	if out == nil {
		out = io.Discard
	}
	if _, err := io.WriteString(out, res.Output); err != nil {
		return -1, fmt.Errorf("fake: exec in %s: write output: %w", id, err)
	}
	if res.EchoStdin && s.Stdin != nil {
		if _, err := io.Copy(out, s.Stdin); err != nil {
			return -1, fmt.Errorf("fake: exec in %s: copy input: %w", id, err)
		}
	}
	return res.ExitCode, nil
}

// Stats returns the container's scripted usage, zero if none was set, read now.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	if err := r.enter(ctx, MethodStats, id); err != nil {
		return runtime.Stats{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.Stats{}, notFound("container", id)
	}
	if c.state.Status != runtime.StatusRunning {
		return runtime.Stats{}, fmt.Errorf("fake: stats of %s: container is not running: %w", id, runtime.ErrNotFound)
	}
	var s runtime.Stats
	if c.stats != nil {
		s = *c.stats
		s.MemoryStat = maps.Clone(s.MemoryStat)
		s.PerCPUNanos = slices.Clone(s.PerCPUNanos)
	}
	s.Time = r.clock.Now()
	return s, nil
}

// Events subscribes to container events until ctx ends, when both channels are closed.
// A stream broken by BreakEvents, by falling behind or by a fault delivers one error on the
// error channel and no more events.
func (r *Runtime) Events(ctx context.Context) (<-chan runtime.Event, <-chan error) {
	s := &subscriber{events: make(chan runtime.Event, eventBuffer), errs: make(chan error, 1)}
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs, s)
		s.closed = true
		close(s.events)
		close(s.errs)
	})
	err := r.enter(ctx, MethodEvents, "")
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case s.closed:
	case err != nil:
		s.fail(err)
	default:
		r.subs[s] = struct{}{}
		r.subscribed++
	}
	return s.events, s.errs
}

// fail delivers err once. Runtime.mu is held.
func (s *subscriber) fail(err error) {
	if s.closed || s.failed {
		return
	}
	s.failed = true
	s.errs <- err
}

// endSubscriber takes s off the subscribers and delivers err. r.mu is held.
func (r *Runtime) endSubscriber(s *subscriber, err error) {
	if _, ok := r.subs[s]; !ok {
		return
	}
	delete(r.subs, s)
	s.fail(err)
}

// emit sends an event about c to every subscriber without blocking. r.mu is held.
func (r *Runtime) emit(t runtime.EventType, c *container) {
	ev := runtime.Event{Type: t, ContainerID: c.state.ID, Time: r.clock.Now()}
	if t == runtime.EventExit {
		ev.ExitCode = c.state.ExitCode
	}
	for s := range r.subs {
		select {
		case s.events <- ev:
		default:
			r.endSubscriber(s, ErrEventOverflow)
		}
	}
}
