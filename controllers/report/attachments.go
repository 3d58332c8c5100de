package report

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/ctrlutil"
	"github.com/ecsd/ecsd/store"
)

// attachmentController tells ECS that an ENI is attached, once. Like the reference agent
// it only ever sends ATTACHED: a task ENI rides on a SubmitTaskStateChange carrying just
// the attachment, an instance ENI goes through SubmitAttachmentStateChanges. A detach is
// implied by the task's STOPPED.
func (r *Reporter) attachmentController() (controller.TypedController[reconcile.Request], error) {
	c, err := ctrlutil.New("report-attachments", reconcile.Func(r.reconcileAttachment),
		ctrlutil.Options{Workers: 2, RetryMin: time.Second, RetryMax: 30 * time.Second, Log: r.log.WithName("attachments")})
	if err != nil {
		return nil, err
	}
	if err := c.Watch(source.Kind(r.cache, &api.Attachment{}, &handler.TypedEnqueueRequestForObject[*api.Attachment]{})); err != nil {
		return nil, err
	}
	return c, nil
}

func (r *Reporter) reconcileAttachment(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	a := &api.Attachment{}
	if err := r.direct.Get(ctx, req.NamespacedName, a); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if a.Status.Status != api.AttachmentAttached || a.Status.SentStatus == api.AttachmentAttached {
		return reconcile.Result{}, nil
	}
	change := []types.AttachmentStateChange{{
		AttachmentArn: aws.String(a.Spec.AttachmentARN),
		Status:        aws.String(api.AttachmentAttached),
	}}
	var err error
	if a.Spec.TaskARN != "" {
		err = r.sub.SubmitTaskStateChange(ctx, &ecs.SubmitTaskStateChangeInput{
			Cluster: aws.String(r.o.Cluster), Task: aws.String(a.Spec.TaskARN), Attachments: change,
		})
	} else {
		err = r.sub.SubmitAttachmentStateChanges(ctx, &ecs.SubmitAttachmentStateChangesInput{
			Cluster: aws.String(r.o.Cluster), Attachments: change,
		})
	}
	log := r.log.WithValues("attachment", a.Spec.AttachmentARN, "task", a.Spec.TaskARN)
	if err != nil {
		if !r.o.Permanent(err) {
			log.V(1).Info("attachment change not accepted; retrying", "error", err.Error())
			return reconcile.Result{}, err
		}
		log.Error(err, "ECS refused the attachment change; dropping it")
	}
	err = store.RetryOnConflict(func() error {
		cur := &api.Attachment{}
		if err := r.direct.Get(ctx, req.NamespacedName, cur); err != nil {
			return err
		}
		if cur.Status.SentStatus == api.AttachmentAttached {
			return nil
		}
		cur.Status.SentStatus = api.AttachmentAttached
		return r.direct.Status().Update(ctx, cur)
	})
	if errors.Is(err, context.Canceled) {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{}, client.IgnoreNotFound(err)
}
