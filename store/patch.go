package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// maxPatchAttempts bounds retries when another writer changes the object between reading it
// and committing the patched version (the patch itself carried no resourceVersion).
const maxPatchAttempts = 16

// Patch applies patch to the stored object with Update semantics (status changes in the patch
// are ignored). Merge patch (client.MergeFrom, client.RawPatch(types.MergePatchType, ...)),
// JSON patch and strategic merge patch are supported; server-side apply is not. A patch that
// carries a resourceVersion (client.MergeFromWithOptimisticLock) conflicts if it is stale.
// obj is updated with the result.
func (s *Store) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	po := (&client.PatchOptions{}).ApplyOptions(opts)
	if len(po.DryRun) > 0 {
		return errDryRun
	}
	return s.patch(ctx, obj, patch, updateFn)
}

// PatchStatus is Patch for the status: only the patched status is written.
func (s *Store) PatchStatus(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	po := (&client.SubResourcePatchOptions{}).ApplyOptions(opts)
	if len(po.DryRun) > 0 {
		return errDryRun
	}
	return s.patch(ctx, obj, patch, updateStatusFn)
}

type fnFactory func(*kindInfo, client.Object) func(client.Object) (client.Object, bool, error)

// patch applies the patch to a copy of the current stored object outside the lock and commits
// the result with the stored resourceVersion as precondition, retrying if it raced.
func (s *Store) patch(ctx context.Context, obj client.Object, patch client.Patch, mk fnFactory) error {
	k, err := s.kindFor(obj)
	if err != nil {
		return err
	}
	key := objectKey(obj.GetNamespace(), obj.GetName())
	data, err := patch.Data(obj)
	if err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("computing patch: %v", err))
	}
	for range maxPatchAttempts {
		cur := s.current(k, key)
		if cur == nil {
			return apierrors.NewNotFound(k.gr, obj.GetName())
		}
		next, err := applyPatch(k, cur, patch.Type(), data)
		if err != nil {
			return err
		}
		if rv := next.GetResourceVersion(); rv != cur.GetResourceVersion() {
			// The patch itself set a resourceVersion: an optimistic lock that is already stale.
			return apierrors.NewConflict(k.gr, obj.GetName(), errors.New(optimisticLockMsg))
		}
		err = s.commit(ctx, []op{{kind: k, key: key, fn: mk(k, next), out: obj}})
		if apierrors.IsConflict(err) {
			continue // someone wrote in between; patch the newer version
		}
		return err
	}
	return apierrors.NewConflict(k.gr, obj.GetName(), errors.New("too many concurrent writers, patch gave up"))
}

// current returns the visible stored object (immutable; do not modify) or nil.
func (s *Store) current(k *kindInfo, key string) client.Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state[k.idx].objs[key]
}

func applyPatch(k *kindInfo, cur client.Object, pt types.PatchType, data []byte) (client.Object, error) {
	orig, err := json.Marshal(cur)
	if err != nil {
		return nil, fmt.Errorf("store: encode %s: %w", k.gvk.Kind, err)
	}
	var patched []byte
	switch pt {
	case types.MergePatchType:
		patched, err = jsonpatch.MergePatch(orig, data)
	case types.JSONPatchType:
		var p jsonpatch.Patch
		if p, err = jsonpatch.DecodePatch(data); err == nil {
			patched, err = p.Apply(orig)
		}
	case types.StrategicMergePatchType:
		patched, err = strategicpatch.StrategicMergePatch(orig, data, k.newObject())
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("patch type %q is not supported", pt))
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("applying %s patch: %v", pt, err))
	}
	next := k.newObject()
	if err := json.Unmarshal(patched, next); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding patched %s: %v", k.gvk.Kind, err))
	}
	next.GetObjectKind().SetGroupVersionKind(k.gvk)
	if next.GetName() != cur.GetName() || next.GetNamespace() != cur.GetNamespace() {
		return nil, apierrors.NewBadRequest("a patch may not change metadata.name or metadata.namespace")
	}
	return next, nil
}
