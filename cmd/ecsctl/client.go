package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/version"
)

// clientGetter is cli-runtime's resource.RESTClientGetter built from --server and the
// agent's token. It deliberately never loads a kubeconfig: reading ~/.kube/config could
// point ecsctl at a real cluster, or send that cluster's credentials to the agent.
// Discovery is cached in memory only (kubectl's disk cache would write under ~/.kube).
type clientGetter struct {
	cfg *rest.Config

	once   sync.Once
	disc   discovery.CachedDiscoveryInterface
	mapper meta.RESTMapper
	err    error
}

var _ resource.RESTClientGetter = (*clientGetter)(nil)

// newClientGetter checks server and returns a getter for it that sends token (if any);
// every request ends when ctx does. An https server is trusted by the certificate at
// caFile, the agent's own (self-signed) one.
func newClientGetter(ctx context.Context, server string, timeout time.Duration, token, caFile string) (*clientGetter, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--server %q: want a URL such as %s", server, defaultServer)
	}
	cfg := &rest.Config{
		Host:      strings.TrimSuffix(server, "/"),
		Timeout:   timeout,
		UserAgent: "ecsctl/" + version.Version,
		// The server is local; client-side throttling would only slow discovery down.
		QPS:         100,
		Burst:       200,
		BearerToken: token,
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return cancelTransport{ctx: ctx, next: wrapNamespaceFallback(rt)}
		},
	}
	if u.Scheme == "https" {
		cfg.TLSClientConfig.CAFile = caFile
	}
	return &clientGetter{cfg: cfg}, nil
}

// ToRESTConfig returns a copy: cli-runtime's builder mutates what it gets.
func (g *clientGetter) ToRESTConfig() (*rest.Config, error) {
	return rest.CopyConfig(g.cfg), nil
}

// ToDiscoveryClient returns the memory-cached discovery client.
func (g *clientGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	g.init()
	return g.disc, g.err
}

// ToRESTMapper returns a RESTMapper from discovery that also expands short names, the
// way kubectl's does, so "t" finds tasks without ecsctl hard-coding it.
func (g *clientGetter) ToRESTMapper() (meta.RESTMapper, error) {
	g.init()
	return g.mapper, g.err
}

func (g *clientGetter) init() {
	g.once.Do(func() {
		dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(g.cfg))
		if err != nil {
			g.err = fmt.Errorf("discovery client: %w", err)
			return
		}
		g.disc = memory.NewMemCacheClient(dc)
		deferred := restmapper.NewDeferredDiscoveryRESTMapper(g.disc)
		g.mapper = ecsOnlyMapper{restmapper.NewShortcutExpander(deferred, g.disc, nil)}
	})
}

// newBuilder is cli-runtime's resource builder over this getter.
func (g *clientGetter) newBuilder() *resource.Builder {
	return resource.NewBuilder(g)
}

// mappingFor resolves what a user typed (plural, singular, short name, Kind, or
// resource.group) to a REST mapping, through discovery.
func (g *clientGetter) mappingFor(arg string) (*meta.RESTMapping, error) {
	mapper, err := g.ToRESTMapper()
	if err != nil {
		return nil, err
	}
	fullGVR, gr := schema.ParseResourceArg(arg)
	var gvk schema.GroupVersionKind
	if fullGVR != nil {
		gvk, _ = mapper.KindFor(*fullGVR)
	}
	if gvk.Empty() {
		gvk, err = mapper.KindFor(gr.WithVersion(""))
		if err != nil {
			if meta.IsNoMatchError(err) {
				return nil, fmt.Errorf("the server doesn't have a resource type %q", arg)
			}
			return nil, err
		}
	}
	return mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// mappingForKind is the mapping of one of ecsd's kinds, e.g. "Container"; the resource
// name comes from discovery.
func (g *clientGetter) mappingForKind(kind string) (*meta.RESTMapping, error) {
	mapper, err := g.ToRESTMapper()
	if err != nil {
		return nil, err
	}
	return mapper.RESTMapping(schema.GroupKind{Group: api.GroupVersion.Group, Kind: kind}, api.GroupVersion.Version)
}

// typedScheme decodes ecsd's objects into their Go types (describe reads them so).
var typedScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := api.AddToScheme(s); err != nil {
		panic(err)
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return s
}()

// typedClient is a REST client for ecs.ecsd.io/v1alpha1 that decodes into api types.
func (g *clientGetter) typedClient() (*rest.RESTClient, error) {
	cfg := rest.CopyConfig(g.cfg)
	gv := api.GroupVersion
	cfg.GroupVersion = &gv
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(typedScheme).WithoutConversion()
	return rest.RESTClientFor(cfg)
}

// rawClient is a REST client for paths outside the API groups (logs stream, /v1/metadata).
func (g *clientGetter) rawClient() (*rest.RESTClient, error) {
	cfg := rest.CopyConfig(g.cfg)
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(typedScheme).WithoutConversion()
	return rest.UnversionedRESTClientFor(cfg)
}

// parseTimeout reads --request-timeout as kubectl does: a bare integer is seconds.
func parseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("--request-timeout %q: must not be negative", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--request-timeout %q: want a duration such as 5s or 1m", s)
	}
	return d, nil
}

// ecsOnlyMapper hides the core v1 pods the object API serves for kubectl exec alone: to
// ecsctl, as before, "pods" is no resource type of the agent's.
type ecsOnlyMapper struct{ meta.RESTMapper }

func (m ecsOnlyMapper) KindFor(r schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	gvk, err := m.RESTMapper.KindFor(r)
	if err == nil && gvk.Group != api.GroupVersion.Group {
		return schema.GroupVersionKind{}, &meta.NoResourceMatchError{PartialResource: r}
	}
	return gvk, err
}

func (m ecsOnlyMapper) KindsFor(r schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	gvks, err := m.RESTMapper.KindsFor(r)
	if err != nil {
		return nil, err
	}
	var out []schema.GroupVersionKind
	for _, k := range gvks {
		if k.Group == api.GroupVersion.Group {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, &meta.NoResourceMatchError{PartialResource: r}
	}
	return out, nil
}

func (m ecsOnlyMapper) ResourceFor(r schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	gvr, err := m.RESTMapper.ResourceFor(r)
	if err == nil && gvr.Group != api.GroupVersion.Group {
		return schema.GroupVersionResource{}, &meta.NoResourceMatchError{PartialResource: r}
	}
	return gvr, err
}
