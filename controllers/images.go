package controllers

import (
	"context"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/store"
)

// ImageUsers keeps the Image objects' bookkeeping (who uses an image, when it was last
// used) that image cleanup reads. The pull step adds users and the cleanup step removes
// them; both go through one ImageUsers so their writes to one Image object take turns.
type ImageUsers struct {
	client client.Client
	mu     sync.Mutex
}

// NewImageUsers returns the bookkeeping over the store's direct client.
func NewImageUsers(c client.Client) *ImageUsers { return &ImageUsers{client: c} }

// record creates or updates the Image object for info, noting c as a user.
func (u *ImageUsers) record(ctx context.Context, c *api.Container, info runtime.ImageInfo, now time.Time) error {
	if info.Digest == "" {
		return nil
	}
	// Many containers of one image finish their pulls together; taking turns avoids a
	// storm of conflicting writes to the one Image object.
	u.mu.Lock()
	defer u.mu.Unlock()
	key := types.NamespacedName{Namespace: c.Namespace, Name: api.ImageName(info.Digest)}
	return store.RetryOnConflict(func() error {
		im := &api.Image{}
		err := u.client.Get(ctx, key, im)
		if apierrors.IsNotFound(err) {
			im = &api.Image{
				ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
				Spec:       api.ImageSpec{Digest: info.Digest},
			}
			if err := u.client.Create(ctx, im); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return apierrors.NewConflict(api.GroupVersion.WithResource("images").GroupResource(), key.Name, err)
				}
				return err
			}
		} else if err != nil {
			return err
		}
		t := metaTime(now)
		im.Status.PulledAt = t
		im.Status.LastUsedAt = t
		im.Status.Size = info.Size
		if !slices.Contains(im.Status.References, c.Spec.Image) {
			im.Status.References = append(im.Status.References, c.Spec.Image)
		}
		if !slices.Contains(im.Status.Users, c.Name) {
			im.Status.Users = append(im.Status.Users, c.Name)
		}
		return u.client.Status().Update(ctx, im)
	})
}

// release drops c from its image's users so image cleanup may consider the image.
func (u *ImageUsers) release(ctx context.Context, c *api.Container, now time.Time) error {
	if c.Status.ImageDigest == "" {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	im := &api.Image{}
	key := client.ObjectKey{Namespace: c.Namespace, Name: api.ImageName(c.Status.ImageDigest)}
	if err := u.client.Get(ctx, key, im); err != nil {
		return client.IgnoreNotFound(err)
	}
	_, err := updateStatus(ctx, u.client, im, func(im *api.Image) bool {
		users := im.Status.Users[:0:0]
		for _, user := range im.Status.Users {
			if user != c.Name {
				users = append(users, user)
			}
		}
		if len(users) == len(im.Status.Users) {
			return false
		}
		im.Status.Users = users
		im.Status.LastUsedAt = metaTime(now)
		return true
	})
	return client.IgnoreNotFound(err)
}
