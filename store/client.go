package store

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// storeClient is a controller-runtime client.Client whose writes go to the store and whose
// reads go to reader: the informer cache (Client) or the store itself (DirectClient).
type storeClient struct {
	s      *Store
	reader client.Reader
}

var _ client.Client = (*storeClient)(nil)

func (s *Store) adapters() {
	s.adaptersOnce.Do(func() {
		s.cache = newInformerCache(s)
		s.client = &storeClient{s: s, reader: s.cache}
		s.direct = &storeClient{s: s, reader: s}
	})
}

// Client returns a client.Client that reads from Cache (eventually consistent, needs the
// cache started) and writes to the store. This is what reconcilers use.
func (s *Store) Client() client.Client {
	s.adapters()
	return s.client
}

// DirectClient returns a client.Client that reads straight from the store: every write that
// has returned is visible. Use it where a stale read is not acceptable (e.g. before an ack).
func (s *Store) DirectClient() client.Client {
	s.adapters()
	return s.direct
}

func (c *storeClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.reader.Get(ctx, key, obj, opts...)
}

func (c *storeClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}

func (c *storeClient) Apply(_ context.Context, _ runtime.ApplyConfiguration, _ ...client.ApplyOption) error {
	return apierrors.NewMethodNotSupported(schema.GroupResource{Group: c.s.kinds[0].gvk.Group}, "apply")
}

func (c *storeClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	return c.s.Create(ctx, obj, opts...)
}

// CreateAll is Store.CreateAll: callers that hold only a client.Client reach it with a type
// assertion.
func (c *storeClient) CreateAll(ctx context.Context, objs ...client.Object) error {
	return c.s.CreateAll(ctx, objs...)
}

func (c *storeClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	return c.s.Delete(ctx, obj, opts...)
}

func (c *storeClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return c.s.Update(ctx, obj, opts...)
}

func (c *storeClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	return c.s.Patch(ctx, obj, patch, opts...)
}

func (c *storeClient) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	return c.s.DeleteAllOf(ctx, obj, opts...)
}

func (c *storeClient) Status() client.SubResourceWriter { return statusClient{c.s} }

// SubResource supports "status" only; any other subresource fails with MethodNotSupported.
func (c *storeClient) SubResource(subResource string) client.SubResourceClient {
	if subResource == "status" {
		return statusClient{c.s}
	}
	return unsupportedSubResource{s: c.s, name: subResource}
}

func (c *storeClient) Scheme() *runtime.Scheme { return c.s.scheme }

func (c *storeClient) RESTMapper() meta.RESTMapper { return c.s.mapper }

func (c *storeClient) GroupVersionKindFor(obj runtime.Object) (schema.GroupVersionKind, error) {
	return apiutil.GVKForObject(obj, c.s.scheme)
}

// IsObjectNamespaced reports true for every stored kind (all are namespaced).
func (c *storeClient) IsObjectNamespaced(obj runtime.Object) (bool, error) {
	if _, err := c.s.kindFor(obj); err != nil {
		if _, lerr := c.s.kindForList(obj); lerr != nil {
			return false, err
		}
	}
	return true, nil
}

// statusClient writes the status subresource.
type statusClient struct{ s *Store }

func (sc statusClient) Get(_ context.Context, obj client.Object, _ client.Object, _ ...client.SubResourceGetOption) error {
	return sc.unsupported(obj, "get status")
}

func (sc statusClient) Create(_ context.Context, obj client.Object, _ client.Object, _ ...client.SubResourceCreateOption) error {
	return sc.unsupported(obj, "create status")
}

func (sc statusClient) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	return sc.s.UpdateStatus(ctx, obj, opts...)
}

func (sc statusClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	return sc.s.PatchStatus(ctx, obj, patch, opts...)
}

func (sc statusClient) Apply(_ context.Context, _ runtime.ApplyConfiguration, _ ...client.SubResourceApplyOption) error {
	return apierrors.NewMethodNotSupported(schema.GroupResource{Group: sc.s.kinds[0].gvk.Group}, "apply status")
}

func (sc statusClient) unsupported(obj client.Object, verb string) error {
	gr := schema.GroupResource{Group: sc.s.kinds[0].gvk.Group}
	if k, err := sc.s.kindFor(obj); err == nil {
		gr = k.gr
	}
	return apierrors.NewMethodNotSupported(gr, verb)
}

// unsupportedSubResource is any subresource other than status.
type unsupportedSubResource struct {
	s    *Store
	name string
}

func (u unsupportedSubResource) err(obj client.Object) error {
	return statusClient{u.s}.unsupported(obj, u.name)
}

func (u unsupportedSubResource) Get(_ context.Context, obj client.Object, _ client.Object, _ ...client.SubResourceGetOption) error {
	return u.err(obj)
}

func (u unsupportedSubResource) Create(_ context.Context, obj client.Object, _ client.Object, _ ...client.SubResourceCreateOption) error {
	return u.err(obj)
}

func (u unsupportedSubResource) Update(_ context.Context, obj client.Object, _ ...client.SubResourceUpdateOption) error {
	return u.err(obj)
}

func (u unsupportedSubResource) Patch(_ context.Context, obj client.Object, _ client.Patch, _ ...client.SubResourcePatchOption) error {
	return u.err(obj)
}

func (u unsupportedSubResource) Apply(_ context.Context, _ runtime.ApplyConfiguration, _ ...client.SubResourceApplyOption) error {
	return apierrors.NewMethodNotSupported(schema.GroupResource{Group: u.s.kinds[0].gvk.Group}, u.name)
}
