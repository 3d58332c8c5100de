package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ecsd/ecsd/internal/secretfile"
)

// serverTable fetches the server's own Table for path, to compare ecsctl's output with.
func (e *env) serverTable(t *testing.T, path string) *metav1.Table {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", tableAccept)
	e.authorize(t, req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s as Table: %s", path, resp.Status)
	}
	var table metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil {
		t.Fatal(err)
	}
	return &table
}

// headerOf is the header line kubectl's printer makes of the table's columns: the
// default ones, or all with wide.
func headerOf(table *metav1.Table, wide bool) string {
	var cols []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 || wide {
			cols = append(cols, strings.ToUpper(c.Name))
		}
	}
	return squeeze(strings.Join(cols, " "))
}

const tasksPath = "/apis/ecs.ecsd.io/v1alpha1/namespaces/ecs/tasks"

// TestGetTable checks the default output: the server's table, printed as kubectl does,
// whatever name the kind is given by.
func TestGetTable(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	table := e.serverTable(t, tasksPath)
	header, wideHeader := headerOf(table, false), headerOf(table, true)
	if header == wideHeader {
		t.Fatalf("the server's task table has no wide columns; the -o wide cases would prove nothing")
	}
	tests := []struct {
		name      string
		args      []string
		header    string
		rows      []string // each row's leading fields, in order
		contains  []string // substrings of the whole output
		forbidden []string
	}{
		{name: "plural", args: []string{"get", "tasks"}, header: header,
			rows:      []string{"batch1 batch:1 STOPPED STOPPED awsvpc 0/1", "web1 web:3 RUNNING RUNNING bridge 2/2"},
			forbidden: []string{"arn:aws:ecs"}},
		{name: "singular", args: []string{"get", "task"}, header: header, rows: []string{"batch1 ", "web1 "}},
		{name: "short name", args: []string{"get", "t"}, header: header, rows: []string{"batch1 ", "web1 "}},
		{name: "kind", args: []string{"get", "Task"}, header: header, rows: []string{"batch1 ", "web1 "}},
		{name: "by name", args: []string{"get", "t", "batch1"}, header: header, rows: []string{"batch1 batch:1"}},
		{name: "kind/name", args: []string{"get", "task/web1"}, header: header, rows: []string{"web1 web:3"}},
		{name: "wide", args: []string{"get", "t", "-o", "wide"}, header: wideHeader,
			rows:     []string{"batch1 batch:1", "web1 web:3"},
			contains: []string{taskARN("web1"), taskARN("batch1"), "10.199.0.9", "Essential container in task exited"}},
		{name: "label selector", args: []string{"get", "tasks", "-l", "com.amazonaws.ecs.task-definition-family=web"},
			header: header, rows: []string{"web1 web:3"}},
		{name: "label selector on containers", args: []string{"get", "containers", "-l", "ecs.ecsd.io/task=web1"},
			rows: []string{"web1-app web1", "web1-sidecar web1"}},
		{name: "field selector", args: []string{"get", "t", "--field-selector", "metadata.name=batch1"},
			header: header, rows: []string{"batch1 "}},
		{name: "no headers", args: []string{"get", "t", "--no-headers"}, rows: []string{"batch1 ", "web1 "}},
		{name: "all namespaces", args: []string{"get", "t", "-A"}, header: "NAMESPACE " + header,
			rows: []string{"ecs batch1 batch:1", "ecs web1 web:3"}},
		{name: "two kinds", args: []string{"get", "tasks,images"},
			rows: []string{"task.ecs.ecsd.io/batch1 ", "task.ecs.ecsd.io/web1 ", "image.ecs.ecsd.io/sha256-aaaa"}},
		{name: "show labels", args: []string{"get", "t", "web1", "--show-labels"}, header: header + " LABELS",
			rows: []string{"web1 web:3"}, contains: []string{"com.amazonaws.ecs.task-definition-family=web,ecs.ecsd.io/task=web1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.ecsctl(t, tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr: %s", r.code, r.err)
			}
			got := lines(r.out)
			if tc.header != "" {
				if len(got) == 0 || got[0] != tc.header {
					t.Fatalf("header: got %q, want %q\n%s", first(got), tc.header, r.out)
				}
				got = got[1:]
			}
			var rows []string
			for _, l := range got {
				if !isHeader(l) {
					rows = append(rows, l)
				}
			}
			if len(rows) != len(tc.rows) {
				t.Fatalf("got %d rows, want %d:\n%s", len(rows), len(tc.rows), r.out)
			}
			for i, want := range tc.rows {
				if !strings.HasPrefix(rows[i]+" ", want) {
					t.Errorf("row %d: got %q, want it to start with %q", i, rows[i], want)
				}
			}
			for _, s := range tc.contains {
				if !strings.Contains(r.out, s) {
					t.Errorf("output lacks %q:\n%s", s, r.out)
				}
			}
			for _, s := range tc.forbidden {
				if strings.Contains(r.out, s) {
					t.Errorf("output has %q:\n%s", s, r.out)
				}
			}
		})
	}
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// isHeader tells the header lines of a multi-kind listing from rows.
func isHeader(l string) bool { return strings.HasPrefix(l, "NAME ") }

// TestGetOutputFormats checks the machine-readable outputs.
func TestGetOutputFormats(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	// The check closures are their cases' subtest bodies; Helper() would report failures at
	// tc.check instead of at the assertion that failed.
	//nolint:thelper // table check closures are subtest bodies, not helpers
	tests := []struct {
		name string
		args []string
		want string // exact output
		// check, if set, replaces want.
		check func(t *testing.T, out string)
	}{
		{name: "name", args: []string{"get", "t", "-o", "name"},
			want: "task.ecs.ecsd.io/batch1\ntask.ecs.ecsd.io/web1\n"},
		{name: "name of one", args: []string{"get", "containers", "web1-app", "-o", "name"},
			want: "container.ecs.ecsd.io/web1-app\n"},
		{name: "jsonpath on one", args: []string{"get", "t", "web1", "-o", "jsonpath={.spec.family}:{.status.knownStatus}"},
			want: "web:RUNNING"},
		{name: "jsonpath on a list", args: []string{"get", "tasks", "-o", "jsonpath={.items[*].metadata.name}"},
			want: "batch1 web1"},
		{name: "custom columns", args: []string{"get", "t", "-o", "custom-columns=NAME:.metadata.name,KNOWN:.status.knownStatus,REASON:.status.stoppedReason"},
			check: func(t *testing.T, out string) {
				want := []string{"NAME KNOWN REASON", "batch1 STOPPED Essential container in task exited", "web1 RUNNING <none>"}
				if got := lines(out); !slices.Equal(got, want) {
					t.Errorf("got %q, want %q", got, want)
				}
			}},
		{name: "json list", args: []string{"get", "containers", "-o", "json"},
			check: func(t *testing.T, out string) {
				var list struct {
					Kind  string `json:"kind"`
					Items []struct {
						Kind     string            `json:"kind"`
						Metadata metav1.ObjectMeta `json:"metadata"`
					} `json:"items"`
				}
				if err := json.Unmarshal([]byte(out), &list); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, out)
				}
				var names []string
				for _, i := range list.Items {
					if i.Kind != "Container" {
						t.Errorf("item kind %q", i.Kind)
					}
					names = append(names, i.Metadata.Name)
				}
				slices.Sort(names)
				if list.Kind != "List" || !slices.Equal(names, []string{"batch1-job", "web1-app", "web1-sidecar"}) {
					t.Errorf("got a %s of %v", list.Kind, names)
				}
			}},
		{name: "yaml one", args: []string{"get", "task", "batch1", "-o", "yaml"},
			check: func(t *testing.T, out string) {
				for _, s := range []string{"kind: Task\n", "  name: batch1\n", "stoppedReason: Essential container in task exited\n"} {
					if !strings.Contains(out, s) {
						t.Errorf("yaml lacks %q:\n%s", s, out)
					}
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.ecsctl(t, tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr: %s", r.code, r.err)
			}
			if tc.check != nil {
				tc.check(t, r.out)
			} else if r.out != tc.want {
				t.Errorf("got %q, want %q", r.out, tc.want)
			}
		})
	}
}

// TestGetErrors checks what a user sees when a get goes wrong.
func TestGetErrors(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	tests := []struct {
		name    string
		args    []string
		code    int
		out     string
		errWant string
	}{
		{name: "missing object", args: []string{"get", "task", "nope"}, code: 1,
			errWant: `Error from server (NotFound): tasks.ecs.ecsd.io "nope" not found`},
		{name: "one of two missing", args: []string{"get", "t", "web1", "nope", "-o", "name"}, code: 1,
			out: "task.ecs.ecsd.io/web1\n", errWant: `"nope" not found`},
		{name: "unknown kind", args: []string{"get", "pods"}, code: 1,
			errWant: `the server doesn't have a resource type "pods"`},
		{name: "no kind", args: []string{"get"}, code: 1, errWant: "tasks (t)"},
		{name: "empty kind", args: []string{"get", "attachments"}, code: 0,
			errWant: "No resources found in ecs namespace."},
		{name: "bad output", args: []string{"get", "t", "-o", "xml"}, code: 1, errWant: `unknown output format "xml"`},
		{name: "bad selector", args: []string{"get", "t", "-l", "a=(b"}, code: 1, errWant: `label selector "a=(b"`},
		{name: "bad timeout", args: []string{"get", "t", "--request-timeout", "soon"}, code: 1, errWant: "--request-timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.ecsctl(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.code, r.err)
			}
			if r.out != tc.out {
				t.Errorf("stdout %q, want %q", r.out, tc.out)
			}
			if !strings.Contains(r.err, tc.errWant) {
				t.Errorf("stderr %q lacks %q", r.err, tc.errWant)
			}
		})
	}
}

// TestKindNamesFromDiscovery checks that every name discovery gives a kind (plural,
// singular, each short name) lists the same objects as the plural, so no name is
// hard-coded in ecsctl.
func TestKindNamesFromDiscovery(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	tok, err := secretfile.Read(e.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newClientGetter(context.Background(), e.url, 0, string(tok), "")
	if err != nil {
		t.Fatal(err)
	}
	dc, err := c.ToDiscoveryClient()
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion("ecs.ecsd.io/v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range list.APIResources {
		if strings.Contains(r.Name, "/") {
			continue
		}
		want := e.ecsctl(t, "get", r.Name, "-o", "name")
		if want.code != 0 {
			t.Fatalf("get %s: %s", r.Name, want.err)
		}
		for _, alias := range append([]string{r.SingularName, r.Kind}, r.ShortNames...) {
			seen[alias] = true
			got := e.ecsctl(t, "get", alias, "-o", "name")
			if got.code != 0 || got.out != want.out {
				t.Errorf("get %s: exit %d, %q; want %q as for %s (stderr %q)", alias, got.code, got.out, want.out, r.Name, got.err)
			}
		}
	}
	if !seen["t"] {
		t.Errorf("discovery gives tasks no short name t: %+v", list.APIResources)
	}
}
