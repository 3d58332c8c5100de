package acs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/store"
)

// MetaManifestSeqNum is the store metadata key of the latest ACS sequence number: the
// highest payload seqNum applied or manifest timeline accepted. The name is the reference
// agent's, which keeps the same number under it ("latestSeqNumberTaskManifest").
const MetaManifestSeqNum = "task-manifest-seq-num"

// StoreApplier applies ACS messages to the store (task Specs) and the credentials manager.
type StoreApplier struct {
	Store       *store.Store
	Credentials *credentials.Manager
	// Tombstones, when set, keeps cleaned-up tasks from being created again.
	Tombstones *Tombstones
	Log        logr.Logger

	// seqMu serialises RecordSeqNum's read and write.
	seqMu sync.Mutex
}

var _ Applier = (*StoreApplier)(nil)

// ApplyPayload stores the tasks' credentials, then writes every task of the payload in one
// atomic, durable write: new tasks are created with their containers and ENI attachments
// (an untranslatable one as a STOPPED task carrying the reason), known tasks only see
// their desired status move forward. A payload sent again is therefore harmless.
func (a *StoreApplier) ApplyPayload(ctx context.Context, m *payload.PayloadMessage) error {
	// A known task is updated at the version just read; a controller writing its status
	// in between makes the write conflict, and the payload is simply applied again.
	return store.RetryOnConflict(func() error { return a.applyPayload(ctx, m) })
}

func (a *StoreApplier) applyPayload(ctx context.Context, m *payload.PayloadMessage) error {
	var objs []client.Object
	index := map[string]int{}        // task object name → position in objs, for duplicates
	attachments := map[string]bool{} // attachment names already in objs
	for _, t := range payload.StoppedFirst(m.Tasks) {
		for _, rc := range payload.Credentials(t) {
			if err := a.ApplyCredentials(ctx, rc); err != nil {
				return err
			}
		}
		taskObjs, err := a.taskObjects(ctx, t, m.Options(), attachments)
		if err != nil {
			return err
		}
		if len(taskObjs) == 0 {
			continue
		}
		name := taskObjs[0].GetName()
		if i, dup := index[name]; dup {
			// The same task twice in one payload: keep the first, with the later desired status.
			prev := objs[i].(*api.Task)
			prev.Spec.DesiredStatus = api.MaxTask(prev.Spec.DesiredStatus, taskObjs[0].(*api.Task).Spec.DesiredStatus)
			continue
		}
		index[name] = len(objs)
		objs = append(objs, taskObjs...)
	}
	if len(objs) == 0 {
		return nil
	}
	if err := a.Store.CreateOrUpdateAll(ctx, objs...); err != nil {
		return fmt.Errorf("write payload %s: %w", m.MessageID, err)
	}
	return nil
}

// taskObjects returns what to write for one payload task: all its objects when it is new
// (the Task first, then its Containers and the Attachments of its ENIs not yet stored as
// they are), the existing Task with a later desired status, or nothing. attachments holds
// the attachment names already part of the write.
func (a *StoreApplier) taskObjects(ctx context.Context, t *payload.Task, opts payload.Options, attachments map[string]bool) ([]client.Object, error) {
	task, containers, terr := payload.ToObjects(t, opts)
	var name string
	if terr != nil {
		task = payload.InvalidTaskObject(t, terr)
		containers = nil
	}
	name = task.Name
	existing := &api.Task{}
	err := a.Store.DirectClient().Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: name}, existing)
	switch {
	case apierrors.IsNotFound(err):
		if a.Tombstones != nil && t.Arn != "" {
			gone, terr2 := a.Tombstones.Has(t.Arn)
			if terr2 != nil {
				a.Log.Error(terr2, "cannot read the cleaned-up tasks")
			}
			if gone {
				a.Log.Info("ignoring a task this instance already ran and cleaned up", "task", t.Arn)
				return nil, nil
			}
		}
		if terr != nil {
			a.Log.Info("task rejected; it is stopped with the reason", "task", t.Arn, "reason", task.Spec.Invalid)
		}
		objs := []client.Object{task}
		for _, c := range containers {
			// The endpoint ID is the container's only secret for its metadata URIs: random,
			// made once here and kept in the Spec (and the checkpoint) from then on.
			c.Spec.EndpointID = uuid.NewString()
			objs = append(objs, c)
		}
		if terr != nil {
			return objs, nil // a rejected task never runs: no interfaces to wait for
		}
		atts, err := a.taskAttachments(ctx, t, attachments)
		if err != nil {
			return nil, err
		}
		return append(objs, atts...), nil
	case err != nil:
		return nil, fmt.Errorf("read task %s: %w", name, err)
	}
	// Known task: only the desired status may change, and only forward. A stop payload
	// that no longer translates still stops the task.
	desired := api.TaskState(t.DesiredStatus)
	if terr == nil {
		desired = task.Spec.DesiredStatus
	}
	if desired != api.TaskStatusRunning && desired != api.TaskStatusStopped {
		return nil, nil
	}
	if !existing.Spec.DesiredStatus.OrNone().Before(desired) {
		return nil, nil
	}
	updated := existing.DeepCopy()
	updated.Spec.DesiredStatus = desired
	return []client.Object{updated}, nil
}

// ApplyCredentials stores one set of role credentials.
func (a *StoreApplier) ApplyCredentials(_ context.Context, rc payload.RoleCredentials) error {
	c := rc.Credentials
	e := credentials.Entry{
		ID:              c.CredentialsID,
		TaskARN:         rc.TaskARN,
		RoleARN:         c.RoleArn,
		RoleType:        credentials.RoleType(rc.RoleType),
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
	}
	if c.Expiration != "" {
		exp, err := time.Parse(time.RFC3339, c.Expiration)
		if err != nil {
			return fmt.Errorf("credentials %s: expiration %q: %w", c.CredentialsID, c.Expiration, err)
		}
		e.Expiration = exp
	}
	return a.Credentials.Set(e)
}

// LatestSeqNum returns the latest ACS sequence number recorded (0 if none).
func (a *StoreApplier) LatestSeqNum(context.Context) (int64, error) {
	v, ok, err := a.Store.GetMeta(MetaManifestSeqNum)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", MetaManifestSeqNum, v, err)
	}
	return n, nil
}

// RecordSeqNum durably raises the latest sequence number to n. A value that cannot be
// read is replaced (after a log line): refusing would leave every later payload
// unacknowledged.
func (a *StoreApplier) RecordSeqNum(ctx context.Context, n int64) error {
	a.seqMu.Lock()
	defer a.seqMu.Unlock()
	cur, err := a.LatestSeqNum(ctx)
	if err != nil {
		if errors.Is(err, strconv.ErrSyntax) || errors.Is(err, strconv.ErrRange) {
			a.Log.Error(err, "replacing an unreadable ACS sequence number", "seqNum", n)
			cur = 0
		} else {
			return err
		}
	}
	if n <= cur {
		return nil
	}
	return a.Store.PutMeta(MetaManifestSeqNum, strconv.FormatInt(n, 10))
}

// StopCandidates returns the tasks desired RUNNING here that the manifest does not list as
// RUNNING.
func (a *StoreApplier) StopCandidates(ctx context.Context, m *payload.TaskManifestMessage) ([]payload.TaskIdentifier, error) {
	listed := map[string]bool{}
	for _, t := range m.Tasks {
		if t.DesiredStatus == string(api.TaskStatusRunning) {
			listed[t.TaskArn] = true
		}
	}
	var tasks api.TaskList
	if err := a.Store.DirectClient().List(ctx, &tasks, client.InNamespace(api.Namespace)); err != nil {
		return nil, err
	}
	var out []payload.TaskIdentifier
	for _, t := range tasks.Items {
		if t.DesiredStatus() == api.TaskStatusRunning && t.Spec.ARN != "" && !listed[t.Spec.ARN] {
			out = append(out, payload.TaskIdentifier{TaskArn: t.Spec.ARN, TaskClusterArn: t.Spec.ClusterARN, DesiredStatus: string(api.TaskStatusStopped)})
		}
	}
	return out, nil
}

// StopTasks sets the listed tasks' desired status to STOPPED.
func (a *StoreApplier) StopTasks(ctx context.Context, ids []payload.TaskIdentifier) error {
	return store.RetryOnConflict(func() error { return a.stopTasks(ctx, ids) })
}

func (a *StoreApplier) stopTasks(ctx context.Context, ids []payload.TaskIdentifier) error {
	var objs []client.Object
	for _, id := range ids {
		name, err := payload.TaskID(id.TaskArn)
		if err != nil {
			continue
		}
		t := &api.Task{}
		if err := a.Store.DirectClient().Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: name}, t); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		if t.Spec.DesiredStatus == api.TaskStatusStopped {
			continue
		}
		t.Spec.DesiredStatus = api.TaskStatusStopped
		objs = append(objs, t)
		a.Log.Info("stopping a task the backend no longer lists", "task", id.TaskArn)
	}
	if len(objs) == 0 {
		return nil
	}
	return a.Store.CreateOrUpdateAll(ctx, objs...)
}
