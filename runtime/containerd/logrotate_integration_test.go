//go:build integration

package containerd

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
)

// TestLogRotationBoundsTheDisk runs a container that prints 1 GiB with the json-file
// limits max-size=10m, max-file=3: once the logger has taken all of it, at most three
// files of at most 10 MiB each are left, and the current one ends with a whole line.
func TestLogRotationBoundsTheDisk(t *testing.T) {
	r := newTestRuntime(t)
	pullBusybox(t, r)
	const total = 1 << 30
	const maxSize = 10 << 20
	cfg := busybox(t, "sh", "-c", "yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq | head -c "+strconv.Itoa(total))
	cfg.Logging = runtime.LogSettings{LoggerArgs: map[string]string{
		"--" + containerlog.FlagMaxSize: strconv.Itoa(maxSize),
		"--" + containerlog.FlagMaxFile: "3",
	}}
	run(t, r, cfg)
	if st := waitExit(t, r, cfg.ID, 3*time.Minute); st.ExitCode != 0 {
		t.Fatalf("container exited with %d", st.ExitCode)
	}
	start := time.Now()
	testutil.EventuallyWithin(t, time.Minute, "the logger to take all of the output", func() bool {
		st, err := containerlog.ReadStatus(cfg.LogPath)
		if time.Since(start) > 50*time.Second {
			t.Logf("status %+v, %v", st, err)
		}
		return err == nil && st.WrittenBytes+st.DroppedBytes >= total
	})
	st, _ := containerlog.ReadStatus(cfg.LogPath)
	if st.WrittenBytes < 4*maxSize {
		t.Fatalf("only %d bytes written (dropped %d): rotation was not exercised", st.WrittenBytes, st.DroppedBytes)
	}
	var onDisk int64
	entries, err := os.ReadDir(filepath.Dir(cfg.LogPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", e.Name(), fi.Size())
		if e.Name() == filepath.Base(containerlog.StatusPath(cfg.LogPath)) {
			continue
		}
		if fi.Size() > maxSize {
			t.Errorf("%s has %d bytes, more than max-size %d", e.Name(), fi.Size(), maxSize)
		}
		onDisk += fi.Size()
	}
	if onDisk > 3*maxSize {
		t.Errorf("%d bytes of log on disk, more than 30 MiB", onDisk)
	}
	for i, want := range []bool{true, true, true, false} {
		if _, err := os.Stat(containerlog.RotatedPath(cfg.LogPath, i)); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", containerlog.RotatedPath(cfg.LogPath, i), err == nil, want)
		}
	}
	t.Logf("written %d bytes, dropped %d; %d bytes on disk", st.WrittenBytes, st.DroppedBytes, onDisk)
}

// TestLogDriverNoneKeepsNothing: with Discard the container runs and no log file is made.
func TestLogDriverNoneKeepsNothing(t *testing.T) {
	r := newTestRuntime(t)
	pullBusybox(t, r)
	cfg := busybox(t, "sh", "-c", "yes | head -c 1000000")
	cfg.Logging = runtime.LogSettings{Discard: true}
	run(t, r, cfg)
	if st := waitExit(t, r, cfg.ID, time.Minute); st.ExitCode != 0 {
		t.Fatalf("container exited with %d", st.ExitCode)
	}
	if fi, err := os.Stat(cfg.LogPath); err == nil {
		t.Fatalf("log file exists with %d bytes", fi.Size())
	}
}
