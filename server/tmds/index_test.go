package tmds

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/server/metadata"
)

// noScan is a reader that fails the test on any List without a field selector: through
// the cache's indexes no request needs every object.
type noScan struct {
	client.Reader
	t *testing.T
}

func (r noScan) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if lo := (&client.ListOptions{}).ApplyOptions(opts); lo.FieldSelector == nil || lo.FieldSelector.Empty() {
		r.t.Errorf("full list of %T", list)
	}
	return r.Reader.List(ctx, list, opts...)
}

// indexedReader registers the endpoints' indexes on the fixture store's cache, starts it,
// and returns its client as the agent hands it to the endpoints.
func (f *fixture) indexedReader(t *testing.T) client.Reader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := metadata.IndexFields(ctx, f.st.Cache()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = f.st.Cache().Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if !f.st.Cache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return f.st.Client()
}

// Every lookup through the cache's indexes answers byte for byte what a scan of the store
// answers, for hits, misses, released addresses and tasks that are gone.
func TestIndexedLookupsMatchScans(t *testing.T) {
	f := newFixture(t)
	indexed := noScan{Reader: f.indexedReader(t), t: t}
	const unknown = "00000000-0000-4000-8000-000000000000"
	for _, tc := range []struct{ name, source, path string }{
		{"v4 task by endpoint ID", bridgeIP + ":1", "/v4/" + epApp + "/task"},
		{"v4 container awsvpc", legIP + ":1", "/v4/" + epWeb},
		{"v4 container host", "127.0.0.1:1", "/v4/" + epHost},
		{"v3 not created", "127.0.0.1:1", "/v3/" + epPulled},
		{"v4 unknown endpoint ID", "127.0.0.1:1", "/v4/" + unknown + "/task"},
		{"v4 task gone", "127.0.0.1:1", "/v4/" + epOrphan + "/task"},
		{"v2 by bridge address", bridgeIP + ":1", "/v2/metadata"},
		{"v2 by ENI address", eniIP + ":1", "/v2/metadata"},
		{"v2 by endpoints leg", legIP + ":1", "/v2/metadata"},
		{"v2 by IPv4-mapped address", "[::ffff:" + eniIP + "]:1", "/v2/metadata"},
		{"v2 released container address", sidecarIP + ":1", "/v2/metadata"},
		{"v2 released task address", "169.254.172.77:1", "/v2/metadata"},
		{"v2 unknown address", "172.17.0.99:1", "/v2/metadata"},
		{"credentials from the bridge task", bridgeIP + ":1", "/v2/credentials/" + credApp},
		{"credentials from the awsvpc leg", legIP + ":1", "/v2/credentials/" + credWeb},
		{"credentials of another task", legIP + ":1", "/v2/credentials/" + credApp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := do(f.handler(t), tc.source, tc.path)
			got := do(f.handler(t, func(o *Options) { o.Reader = indexed }), tc.source, tc.path)
			if got.Code != want.Code || got.Body.String() != want.Body.String() {
				t.Errorf("indexed: %d %s\nscan:    %d %s", got.Code, got.Body, want.Code, want.Body)
			}
		})
	}
}
