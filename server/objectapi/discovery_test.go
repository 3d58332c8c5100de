package objectapi

import (
	"net/http"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// aggregatedAccept is what client-go 1.30+ (kubectl) sends for /api and /apis.
const aggregatedAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"

func TestDiscoveryDocuments(t *testing.T) {
	e := newEnv(t)

	var versions metav1.APIVersions
	e.getJSON("/api", aggregatedAccept, &versions)
	if versions.Kind != "APIVersions" || !slices.Equal(versions.Versions, []string{"v1"}) {
		t.Errorf("/api = %+v, want APIVersions with v1 (pods, for kubectl exec)", versions)
	}

	var groups metav1.APIGroupList
	e.getJSON("/apis", aggregatedAccept, &groups)
	if len(groups.Groups) != 1 || groups.Groups[0].Name != "ecs.ecsd.io" ||
		groups.Groups[0].PreferredVersion.GroupVersion != "ecs.ecsd.io/v1alpha1" {
		t.Errorf("/apis = %+v, want the one group ecs.ecsd.io preferring v1alpha1", groups)
	}

	var group metav1.APIGroup
	e.getJSON("/apis/ecs.ecsd.io", "", &group)
	if group.Name != "ecs.ecsd.io" || len(group.Versions) != 1 || group.Versions[0].Version != "v1alpha1" {
		t.Errorf("/apis/ecs.ecsd.io = %+v", group)
	}

	var list metav1.APIResourceList
	e.getJSON(groupPath, "", &list)
	if list.GroupVersion != "ecs.ecsd.io/v1alpha1" {
		t.Errorf("groupVersion %q", list.GroupVersion)
	}
	want := map[string]struct {
		kind, singular string
		short          []string
	}{
		"tasks":       {"Task", "task", []string{"t"}},
		"containers":  {"Container", "container", []string{"c", "ctr"}},
		"images":      {"Image", "image", []string{"img"}},
		"attachments": {"Attachment", "attachment", []string{"att", "eni"}},
		"instances":   {"Instance", "instance", []string{"inst", "ci"}},
	}
	seenShort := map[string]string{}
	got := map[string]metav1.APIResource{}
	for _, r := range list.APIResources {
		got[r.Name] = r
	}
	for name, w := range want {
		r, ok := got[name]
		if !ok {
			t.Errorf("resource %s missing from %v", name, list.APIResources)
			continue
		}
		// Every ecsd object lives in the namespace api.Namespace: every kind is namespaced.
		if r.Kind != w.kind || r.SingularName != w.singular || !r.Namespaced ||
			!slices.Equal(r.Verbs, metav1.Verbs{"get", "list", "watch"}) ||
			!slices.Equal(r.ShortNames, w.short) || !slices.Equal(r.Categories, []string{"ecs", "all"}) {
			t.Errorf("resource %s = %+v", name, r)
		}
		for _, s := range r.ShortNames {
			if other, dup := seenShort[s]; dup || got[s].Name != "" {
				t.Errorf("short name %q of %s clashes with %s", s, name, other)
			}
			seenShort[s] = name
		}
	}
	if r := got["containers/log"]; r.Kind != "Container" || !slices.Equal(r.Verbs, metav1.Verbs{"get"}) {
		t.Errorf("containers/log = %+v, want a get-only subresource", r)
	}
}

// Discovery answers plain documents with a plain application/json Content-Type even when
// aggregated discovery is asked for, which client-go reads as "not aggregated".
func TestDiscoveryContentTypeIsPlainJSON(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api", "/apis"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+p, nil)
		req.Header.Set("Accept", aggregatedAccept)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s Content-Type %q, want application/json", p, ct)
		}
	}
}

// client-go's discovery client (what kubectl and ecsctl use) finds every resource.
func TestDiscoveryWithClientGo(t *testing.T) {
	e := newEnv(t)
	dc, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: e.srv.URL, BearerToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("ServerGroupsAndResources: %v", err)
	}
	var found []string
	for _, l := range lists {
		for _, r := range l.APIResources {
			found = append(found, l.GroupVersion+"/"+r.Name)
		}
	}
	slices.Sort(found)
	want := []string{"ecs.ecsd.io/v1alpha1/attachments", "ecs.ecsd.io/v1alpha1/containers", "ecs.ecsd.io/v1alpha1/containers/exec",
		"ecs.ecsd.io/v1alpha1/containers/log", "ecs.ecsd.io/v1alpha1/images", "ecs.ecsd.io/v1alpha1/instances", "ecs.ecsd.io/v1alpha1/tasks",
		"v1/pods", "v1/pods/exec"}
	if !slices.Equal(found, want) {
		t.Errorf("discovered %v, want %v", found, want)
	}
}
