package objectapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

func TestListEveryKind(t *testing.T) {
	e := newEnv(t, fixture()...)
	for _, tc := range []struct{ resource, kind, want string }{
		{"tasks", "TaskList", "batch1,web1"},
		{"containers", "ContainerList", "batch1-job,web1-app,web1-sidecar"},
		{"images", "ImageList", "sha256-abc"},
		{"attachments", "AttachmentList", "att-1"},
		{"instances", "InstanceList", "instance"},
	} {
		for _, path := range []string{nsPath + "/" + tc.resource, groupPath + "/" + tc.resource,
			groupPath + "/namespaces/default/" + tc.resource} {
			code, b := e.get(path, "")
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, code, b)
			}
			var l struct {
				metav1.TypeMeta
				Metadata metav1.ListMeta `json:"metadata"`
			}
			if err := json.Unmarshal(b, &l); err != nil {
				t.Fatal(err)
			}
			if l.Kind != tc.kind || l.APIVersion != "ecs.ecsd.io/v1alpha1" {
				t.Errorf("GET %s: %s %s, want ecs.ecsd.io/v1alpha1 %s", path, l.APIVersion, l.Kind, tc.kind)
			}
			if l.Metadata.ResourceVersion != e.st.ResourceVersion() {
				t.Errorf("GET %s: resourceVersion %q, want the store's %q", path, l.Metadata.ResourceVersion, e.st.ResourceVersion())
			}
			if got := names(t, b); got != tc.want {
				t.Errorf("GET %s: items %s, want %s", path, got, tc.want)
			}
		}
	}
	// Another namespace holds nothing.
	if code, b := e.get(groupPath+"/namespaces/other/tasks", ""); code != http.StatusOK || names(t, b) != "" {
		t.Errorf("namespace other: %d %s", code, b)
	}
}

func TestGet(t *testing.T) {
	e := newEnv(t, fixture()...)
	var task api.Task
	e.getJSON(nsPath+"/tasks/web1", "application/json", &task)
	if task.Kind != "Task" || task.APIVersion != "ecs.ecsd.io/v1alpha1" || task.Spec.Family != "web" ||
		task.Status.KnownStatus != api.TaskStatusRunning || task.ResourceVersion == "" || task.UID == "" {
		t.Errorf("task = %+v", task)
	}
	// kubectl without a namespace asks in "default".
	var c api.Container
	e.getJSON(groupPath+"/namespaces/default/containers/web1-app", "", &c)
	if c.Spec.TaskName != "web1" || c.Namespace != api.Namespace {
		t.Errorf("container through namespace default = %+v", c)
	}
}

func TestErrorsAreStatus(t *testing.T) {
	e := newEnv(t, fixture()...)
	for _, tc := range []struct {
		method, path string
		accept       string
		code         int
		reason       metav1.StatusReason
	}{
		{"GET", nsPath + "/tasks/nope", "", 404, metav1.StatusReasonNotFound},
		{"GET", nsPath + "/containers/nope/log", "", 404, metav1.StatusReasonNotFound},
		{"GET", nsPath + "/widgets", "", 404, metav1.StatusReasonNotFound},
		{"GET", nsPath + "/tasks/web1/status", "", 404, metav1.StatusReasonNotFound},
		{"GET", groupPath + "/tasks/web1", "", 404, metav1.StatusReasonNotFound}, // namespaced: needs its namespace
		{"GET", "/api/v1/pods", "", 404, metav1.StatusReasonNotFound},
		{"GET", "/apis/apps/v1", "", 404, metav1.StatusReasonNotFound},
		{"POST", nsPath + "/tasks", "", 405, metav1.StatusReasonMethodNotAllowed},
		{"PUT", nsPath + "/tasks/web1", "", 405, metav1.StatusReasonMethodNotAllowed},
		{"PATCH", nsPath + "/tasks/web1", "", 405, metav1.StatusReasonMethodNotAllowed},
		{"DELETE", nsPath + "/tasks/web1", "", 405, metav1.StatusReasonMethodNotAllowed},
		{"DELETE", nsPath + "/containers", "", 405, metav1.StatusReasonMethodNotAllowed},
		{"GET", nsPath + "/tasks?fieldSelector=spec.family%3Dweb", "", 400, metav1.StatusReasonBadRequest},
		{"GET", nsPath + "/tasks?labelSelector=" + url.QueryEscape("a in (b"), "", 400, metav1.StatusReasonBadRequest},
		{"GET", nsPath + "/tasks?watch=maybe", "", 400, metav1.StatusReasonBadRequest},
		{"GET", nsPath + "/tasks?includeObject=All", tableAccept, 400, metav1.StatusReasonBadRequest},
		{"GET", nsPath + "/tasks", "application/vnd.kubernetes.protobuf", 406, metav1.StatusReasonNotAcceptable},
	} {
		code, b := e.do(tc.method, tc.path, tc.accept)
		var st metav1.Status
		if err := json.Unmarshal(b, &st); err != nil {
			t.Errorf("%s %s: body is not a Status: %v\n%s", tc.method, tc.path, err, b)
			continue
		}
		if code != tc.code || st.Kind != "Status" || st.APIVersion != "v1" || st.Status != metav1.StatusFailure ||
			int(st.Code) != tc.code || st.Reason != tc.reason || st.Message == "" {
			t.Errorf("%s %s: %d %+v, want %d %s", tc.method, tc.path, code, st, tc.code, tc.reason)
		}
	}
	// A missing object names itself like the API server does.
	_, b := e.get(nsPath+"/tasks/nope", "")
	var st metav1.Status
	_ = json.Unmarshal(b, &st)
	if st.Details == nil || st.Details.Name != "nope" || st.Details.Kind != "tasks" || st.Details.Group != "ecs.ecsd.io" {
		t.Errorf("not found details = %+v", st.Details)
	}
}

func TestSelectors(t *testing.T) {
	e := newEnv(t, fixture()...)
	for _, tc := range []struct{ query, want string }{
		{"labelSelector=" + url.QueryEscape(api.LabelFamily+"=web"), "web1-app,web1-sidecar"},
		{"labelSelector=" + url.QueryEscape(api.LabelTaskName+" in (batch1)"), "batch1-job"},
		{"labelSelector=" + url.QueryEscape(api.LabelFamily+"!=web"), "batch1-job"},
		{"fieldSelector=" + url.QueryEscape("metadata.name=web1-app"), "web1-app"},
		{"fieldSelector=" + url.QueryEscape("metadata.name!=web1-app"), "batch1-job,web1-sidecar"},
		{"fieldSelector=" + url.QueryEscape("metadata.name=web1-app") + "&labelSelector=" + url.QueryEscape(api.LabelFamily+"=batch"), ""},
		// limit and continue are accepted; the list is always whole.
		{"limit=1", "batch1-job,web1-app,web1-sidecar"},
	} {
		code, b := e.get(nsPath+"/containers?"+tc.query, "")
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.query, code, b)
		}
		if got := names(t, b); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.query, got, tc.want)
		}
	}
}
