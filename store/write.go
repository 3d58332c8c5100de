package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// optimisticLockMsg is the API server's wording, kept so logs read the same.
const optimisticLockMsg = "the object has been modified; please apply your changes to the latest version and try again"

// Create stores a new object. It sets UID, creationTimestamp, generation 1 and
// resourceVersion, keeps the given status, and fails with AlreadyExists if the name is taken.
// An empty namespace means v1alpha1.Namespace. obj is updated with the stored object.
func (s *Store) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	co := (&client.CreateOptions{}).ApplyOptions(opts)
	if len(co.DryRun) > 0 {
		return errDryRun
	}
	o, err := s.inputOp(obj)
	if err != nil {
		return err
	}
	o.fn = createFn(o.kind, o.in)
	return s.commit(ctx, []op{o.op})
}

// Update writes metadata (labels, annotations, finalizers, owner references) and spec; the
// status in obj is ignored. A non-empty resourceVersion that differs from the stored one is a
// Conflict; an empty one updates unconditionally. A spec change bumps generation. Removing
// the last finalizer of an object being deleted removes it. obj is updated with the result.
func (s *Store) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	uo := (&client.UpdateOptions{}).ApplyOptions(opts)
	if len(uo.DryRun) > 0 {
		return errDryRun
	}
	o, err := s.inputOp(obj)
	if err != nil {
		return err
	}
	o.fn = updateFn(o.kind, o.in)
	return s.commit(ctx, []op{o.op})
}

// UpdateStatus writes only the status of obj, with the same resourceVersion check as Update.
// obj is updated with the result.
func (s *Store) UpdateStatus(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	uo := (&client.SubResourceUpdateOptions{}).ApplyOptions(opts)
	if len(uo.DryRun) > 0 {
		return errDryRun
	}
	o, err := s.inputOp(obj)
	if err != nil {
		return err
	}
	o.fn = updateStatusFn(o.kind, o.in)
	o.observed = true
	return s.commit(ctx, []op{o.op})
}

// Delete removes obj, or, when it has finalizers, marks it with a deletionTimestamp and keeps
// it until an Update removes the last finalizer. Preconditions (UID, resourceVersion) are
// honoured. Like the real client, Delete does not modify obj.
func (s *Store) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	do := (&client.DeleteOptions{}).ApplyOptions(opts)
	if len(do.DryRun) > 0 {
		return errDryRun
	}
	k, err := s.kindFor(obj)
	if err != nil {
		return err
	}
	key := objectKey(obj.GetNamespace(), obj.GetName())
	return s.commit(ctx, []op{{kind: k, key: key, fn: deleteFn(k, obj.GetName(), do.Preconditions)}})
}

// DeleteAllOf deletes every object of obj's kind that matches the list options.
func (s *Store) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	dao := (&client.DeleteAllOfOptions{}).ApplyOptions(opts)
	if len(dao.DryRun) > 0 {
		return errDryRun
	}
	k, err := s.kindFor(obj)
	if err != nil {
		return err
	}
	m, err := newMatcher(k, &dao.ListOptions)
	if err != nil {
		return err
	}
	s.mu.RLock()
	var victims []client.Object
	for _, o := range s.state[k.idx].objs {
		if m.matches(o) {
			victims = append(victims, o)
		}
	}
	s.mu.RUnlock()
	for _, v := range victims {
		err := s.commit(ctx, []op{{kind: k, key: objectKey(v.GetNamespace(), v.GetName()),
			fn: deleteFn(k, v.GetName(), dao.Preconditions)}})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// CreateOrUpdateAll writes objs atomically in one transaction: absent objects are created,
// present ones get Update semantics (metadata and spec; an empty resourceVersion means
// unconditional). Either every object is written and durable when it returns, or none is.
// Each obj is updated with its stored result.
func (s *Store) CreateOrUpdateAll(ctx context.Context, objs ...client.Object) error {
	return s.commitAll(ctx, objs, func(k *kindInfo, in client.Object) func(client.Object) (client.Object, bool, error) {
		create, update := createFn(k, in), updateFn(k, in)
		return func(cur client.Object) (client.Object, bool, error) {
			if cur == nil {
				return create(cur)
			}
			return update(cur)
		}
	})
}

// CreateAll creates objs atomically in one transaction, keeping their status as Create does:
// if any name is taken, nothing is written and the AlreadyExists error is returned. It is
// how state rebuilt from elsewhere (the runtime) is added without ever overwriting an object
// someone else wrote in the meantime. Each obj is updated with its stored result.
func (s *Store) CreateAll(ctx context.Context, objs ...client.Object) error {
	return s.commitAll(ctx, objs, createFn)
}

// commitAll writes objs in one transaction, each through the function fnFor makes for it;
// an object named twice is refused before anything is written.
func (s *Store) commitAll(ctx context.Context, objs []client.Object, fnFor func(*kindInfo, client.Object) func(client.Object) (client.Object, bool, error)) error {
	ops := make([]op, 0, len(objs))
	seen := make(map[inflightKey]bool, len(objs))
	for _, obj := range objs {
		o, err := s.inputOp(obj)
		if err != nil {
			return err
		}
		ik := inflightKey{o.kind, o.key}
		if seen[ik] {
			return apierrors.NewBadRequest(fmt.Sprintf("%s %q appears twice in one write", o.kind.gvk.Kind, o.key))
		}
		seen[ik] = true
		o.fn = fnFor(o.kind, o.in)
		ops = append(ops, o.op)
	}
	return s.commit(ctx, ops)
}

var errDryRun = apierrors.NewBadRequest("dry run is not supported by the ecsd store")

// inputOp is an op plus the store's private deep copy of the caller's object.
type inputOp struct {
	op
	in client.Object
}

// inputOp validates obj and takes the store's own copy of it, outside the lock.
func (s *Store) inputOp(obj client.Object) (inputOp, error) {
	k, err := s.kindFor(obj)
	if err != nil {
		return inputOp{}, err
	}
	if obj.GetName() == "" {
		return inputOp{}, apierrors.NewInvalid(k.gvk.GroupKind(), "",
			field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name is required")})
	}
	in := k.deepCopy(obj)
	in.SetNamespace(defaultNamespace(in.GetNamespace()))
	return inputOp{op: op{kind: k, key: objectKey(in.GetNamespace(), in.GetName()), out: obj}, in: in}, nil
}

func createFn(k *kindInfo, in client.Object) func(client.Object) (client.Object, bool, error) {
	return func(cur client.Object) (client.Object, bool, error) {
		if cur != nil {
			return nil, false, apierrors.NewAlreadyExists(k.gr, in.GetName())
		}
		in.SetUID(uuid.NewUUID())
		in.SetCreationTimestamp(metav1.Now().Rfc3339Copy())
		in.SetDeletionTimestamp(nil)
		in.SetDeletionGracePeriodSeconds(nil)
		in.SetGeneration(1)
		return in, false, nil
	}
}

func updateFn(k *kindInfo, in client.Object) func(client.Object) (client.Object, bool, error) {
	return func(cur client.Object) (client.Object, bool, error) {
		if err := checkPreconditions(k, cur, in.GetName(), string(in.GetUID()), in.GetResourceVersion()); err != nil {
			return nil, false, err
		}
		if cur.GetDeletionTimestamp() != nil {
			for _, f := range in.GetFinalizers() {
				if !slices.Contains(cur.GetFinalizers(), f) {
					return nil, false, apierrors.NewForbidden(k.gr, in.GetName(),
						fmt.Errorf("no new finalizers can be added if the object is being deleted, found new finalizer %q", f))
				}
			}
		}
		next := in
		next.SetUID(cur.GetUID())
		next.SetCreationTimestamp(cur.GetCreationTimestamp())
		next.SetDeletionTimestamp(cur.GetDeletionTimestamp())
		next.SetDeletionGracePeriodSeconds(cur.GetDeletionGracePeriodSeconds())
		next.SetGeneration(cur.GetGeneration())
		k.copyStatus(next, cur)
		if !k.specEqual(next, cur) {
			next.SetGeneration(cur.GetGeneration() + 1)
		} else if metadataEqual(next, cur) {
			return cur, false, nil // no-op: no new resourceVersion, no event
		}
		if cur.GetDeletionTimestamp() != nil && len(next.GetFinalizers()) == 0 {
			return nil, true, nil
		}
		return next, false, nil
	}
}

func updateStatusFn(k *kindInfo, in client.Object) func(client.Object) (client.Object, bool, error) {
	return func(cur client.Object) (client.Object, bool, error) {
		if err := checkPreconditions(k, cur, in.GetName(), string(in.GetUID()), in.GetResourceVersion()); err != nil {
			return nil, false, err
		}
		if k.statusIdx < 0 {
			return nil, false, apierrors.NewMethodNotSupported(k.gr, "update status")
		}
		if k.statusEqual(in, cur) {
			return cur, false, nil
		}
		next := k.shallowCopy(cur)
		k.copyStatus(next, in)
		return next, false, nil
	}
}

func deleteFn(k *kindInfo, name string, pre *metav1.Preconditions) func(client.Object) (client.Object, bool, error) {
	return func(cur client.Object) (client.Object, bool, error) {
		var uid, rv string
		if pre != nil {
			if pre.UID != nil {
				uid = string(*pre.UID)
			}
			if pre.ResourceVersion != nil {
				rv = *pre.ResourceVersion
			}
		}
		if err := checkPreconditions(k, cur, name, uid, rv); err != nil {
			return nil, false, err
		}
		if len(cur.GetFinalizers()) == 0 {
			return nil, true, nil
		}
		if cur.GetDeletionTimestamp() != nil {
			return cur, false, nil
		}
		next := k.shallowCopy(cur)
		now := metav1.Now().Rfc3339Copy()
		var zero int64
		next.SetDeletionTimestamp(&now)
		next.SetDeletionGracePeriodSeconds(&zero)
		next.SetGeneration(cur.GetGeneration() + 1)
		return next, false, nil
	}
}

// checkPreconditions fails with NotFound when cur is absent and with Conflict when a given
// UID or resourceVersion does not match it.
func checkPreconditions(k *kindInfo, cur client.Object, name, uid, rv string) error {
	if cur == nil {
		return apierrors.NewNotFound(k.gr, name)
	}
	if uid != "" && uid != string(cur.GetUID()) {
		return apierrors.NewConflict(k.gr, name,
			fmt.Errorf("precondition failed: UID in precondition: %s, UID in object meta: %s", uid, cur.GetUID()))
	}
	if rv != "" && rv != cur.GetResourceVersion() {
		return apierrors.NewConflict(k.gr, name, errors.New(optimisticLockMsg))
	}
	return nil
}

// metadataEqual compares the metadata an Update may write.
func metadataEqual(a, b client.Object) bool {
	return equality.Semantic.DeepEqual(a.GetLabels(), b.GetLabels()) &&
		equality.Semantic.DeepEqual(a.GetAnnotations(), b.GetAnnotations()) &&
		equality.Semantic.DeepEqual(a.GetFinalizers(), b.GetFinalizers()) &&
		equality.Semantic.DeepEqual(a.GetOwnerReferences(), b.GetOwnerReferences()) &&
		equality.Semantic.DeepEqual(a.GetManagedFields(), b.GetManagedFields())
}
