//go:build integration

package containerd

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/ecsd/ecsd/runtime"
)

// TestNoNewPrivileges: the option sets the kernel's no_new_privs bit of the process, and
// without it the bit stays clear (Docker's default).
func TestNoNewPrivileges(t *testing.T) {
	r := newTestRuntime(t)
	pullBusybox(t, r)
	for _, nnp := range []bool{true, false} {
		cfg := busybox(t, "sleep", "60")
		cfg.ID += strconv.FormatBool(nnp)
		cfg.NoNewPrivileges = nnp
		run(t, r, cfg)
		want := "NoNewPrivs:\t0"
		if nnp {
			want = "NoNewPrivs:\t1"
		}
		if out := execOK(t, r, cfg.ID, "grep", "NoNewPrivs", "/proc/1/status"); out != want {
			t.Errorf("nnp=%v: %q, want %q", nnp, out, want)
		}
	}
}

// TestInitRequiredNeverSkipped: a container asking for an init on a runtime that has none
// is refused, never run without it.
func TestInitRequiredNeverSkipped(t *testing.T) {
	r := newTestRuntime(t, WithInitPath(""))
	r.initOnce.Do(func() {}) // no init found: as on a host without any
	pullBusybox(t, r)
	cfg := busybox(t, "true")
	cfg.Init = true
	err := r.CreateContainer(testCtx(t), cfg)
	wantErrIs(t, err, errdefs.ErrFailedPrecondition)
	if !strings.Contains(err.Error(), "no static init binary") {
		t.Fatalf("err = %v", err)
	}
}

// TestSharedPIDAndIPCNamespaces runs a namespace holder on a directory root file system
// (ecsd-init --pause) and two containers joining its PID and IPC namespaces: each sees the
// other's processes, and the holder is PID 1 of them all.
func TestSharedPIDAndIPCNamespaces(t *testing.T) {
	r := newTestRuntime(t, WithInitPath(testInitPath))
	pullBusybox(t, r)
	root := t.TempDir()
	holder := runtime.ContainerConfig{
		ID:             "holder-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")),
		RootFS:         root,
		Entrypoint:     []string{"/ecsd-init", "--pause"},
		PrivateNetwork: true,
		Mounts:         []runtime.Mount{{Type: "bind", Source: testInitPath, Destination: "/ecsd-init", Options: []string{"ro"}}},
		LogPath:        filepath.Join(t.TempDir(), "holder.log"),
	}
	run(t, r, holder)
	st, err := r.InspectContainer(testCtx(t), holder.ID)
	if err != nil || st.Status != runtime.StatusRunning {
		t.Fatalf("holder: %+v, %v", st, err)
	}
	pidNS := runtime.Namespace{Path: "/proc/" + strconv.Itoa(int(st.Pid)) + "/ns/pid"}
	ipcNS := runtime.Namespace{Path: "/proc/" + strconv.Itoa(int(st.Pid)) + "/ns/ipc"}
	a := busybox(t, "sh", "-c", "exec sleep 1001")
	a.ID += "a"
	b := busybox(t, "sh", "-c", "exec sleep 1002")
	b.ID += "b"
	for _, c := range []*runtime.ContainerConfig{&a, &b} {
		c.PIDNamespace, c.IPCNamespace = pidNS, ipcNS
		run(t, r, *c)
	}
	ps := execOK(t, r, a.ID, "ps", "-o", "pid,args")
	if !strings.Contains(ps, "sleep 1002") || !strings.Contains(ps, "sleep 1001") {
		t.Fatalf("container a does not see b's process:\n%s", ps)
	}
	if got := execOK(t, r, b.ID, "cat", "/proc/1/cmdline"); !strings.HasPrefix(got, "/ecsd-init") {
		t.Fatalf("PID 1 of the shared namespace is %q, want the holder", got)
	}
	ipcA := execOK(t, r, a.ID, "readlink", "/proc/self/ns/ipc")
	ipcB := execOK(t, r, b.ID, "readlink", "/proc/self/ns/ipc")
	host, _ := os.Readlink("/proc/self/ns/ipc")
	if ipcA != ipcB || ipcA == host {
		t.Fatalf("IPC namespaces a=%s b=%s host=%s: want a shared one of their own", ipcA, ipcB, host)
	}
}
