package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// errInvalidDefinition marks create failures caused by the task definition itself; they
// stop the container instead of being retried.
var errInvalidDefinition = errors.New("invalid container definition")

// needsCreate: the container should run and its image is there.
func needsCreate(c *api.Container) bool {
	return desiredContainer(c) == api.ContainerStatusRunning && c.Status.KnownStatus.OrNone() == api.ContainerStatusPulled
}

// createRuntime is what the create step needs of the runtime.
type createRuntime interface {
	CreateContainer(ctx context.Context, cfg runtime.ContainerConfig) error
	InspectContainer(ctx context.Context, id string) (runtime.ContainerState, error)
}

// CreateReconciler owns → CREATED: it turns the definition into a runtime container once its
// dependsOn conditions hold, giving it first its network, task cgroup, shared namespaces,
// environment and files.
type CreateReconciler struct {
	Client client.Client
	// Cached reads a task's ENI attachment for its hostname and DNS.
	Cached  client.Reader
	Runtime createRuntime
	// Network is nil without a network layer: bridge and awsvpc containers then get a
	// namespace with loopback only.
	Network    runtime.Network
	HostFS     runtime.HostFS
	Cgroups    runtime.TaskCgroups
	Namespaces *TaskNamespaces
	// Volumes makes the task's volumes ready (mounts EFS and local-driver volumes).
	Volumes  *TaskVolumes
	Inputs   TaskInputs
	Security HostSecurity
	Clock    clock.PassiveClock
	Log      logr.Logger

	DataDir        string
	Options        CreateOptions
	NetworkOptions NetworkOptions
	Metadata       MetadataOptions
}

// Reconcile takes one container one step towards CREATED.
func (r *CreateReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s, err := loadContainer(ctx, r.Client, req.NamespacedName)
	if err != nil || s == nil || !needsCreate(s.c) {
		return reconcile.Result{}, err
	}
	v := checkDependencies(s.c, s.siblings, r.Clock.Now())
	if v.failure != "" {
		return reconcile.Result{}, failDependent(ctx, r.Client, s.c, v.failure)
	}
	if !v.ok {
		return reconcile.Result{RequeueAfter: v.recheckIn}, nil
	}

	c, err := r.ensureNetwork(ctx, s)
	switch {
	case errors.Is(err, errENIPending):
		return reconcile.Result{RequeueAfter: eniRecheck}, nil
	case err != nil && ctx.Err() != nil:
		return reconcile.Result{}, err
	case err != nil:
		// The network layer undoes a half-done setup itself; like the reference agent, a
		// task whose network cannot be set up is stopped with the reason.
		return reconcile.Result{}, failContainer(ctx, r.Client, s.c, fmt.Sprintf("%s: %v", ReasonCreate, err))
	}
	s.c = c
	if s.task.NetworkMode() == modeAWSVPC && r.Network != nil {
		// ensureNetwork may just have written the task's network.
		if s.task, err = freshTask(ctx, r.Client, s.task); err != nil {
			return reconcile.Result{}, err
		}
	}
	id, adopt, err := r.chooseRuntimeID(ctx, s)
	if err != nil {
		return reconcile.Result{}, err
	}
	if adopt {
		return reconcile.Result{}, r.recordCreated(ctx, s.c, id, api.ContainerLogPath(r.DataDir, s.task.Name, s.c.Spec.Name))
	}
	// Secrets and environment files are read last, just before the create: their values
	// are handed to the runtime and then dropped, never written to an object.
	in, err := r.readInputs(ctx, s)
	switch {
	case errors.Is(err, errInputsPending):
		// Credentials are not objects: nothing enqueues the container when they arrive.
		return reconcile.Result{RequeueAfter: credentialsRecheck}, nil
	case err != nil && ctx.Err() != nil:
		return reconcile.Result{}, err
	case err != nil:
		return reconcile.Result{}, r.failInputs(ctx, s, err.Error())
	}
	if s.task.SharesNamespaces() {
		if s.ns, err = r.ensureTaskNamespaces(ctx, s); err != nil {
			if ctx.Err() != nil {
				return reconcile.Result{}, err
			}
			return reconcile.Result{}, failContainer(ctx, r.Client, s.c, fmt.Sprintf("%s: %v", ReasonCreate, err))
		}
	}
	cfg, err := r.containerConfig(ctx, s, id, in)
	if errors.Is(err, errNetworkPending) {
		// A sibling is setting up the task's namespace; its status write enqueues us.
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	if err != nil {
		return reconcile.Result{}, failContainer(ctx, r.Client, s.c, fmt.Sprintf("%s: %v", ReasonCreate, err))
	}
	// Kept with the runtime container so its objects can be rebuilt if the checkpoint
	// loses them (Adopter). Without it such a container would be stopped, not adopted.
	if cfg.Record, err = encodeAdoptionRecord(s.task, s.siblings); err != nil {
		r.Log.Error(err, "creating the container without an adoption record", "container", s.c.Name)
	}
	cctx, cancel := context.WithTimeout(ctx, r.Options.Timeout)
	defer cancel()
	err = r.Runtime.CreateContainer(cctx, cfg)
	var execErr *runtime.ExecError
	switch {
	case errors.As(err, &execErr):
		// The process could never run: the task fails to start, saying why.
		return reconcile.Result{}, failContainer(ctx, r.Client, s.c, fmt.Sprintf("%s: %s", ReasonStart, execErr.Detail))
	case err == nil, errors.Is(err, runtime.ErrAlreadyExists):
		// Already there after a crash between create and the status write: adopt it.
	case errors.Is(err, runtime.ErrUnavailable):
		return reconcile.Result{}, err
	case cctx.Err() != nil && ctx.Err() == nil:
		return reconcile.Result{}, failContainer(ctx, r.Client, s.c, fmt.Sprintf("%s: Could not transition to created; timed out after waiting %s", ReasonTimeout, r.Options.Timeout))
	default:
		return reconcile.Result{}, failContainer(ctx, r.Client, s.c, fmt.Sprintf("%s: %v", ReasonCreate, err))
	}
	return reconcile.Result{}, r.recordCreated(ctx, s.c, cfg.ID, cfg.LogPath)
}

// recordCreated writes CREATED with the runtime ID the container was created (or adopted)
// under; from then on every step and endpoint uses that recorded ID.
func (r *CreateReconciler) recordCreated(ctx context.Context, c *api.Container, id, logPath string) error {
	_, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
		if !needsCreate(c) {
			return false
		}
		c.Status.RuntimeID = id
		now := r.Clock.Now()
		c.Status.CreatedAt = metaTime(now)
		c.Status.LogPath = logPath
		setContainerKnown(c, api.ContainerStatusCreated, "", now)
		return true
	})
	return err
}
