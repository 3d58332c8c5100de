package tmds

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"
)

func TestStats(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, func(o *Options) { o.Stats = fakeStats{appID: "app"} })
	app := appID
	sidecar := sidecarID
	for _, tc := range []struct {
		name, source, path string
		status             int
		want               string
	}{
		{"v2 task stats: null for no sample", bridgeIP + ":1", "/v2/stats", 200, fmt.Sprintf(`{%q:{"name":"app","id":%q},%q:null}`, app, app, sidecar)},
		{"v2 task stats with slash", bridgeIP + ":1", "/v2/stats/", 200, fmt.Sprintf(`{%q:{"name":"app","id":%q},%q:null}`, app, app, sidecar)},
		{"v2 container stats", bridgeIP + ":1", "/v2/stats/" + app, 200, fmt.Sprintf(`{"name":"app","id":%q}`, app)},
		{"v2 container without sample", bridgeIP + ":1", "/v2/stats/" + sidecar, 400, `"Unable to get container stats for: ` + sidecar + `"`},
		{"v2 unknown caller", "10.9.9.9:1", "/v2/stats", 400, `"Unable to get task arn from request: unable to associate '10.9.9.9' with task"`},
		{"v3 container", "127.0.0.1:1", "/v3/" + epApp + "/stats", 200, fmt.Sprintf(`{"name":"app","id":%q}`, app)},
		{"v3 task: null for no sample", "127.0.0.1:1", "/v3/" + epApp + "/task/stats", 200, fmt.Sprintf(`{%q:{"name":"app","id":%q},%q:null}`, app, app, sidecar)},
		{"v4 container has network rates", "127.0.0.1:1", "/v4/" + epApp + "/stats", 200,
			fmt.Sprintf(`{"name":"app","id":%q,"network_rate_stats":{"rx_bytes_per_sec":1.5,"tx_bytes_per_sec":2.5}}`, app)},
		{"v4 task: {} for no sample", "127.0.0.1:1", "/v4/" + epSidecar + "/task/stats", 200,
			fmt.Sprintf(`{%q:{"name":"app","id":%q,"network_rate_stats":{"rx_bytes_per_sec":1.5,"tx_bytes_per_sec":2.5}},%q:{}}`, app, app, sidecar)},
		{"v4 container without sample", "127.0.0.1:1", "/v4/" + epSidecar + "/stats", 500, `"Unable to get container stats for: ` + sidecar + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertJSON(t, do(h, tc.source, tc.path), tc.status, tc.want)
		})
	}
}

// apiErr looks like an AWS SDK v2 error with a code, an HTTP status and a request ID.
type apiErr struct{}

func (apiErr) Error() string {
	return "operation error ECS: ListTagsForResource, AccessDeniedException: no"
}
func (apiErr) ErrorCode() string        { return "AccessDeniedException" }
func (apiErr) ErrorMessage() string     { return "not authorized" }
func (apiErr) HTTPStatusCode() int      { return 400 }
func (apiErr) ServiceRequestID() string { return "req-1" }

func TestTags(t *testing.T) {
	f := newFixture(t)
	tags := fakeTags{tags: map[string]map[string]string{
		ciARN:             {"rack": "r1"},
		taskARN(awsvpcID): {"env": "prod"},
	}, err: fmt.Errorf("list tags: %w", apiErr{})}
	h := f.handler(t, func(o *Options) { o.Tags = tags })
	base := awsvpcTaskV4[:len(awsvpcTaskV4)-1]
	assertJSON(t, do(h, "127.0.0.1:1", "/v4/"+epWeb+"/taskWithTags"), 200,
		base+`,"TaskTags":{"env":"prod"},"ContainerInstanceTags":{"rack":"r1"}}`)
	// Without tags (the plain route) nothing is looked up.
	assertJSON(t, do(h, "127.0.0.1:1", "/v4/"+epWeb+"/task"), 200, awsvpcTaskV4)

	// The bridge task has no tags entry: v4 reports the failure, v2/v3 only leave it out.
	rec := do(h, "127.0.0.1:1", "/v4/"+epApp+"/taskWithTags")
	doc := decode(t, rec.Body.Bytes()).(map[string]any)
	want := mustJSON(t, `[{"ErrorField":"TaskTags","ErrorCode":"AccessDeniedException","ErrorMessage":"not authorized","StatusCode":400,"RequestId":"req-1","ResourceARN":"`+taskARN(bridgeID)+`"}]`)
	if !reflect.DeepEqual(doc["Errors"], want) {
		t.Errorf("v4 Errors = %v, want %v", doc["Errors"], want)
	}
	if _, ok := doc["TaskTags"]; ok {
		t.Errorf("v4 TaskTags present despite failure")
	}
	rec = do(h, "127.0.0.1:1", "/v3/"+epApp+"/taskWithTags")
	doc = decode(t, rec.Body.Bytes()).(map[string]any)
	if _, ok := doc["Errors"]; ok {
		t.Errorf("v3 reports Errors: %v", doc["Errors"])
	}
	if got := fmt.Sprint(doc["ContainerInstanceTags"]); got != "map[rack:r1]" {
		t.Errorf("v3 ContainerInstanceTags = %s", got)
	}

	// A plain error fills only what it can.
	h = f.handler(t, func(o *Options) {
		o.Tags = fakeTags{err: errors.New("boom")}
		o.Instance = func() Instance { return Instance{Cluster: cluster} }
	})
	rec = do(h, "127.0.0.1:1", "/v4/"+epWeb+"/taskWithTags")
	doc = decode(t, rec.Body.Bytes()).(map[string]any)
	want = mustJSON(t, `[{"ErrorField":"TaskTags","ErrorMessage":"boom","ResourceARN":"`+taskARN(awsvpcID)+`"}]`)
	if !reflect.DeepEqual(doc["Errors"], want) {
		t.Errorf("v4 Errors = %v, want %v", doc["Errors"], want)
	}
}

var _ TagSource = fakeTags{}

func TestPanicBecomes500(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, func(o *Options) {
		o.AgentAPI = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("bug") })
	})
	rec := do(h, "127.0.0.1:1", "/api/x")
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Connection") != "close" {
		t.Fatalf("status %d, Connection %q", rec.Code, rec.Header().Get("Connection"))
	}
}

func TestNewHandlerNeedsReader(t *testing.T) {
	if _, err := NewHandler(Options{}); err == nil {
		t.Fatal("NewHandler without a Reader succeeded")
	}
}
