package objectapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// tableOf GETs path as a Table and returns it with its rows as name -> cells (rendered
// with %v, as a printer would).
func tableOf(t *testing.T, e *env, path string) (*metav1.Table, map[string][]string) {
	t.Helper()
	var tbl metav1.Table
	e.getJSON(path, tableAccept, &tbl)
	if tbl.Kind != "Table" || tbl.APIVersion != "meta.k8s.io/v1" {
		t.Fatalf("GET %s as Table: %s %s", path, tbl.APIVersion, tbl.Kind)
	}
	rows := map[string][]string{}
	for _, r := range tbl.Rows {
		if len(r.Cells) != len(tbl.ColumnDefinitions) {
			t.Fatalf("row %v has %d cells for %d columns", r.Cells, len(r.Cells), len(tbl.ColumnDefinitions))
		}
		cells := make([]string, len(r.Cells))
		for i, c := range r.Cells {
			cells[i] = fmt.Sprint(c)
		}
		rows[cells[0]] = cells
	}
	return &tbl, rows
}

func columnNames(tbl *metav1.Table, priority int32) []string {
	var out []string
	for _, c := range tbl.ColumnDefinitions {
		if c.Priority == priority {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestTables(t *testing.T) {
	e := newEnv(t, fixture()...)
	for _, tc := range []struct {
		resource     string
		columns      []string
		wideColumns  []string
		name         string
		cells        []string // priority 0 then wide, in column order
		otherName    string
		otherCellsAt map[int]string
	}{
		{
			resource:    "tasks",
			columns:     []string{"Name", "Family:Revision", "Desired", "Known", "Network", "Ready", "Age"},
			wideColumns: []string{"ARN", "IP", "Stopped Reason"},
			// web1: app running, sidecar stopped: 1/2 ready; bridge: the containers' addresses.
			name:  "web1",
			cells: []string{"web1", "web:3", "RUNNING", "RUNNING", "bridge", "1/2", "3d", "arn:aws:ecs:us-west-2:111122223333:task/prod/web1", "172.17.0.5", "<none>"},
			// batch1: awsvpc, stopped, the task's address.
			otherName:    "batch1",
			otherCellsAt: map[int]string{1: "batch:1", 3: "STOPPED", 4: "awsvpc", 5: "0/1", 8: "10.0.0.7", 9: "Task stopped by user"},
		},
		{
			resource:     "containers",
			columns:      []string{"Name", "Task", "Image", "Desired", "Known", "Health", "Exit Code", "Restarts", "Age"},
			wideColumns:  []string{"Runtime ID", "IP", "Ports", "Reason"},
			name:         "web1-app",
			cells:        []string{"web1-app", "web1", "nginx:1.27", "RUNNING", "RUNNING", "HEALTHY", "<none>", "2", "3d", "web1-app", "172.17.0.5", "0.0.0.0:32768->80/tcp", "<none>"},
			otherName:    "web1-sidecar",
			otherCellsAt: map[int]string{4: "STOPPED", 5: "<none>", 6: "3", 7: "0", 12: "Essential container exited"},
		},
		{
			resource:    "images",
			columns:     []string{"Name", "References", "Size", "Users", "Pulled", "Last Used", "Cleanup", "Age"},
			wideColumns: []string{"Digest", "Kept Because"},
			name:        "sha256-abc",
			cells:       []string{"sha256-abc", "nginx:1.27", "12.0MiB", "1", "<none>", "<none>", "in use by web1-app", "3d", "sha256:abc", "in use by web1-app"},
		},
		{
			resource:    "attachments",
			columns:     []string{"Name", "Status", "MAC", "IPv4", "Task", "Interface", "Age"},
			wideColumns: []string{"ARN", "Expires", "Sent", "Reason"},
			name:        "att-1",
			cells:       []string{"att-1", "ATTACHED", "0a:00:00:00:00:01", "10.0.0.7", "batch1", "eth1", "3d", "arn:aws:ecs:us-west-2:111122223333:attachment/att-1", "<none>", "<none>", "<none>"},
		},
		{
			resource:    "instances",
			columns:     []string{"Name", "Cluster", "Container Instance", "ACS", "TCS", "Registered", "Age"},
			wideColumns: []string{"ARN", "EC2 Instance", "Availability Zone"},
			name:        "instance",
			cells:       []string{"instance", "prod", "ci-1", "Connected", "Disconnected", "<none>", "3d", "arn:aws:ecs:us-west-2:111122223333:container-instance/prod/ci-1", "i-0123", "<none>"},
		},
	} {
		t.Run(tc.resource, func(t *testing.T) {
			tbl, rows := tableOf(t, e, nsPath+"/"+tc.resource)
			if got := columnNames(tbl, 0); !slices.Equal(got, tc.columns) {
				t.Errorf("columns %v, want %v", got, tc.columns)
			}
			if got := columnNames(tbl, 1); !slices.Equal(got, tc.wideColumns) {
				t.Errorf("wide columns %v, want %v", got, tc.wideColumns)
			}
			if tbl.ResourceVersion != e.st.ResourceVersion() {
				t.Errorf("table resourceVersion %q, want %q", tbl.ResourceVersion, e.st.ResourceVersion())
			}
			if got := rows[tc.name]; !slices.Equal(got, tc.cells) {
				t.Errorf("row %s:\n got %q\nwant %q", tc.name, got, tc.cells)
			}
			for i, want := range tc.otherCellsAt {
				if got := rows[tc.otherName]; len(got) <= i || got[i] != want {
					t.Errorf("row %s column %s: %q, want %q", tc.otherName, tbl.ColumnDefinitions[i].Name, got, want)
				}
			}
			// A get as Table is a one-row table.
			_, one := tableOf(t, e, nsPath+"/"+tc.resource+"/"+tc.name)
			if len(one) != 1 || !slices.Equal(one[tc.name], tc.cells) {
				t.Errorf("get as Table: %q", one)
			}
		})
	}
}

// The image Cleanup cell says when cleanup may remove an image, or why it keeps it.
func TestImageCleanupCell(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	rc := &rowContext{now: now}
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(d)); return &t }
	for _, tc := range []struct {
		status api.ImageStatus
		want   string
	}{
		{api.ImageStatus{KeptBecause: "used less than 1h ago (ECS_IMAGE_MINIMUM_CLEANUP_AGE)", CleanupAfter: at(40 * time.Minute)}, "in 40m"},
		{api.ImageStatus{KeptBecause: "waiting for the next cleanup cycle", CleanupAfter: at(-time.Minute)}, "due"},
		{api.ImageStatus{KeptBecause: "removal failed: busy", CleanupAfter: at(-time.Minute)}, "removal failed: busy"},
		{api.ImageStatus{KeptBecause: "excluded by ECS_EXCLUDE_UNTRACKED_IMAGE (app:1)"}, "excluded by ECS_EXCLUDE_UNTRACKED_IMAGE (app:1)"},
		{api.ImageStatus{}, "<none>"},
	} {
		if got := rc.cleanup(&api.Image{Status: tc.status}); got != tc.want {
			t.Errorf("cleanup cell of %+v: %q, want %q", tc.status, got, tc.want)
		}
	}
}

// READY counts the task's running containers as they change.
func TestTaskReadyFollowsContainers(t *testing.T) {
	e := newEnv(t, fixture()...)
	setStatus(e, webSidecar(), func(c *api.Container) { c.Status.KnownStatus = api.ContainerStatusRunning })
	if _, rows := tableOf(t, e, nsPath+"/tasks/web1"); rows["web1"][5] != "2/2" {
		t.Errorf("READY %q after the sidecar runs, want 2/2", rows["web1"][5])
	}
}

// includeObject: Metadata (the default) puts PartialObjectMetadata in each row, Object the
// whole object, None nothing.
func TestTableIncludeObject(t *testing.T) {
	e := newEnv(t, fixture()...)
	for _, tc := range []struct{ query, kind string }{
		{"", "PartialObjectMetadata"},
		{"?includeObject=Metadata", "PartialObjectMetadata"},
		{"?includeObject=Object", "Task"},
		{"?includeObject=None", ""},
	} {
		var tbl metav1.Table
		e.getJSON(nsPath+"/tasks/web1"+tc.query, tableAccept, &tbl)
		raw := tbl.Rows[0].Object.Raw
		if tc.kind == "" {
			if len(raw) != 0 && string(raw) != "null" {
				t.Errorf("%s: row object %s, want none", tc.query, raw)
			}
			continue
		}
		var obj struct {
			metav1.TypeMeta
			Metadata metav1.ObjectMeta `json:"metadata"`
			Spec     *api.TaskSpec     `json:"spec"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if obj.Kind != tc.kind || obj.Metadata.Name != "web1" || obj.Metadata.Namespace != api.Namespace ||
			obj.Metadata.Labels[api.LabelFamily] != "web" || (tc.kind == "Task") != (obj.Spec != nil) {
			t.Errorf("%s: row object %s", tc.query, raw)
		}
	}
}

// A watch asking for Tables gets one-row Tables, as kubectl get -w does.
func TestWatchAsTable(t *testing.T) {
	e := newEnv(t, fixture()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := e.open(ctx, nsPath+"/tasks?watch=true&resourceVersion="+e.st.ResourceVersion(), tableAccept)
	setStatus(e, webTask(), func(t *api.Task) { t.Status.KnownStatus = api.TaskStatusStopped })
	ev := s.mustNext()
	var tbl metav1.Table
	if err := json.Unmarshal(ev.Object, &tbl); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "MODIFIED" || tbl.Kind != "Table" || len(tbl.Rows) != 1 || len(tbl.ColumnDefinitions) == 0 ||
		tbl.Rows[0].Cells[0] != "web1" || tbl.Rows[0].Cells[3] != "STOPPED" {
		t.Fatalf("event %s %s", ev.Type, ev.Object)
	}
}

// PartialObjectMetadata is served for lists and gets.
func TestPartialObjectMetadata(t *testing.T) {
	e := newEnv(t, fixture()...)
	var l metav1.PartialObjectMetadataList
	e.getJSON(nsPath+"/containers", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1", &l)
	if l.Kind != "PartialObjectMetadataList" || len(l.Items) != 3 || l.ResourceVersion == "" {
		t.Errorf("list = %+v", l)
	}
	var m metav1.PartialObjectMetadata
	e.getJSON(nsPath+"/containers/web1-app", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", &m)
	if m.Kind != "PartialObjectMetadata" || m.Name != "web1-app" {
		t.Errorf("get = %+v", m)
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "<none>"}, {512, "512B"}, {1536, "1.5KiB"}, {12 << 20, "12.0MiB"}, {3 << 30, "3.0GiB"}} {
		if got := byteSize(tc.n); got != tc.want {
			t.Errorf("byteSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
