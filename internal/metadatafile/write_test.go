package metadatafile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

func TestDir(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name      string
		dataDir   string
		taskID    string
		container string
		want      string // empty: an error is expected
	}{
		{name: "ok", dataDir: data, taskID: "6a1b2c", container: "app", want: filepath.Join(data, "metadata", "6a1b2c", "app")},
		{name: "ok with dashes and underscores", dataDir: data, taskID: "0f1e-22", container: "my_app-1", want: filepath.Join(data, "metadata", "0f1e-22", "my_app-1")},
		{name: "relative data dir", dataDir: "var/lib/ecs", taskID: "t", container: "app"},
		{name: "empty data dir", dataDir: "", taskID: "t", container: "app"},
		{name: "empty task", dataDir: data, taskID: "", container: "app"},
		{name: "dot task", dataDir: data, taskID: ".", container: "app"},
		{name: "dotdot task", dataDir: data, taskID: "..", container: "app"},
		{name: "task escaping", dataDir: data, taskID: "../../etc", container: "app"},
		{name: "task with slash", dataDir: data, taskID: "a/b", container: "app"},
		{name: "task with backslash", dataDir: data, taskID: `a\b`, container: "app"},
		{name: "task with NUL", dataDir: data, taskID: "a\x00", container: "app"},
		{name: "task containing dotdot", dataDir: data, taskID: "a..b", container: "app"},
		{name: "empty container", dataDir: data, taskID: "t", container: ""},
		{name: "dot container", dataDir: data, taskID: "t", container: "."},
		{name: "dotdot container", dataDir: data, taskID: "t", container: ".."},
		{name: "container escaping", dataDir: data, taskID: "t", container: "../../other/app"},
		{name: "container with slash", dataDir: data, taskID: "t", container: "x/y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Dir(tc.dataDir, tc.taskID, tc.container)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Dir = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Dir = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// list returns the names in dir.
func list(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	// The file must be world-readable whatever the agent's umask: the container's user is
	// not the agent's. Umask is process-wide, so no test in this package runs in parallel.
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })

	dir, err := Dir(t.TempDir(), "6a1b2c", "app")
	if err != nil {
		t.Fatal(err)
	}
	f := Build(testTask(""), testContainer(), testInstance(), false)
	path, err := Write(dir, f)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "ecs-container-metadata.json"); path != want {
		t.Errorf("path = %q, want %q", path, want)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != initialJSON {
		t.Errorf("content\n%s\nwant\n%s", got, initialJSON)
	}
	if names := list(t, dir); !slices.Equal(names, []string{FileName}) {
		t.Errorf("dir holds %v, want only %s (no temporary file left)", names, FileName)
	}
	for p, want := range map[string]os.FileMode{path: 0o644, dir: os.ModeDir | 0o755} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != want {
			t.Errorf("%s mode = %v, want %v", p, st.Mode(), want)
		}
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "metadata", "t", "app")
	first := Build(testTask(""), testContainer(), testInstance(), false)
	path, err := Write(dir, first)
	if err != nil {
		t.Fatal(err)
	}
	firstBytes, _ := encode(first)

	// A reader that opened the INITIAL file must keep reading it whole: the READY write
	// replaces the file by rename instead of truncating and rewriting it in place.
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	second := Build(testTask(""), testContainer(), testInstance(), true)
	if _, err := Write(dir, second); err != nil {
		t.Fatal(err)
	}
	secondBytes, _ := encode(second)

	old, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, firstBytes) {
		t.Errorf("an open reader saw\n%s\nwant the first write whole", old)
	}
	now, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(now, secondBytes) {
		t.Errorf("after the rewrite the file holds\n%s\nwant\n%s", now, secondBytes)
	}
	if names := list(t, dir); !slices.Equal(names, []string{FileName}) {
		t.Errorf("dir holds %v, want only %s", names, FileName)
	}
}

func TestWriteFailureLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory where the file should go makes the rename fail.
	if err := os.MkdirAll(filepath.Join(dir, FileName, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, File{Cluster: "prod"}); err == nil {
		t.Fatal("Write succeeded over a directory")
	}
	if names := list(t, dir); !slices.Equal(names, []string{FileName}) {
		t.Errorf("dir holds %v after a failed write, want only %s", names, FileName)
	}
	if _, err := Write("", File{}); err == nil {
		t.Error("Write to an empty dir succeeded")
	}
}

func TestRemoveTask(t *testing.T) {
	data := t.TempDir()
	write := func(task, container string) string {
		t.Helper()
		dir, err := Dir(data, task, container)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Write(dir, File{ContainerName: container})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("t1", "app")
	write("t1", "sidecar")
	other := write("t2", "app")

	for i := range 2 { // the second call finds nothing and must not fail
		if err := RemoveTask(data, "t1"); err != nil {
			t.Fatalf("RemoveTask #%d: %v", i+1, err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "metadata", "t1")); !os.IsNotExist(err) {
		t.Errorf("task dir still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another task's file is gone: %v", err)
	}
	if err := RemoveTask(data, "never-existed"); err != nil {
		t.Errorf("RemoveTask of an unknown task: %v", err)
	}
	if err := RemoveTask(filepath.Join(t.TempDir(), "no-data-dir-yet"), "t1"); err != nil {
		t.Errorf("RemoveTask without a metadata dir: %v", err)
	}

	// An ID that would name the metadata root itself, or escape it, is refused and removes
	// nothing.
	for _, id := range []string{"", ".", "..", "../..", "t2/app", "x/../.."} {
		if err := RemoveTask(data, id); err == nil {
			t.Errorf("RemoveTask(%q) succeeded, want an error", id)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a refused RemoveTask removed files: %v", err)
	}
	if err := RemoveTask("relative", "t1"); err == nil {
		t.Error("RemoveTask with a relative data dir succeeded")
	}
}
