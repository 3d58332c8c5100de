//go:build integration

package containerd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/internal/testutil"
)

// testLoggerPath is ecsd-logger built for this package's tests by TestMain: every test
// runtime logs through it, as the agent's does.
var testLoggerPath string

// testInitPath is ecsd-init, built by TestMain like the logger.
var testInitPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ecsd-logger-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testLoggerPath = filepath.Join(dir, "ecsd-logger")
	build := exec.Command("go", "build", "-o", testLoggerPath, "github.com/ecsd/ecsd/cmd/ecsd-logger")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build ecsd-logger: %v\n%s", err, out)
		os.Exit(1)
	}
	testInitPath = filepath.Join(dir, "ecsd-init")
	build = exec.Command("go", "build", "-o", testInitPath, "github.com/ecsd/ecsd/cmd/ecsd-init")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build ecsd-init: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// TestLogOnFullFilesystemNeverBlocksTheContainer runs a container that writes 16 KiB
// per round to stdout and counts its rounds in its own filesystem, with its log on a small
// tmpfs that the test then fills. The container keeps counting far past what a pipe and the
// logger's buffer could hold, the logger's status says it is dropping for lack of space,
// and once space is freed the log gets the marker line and then output again.
func TestLogOnFullFilesystemNeverBlocksTheContainer(t *testing.T) {
	r := newTestRuntime(t)
	pullBusybox(t, r)
	dir := testenv.MountTmpfs(t, "size=1m")
	ballast := filepath.Join(dir, "ballast")
	cfg := busybox(t, "sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > /tmp/rounds; head -c 16384 /dev/zero | tr '\0' x; echo " round $i"; sleep 0.01; done`)
	cfg.LogPath = filepath.Join(dir, "logs", cfg.ID+".log")
	run(t, r, cfg)
	testutil.EventuallyWithin(t, time.Minute, "the first rounds in the log", func() bool {
		b, _ := os.ReadFile(cfg.LogPath)
		return strings.Contains(string(b), " round 2\n")
	})
	testenv.FillUp(t, ballast)

	rounds := func() int {
		n, _ := strconv.Atoi(execOK(t, r, cfg.ID, "cat", "/tmp/rounds"))
		return n
	}
	testutil.EventuallyWithin(t, time.Minute, "the logger to report dropping for lack of space", func() bool {
		st, err := containerlog.ReadStatus(cfg.LogPath)
		return err == nil && st.Dropping && st.NoSpace && st.DroppedBytes > 0
	})
	// 200 rounds are 3.2 MiB: 50 times a pipe's capacity, three times the logger's buffer.
	start := rounds()
	testutil.EventuallyWithin(t, time.Minute, "the container to write 200 more rounds while the disk is full", func() bool { return rounds() >= start+200 })

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyWithin(t, time.Minute, "the marker and new output in the log", func() bool {
		b, _ := os.ReadFile(cfg.LogPath)
		i := strings.Index(string(b), containerlog.MarkerPrefix+"dropped ")
		return i >= 0 && strings.Contains(string(b[i:]), "no space left on device") && strings.Contains(string(b[i:]), " round ")
	})
	st, err := containerlog.ReadStatus(cfg.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.DroppedBytes < 200*16384 || st.Episodes < 1 {
		t.Fatalf("status after space returned: %+v", st)
	}
	// The container is still running, and stopping it ends the logger with the task.
	if err := r.Signal(testCtx(t), cfg.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitExit(t, r, cfg.ID, 30*time.Second)
	log := finalLog(t, r, cfg)
	if !strings.Contains(log, containerlog.MarkerPrefix) {
		t.Fatal("marker missing from the final log")
	}
}
