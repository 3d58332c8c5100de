package acs

import (
	"context"
	"fmt"
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/store"
)

// ApplyENIAttachments writes the Attachment objects of an Attach*NetworkInterfacesMessage
// (taskARN empty for instance ENIs) in one atomic, durable write, each with the deadline
// for its ENI to show up. An attachment already known keeps the deadline it was first
// given, so a resent message does not extend it.
func (a *StoreApplier) ApplyENIAttachments(ctx context.Context, taskARN string, enis []payload.ElasticNetworkInterface, expiresAt time.Time) error {
	return store.RetryOnConflict(func() error {
		deadline := metav1.NewTime(expiresAt)
		var objs []client.Object
		seen := map[string]bool{}
		for i := range enis {
			want, err := payload.ENIAttachment(&enis[i], taskARN, &deadline)
			if err != nil {
				return fmt.Errorf("elasticNetworkInterfaces[%d]: %w", i, err)
			}
			obj, err := a.attachmentWrite(ctx, want, seen)
			if err != nil {
				return err
			}
			if obj != nil {
				objs = append(objs, obj)
			}
		}
		if len(objs) == 0 {
			return nil
		}
		if err := a.Store.CreateOrUpdateAll(ctx, objs...); err != nil {
			return fmt.Errorf("write ENI attachments: %w", err)
		}
		return nil
	})
}

// taskAttachments returns the Attachment objects to write with a new payload task: one
// per ENI that is not yet stored as it is (seen holds the names already taken by the same
// write).
func (a *StoreApplier) taskAttachments(ctx context.Context, t *payload.Task, seen map[string]bool) ([]client.Object, error) {
	var objs []client.Object
	for i := range t.ElasticNetworkInterfaces {
		want, err := payload.ENIAttachment(&t.ElasticNetworkInterfaces[i], t.Arn, nil)
		if err != nil {
			return nil, fmt.Errorf("task %s: elasticNetworkInterfaces[%d]: %w", t.Arn, i, err)
		}
		obj, err := a.attachmentWrite(ctx, want, seen)
		if err != nil {
			return nil, err
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
	return objs, nil
}

// attachmentWrite returns what to write for want: want itself when no Attachment of that
// name exists, the stored one with want's Spec and labels when they differ, or nil when
// nothing changes or the name is already part of this write (seen). The stored deadline,
// set when the attachment was first learnt of, is kept; the Status is never touched (the
// store keeps it on spec writes), and the stored resourceVersion makes a concurrent
// controller write a conflict, so the caller reads again.
func (a *StoreApplier) attachmentWrite(ctx context.Context, want *api.Attachment, seen map[string]bool) (client.Object, error) {
	if seen[want.Name] {
		return nil, nil
	}
	seen[want.Name] = true
	cur := &api.Attachment{}
	err := a.Store.DirectClient().Get(ctx, client.ObjectKeyFromObject(want), cur)
	switch {
	case apierrors.IsNotFound(err):
		return want, nil
	case err != nil:
		return nil, fmt.Errorf("read attachment %s: %w", want.Name, err)
	}
	spec := *want.Spec.DeepCopy()
	spec.ExpiresAt = cur.Spec.ExpiresAt.DeepCopy()
	labels := maps.Clone(cur.Labels)
	if len(want.Labels) > 0 && labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, want.Labels)
	if equality.Semantic.DeepEqual(cur.Spec, spec) && maps.Equal(cur.Labels, labels) {
		return nil, nil
	}
	updated := cur.DeepCopy()
	updated.Spec = spec
	updated.Labels = labels
	return updated, nil
}
