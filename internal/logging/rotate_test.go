package logging

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/internal/testutil"
)

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, r *RotatingFile, s string) {
	t.Helper()
	if _, err := r.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

var start = time.Date(2026, 11, 22, 13, 10, 0, 0, time.UTC)

// startClock is a fake clock at start: rotated files are named by the hour, so every test
// begins at the same known one.
func startClock() *clocktesting.FakeClock {
	c := testutil.Clock()
	c.SetTime(start)
	return c
}

func TestSizeRollover(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ecs-agent.log")
	clock := startClock()
	r, err := OpenRotatingFile(path, RotateOptions{Rollover: RolloverSize, MaxSize: 100, MaxBackups: 3, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 29) + "\n" // 30 bytes: three fit in 100, the fourth rotates
	for i := range 12 {
		write(t, r, fmt.Sprintf("%02d%s", i, line[2:]))
		clock.Step(time.Second)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// 12 lines / 3 per file = 4 files: the current one and 3 backups (nothing pruned yet).
	want := []string{
		"ecs-agent.log",
		"ecs-agent.log.2026-11-22-13-10-03",
		"ecs-agent.log.2026-11-22-13-10-06",
		"ecs-agent.log.2026-11-22-13-10-09",
	}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	for _, name := range want {
		content := readFile(t, filepath.Join(dir, name))
		if len(content) > 100 || len(content) != 90 {
			t.Errorf("%s has %d bytes", name, len(content))
		}
	}
	if got := readFile(t, filepath.Join(dir, want[1])); !strings.HasPrefix(got, "00") {
		t.Errorf("first backup starts with %q", got[:2])
	}
	if got := readFile(t, path); !strings.HasPrefix(got, "09") {
		t.Errorf("current file starts with %q", got[:2])
	}

	// Three more rotations keep only the 3 newest backups.
	r, err = OpenRotatingFile(path, RotateOptions{Rollover: RolloverSize, MaxSize: 100, MaxBackups: 3, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := 12; i < 21; i++ {
		write(t, r, fmt.Sprintf("%02d%s", i, line[2:]))
		clock.Step(time.Second)
	}
	_ = r.Close()
	want = []string{
		"ecs-agent.log",
		"ecs-agent.log.2026-11-22-13-10-12",
		"ecs-agent.log.2026-11-22-13-10-15",
		"ecs-agent.log.2026-11-22-13-10-18",
	}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after pruning files = %v, want %v", got, want)
	}
}

func TestSizeRolloverSameSecond(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	clock := startClock()
	r, err := OpenRotatingFile(path, RotateOptions{MaxSize: 10, MaxBackups: 2, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		write(t, r, fmt.Sprintf("line %d..\n", i)) // 10 bytes each: every write after the first rotates
	}
	_ = r.Close()
	// Rotations at the same second are .1, .2, ...; the oldest (bare stamp, then .1) are pruned.
	want := []string{"a.log", "a.log.2026-11-22-13-10-00.2", "a.log.2026-11-22-13-10-00.3"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	if got := readFile(t, filepath.Join(dir, want[2])); got != "line 3..\n" {
		t.Errorf("newest backup = %q", got)
	}
}

func TestOversizedWriteIsKeptWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	r, err := OpenRotatingFile(path, RotateOptions{MaxSize: 10, Now: startClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("y", 50) + "\n"
	write(t, r, big)
	_ = r.Close()
	if got := listDir(t, dir); !slices.Equal(got, []string{"a.log"}) || readFile(t, path) != big {
		t.Fatalf("files = %v", got)
	}
}

func TestHourlyRollover(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ecs-agent.log")
	clock := startClock() // 13:10
	r, err := OpenRotatingFile(path, RotateOptions{Rollover: RolloverHourly, MaxSize: 1, MaxBackups: 2, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	write(t, r, "a 13:10\n")
	clock.SetTime(start.Add(40 * time.Minute)) // 13:50, same hour; size is ignored
	write(t, r, "b 13:50\n")
	clock.SetTime(time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)) // exactly on the boundary
	write(t, r, "c 14:00\n")
	if got := listDir(t, dir); !slices.Equal(got, []string{"ecs-agent.log", "ecs-agent.log.2026-11-22-13"}) {
		t.Fatalf("files = %v", got)
	}
	if got := readFile(t, path+".2026-11-22-13"); got != "a 13:10\nb 13:50\n" {
		t.Errorf("13:00 file = %q", got)
	}
	// 15:00 passes without writes; the 14:00 file is rotated under its own hour at 16:05.
	clock.SetTime(time.Date(2026, 11, 22, 16, 5, 0, 0, time.UTC))
	write(t, r, "d 16:05\n")
	clock.SetTime(time.Date(2026, 11, 22, 17, 0, 1, 0, time.UTC))
	write(t, r, "e 17:00\n")
	_ = r.Close()
	want := []string{"ecs-agent.log", "ecs-agent.log.2026-11-22-14", "ecs-agent.log.2026-11-22-16"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v (13:00 pruned, MaxBackups 2)", got, want)
	}
	if got := readFile(t, path+".2026-11-22-14"); got != "c 14:00\n" {
		t.Errorf("14:00 file = %q", got)
	}
	if got := readFile(t, path); got != "e 17:00\n" {
		t.Errorf("current = %q", got)
	}
}

func TestHourlyRolloverAfterRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ecs-agent.log")
	if err := os.WriteFile(path, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	clock := startClock()
	r, err := OpenRotatingFile(path, RotateOptions{Rollover: RolloverHourly, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	write(t, r, "new\n")
	_ = r.Close()
	if got := readFile(t, path+".2026-11-22-09"); got != "old\n" {
		t.Errorf("old hour file = %q", got)
	}
	if got := readFile(t, path); got != "new\n" {
		t.Errorf("current = %q", got)
	}
}

func TestRolloverNoneAndUnrelatedFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	for _, name := range []string{"a.log.bak", "a.log.2026-01-01-00.x", "a.log.2020-01-01-00"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	clock := startClock()
	r, err := OpenRotatingFile(path, RotateOptions{Rollover: RolloverNone, MaxSize: 1, MaxBackups: 1, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		write(t, r, "xxxx\n")
		clock.Step(time.Hour)
	}
	_ = r.Close()
	if got := readFile(t, path); got != strings.Repeat("xxxx\n", 5) {
		t.Errorf("none rotated: %q", got)
	}
	// A size rotation prunes the old rotated file but leaves names it did not make.
	r, err = OpenRotatingFile(path, RotateOptions{MaxSize: 1, MaxBackups: 1, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	write(t, r, "y\n")
	_ = r.Close()
	want := []string{"a.log", "a.log.2026-01-01-00.x", "a.log.2026-11-22-18-10-00", "a.log.bak"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	if _, err := r.Write([]byte("z")); err == nil {
		t.Error("write after Close succeeded")
	}
}

func TestConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	clock := startClock()
	r, err := OpenRotatingFile(path, RotateOptions{MaxSize: 4096, MaxBackups: 1000, Now: func() time.Time {
		clock.Step(time.Millisecond) // distinct stamps are not required, but keep time moving
		return clock.Now()
	}})
	if err != nil {
		t.Fatal(err)
	}
	const workers, per = 8, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				if _, err := fmt.Fprintf(r, "worker=%d i=%03d %s\n", w, i, strings.Repeat("p", 40)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	_ = r.Close()
	total := 0
	names := listDir(t, dir)
	if len(names) < 5 {
		t.Errorf("expected several rotations, got %v", names)
	}
	for _, name := range names {
		content := readFile(t, filepath.Join(dir, name))
		if len(content) > 4096 {
			t.Errorf("%s has %d bytes", name, len(content))
		}
		for _, l := range strings.Split(strings.TrimSuffix(content, "\n"), "\n") {
			if !strings.HasPrefix(l, "worker=") || !strings.HasSuffix(l, strings.Repeat("p", 40)) {
				t.Fatalf("torn line %q in %s", l, name)
			}
			total++
		}
	}
	if total != workers*per {
		t.Errorf("got %d lines, want %d", total, workers*per)
	}
}

func TestNewWithRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.log")
	clock := startClock()
	l, closeFn, err := New(Options{
		Level: "none", FileLevel: "info", File: path, RolloverType: "hourly", MaxRollCount: 5, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Info("first")
	clock.Step(time.Hour)
	l.Info("second")
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"agent.log", "agent.log.2026-11-22-13"}) {
		t.Fatalf("files = %v", got)
	}
	if !strings.Contains(readFile(t, path), `msg=second`) {
		t.Errorf("current file: %s", readFile(t, path))
	}
	if _, _, err := New(Options{File: path, RolloverType: "daily"}); err == nil {
		t.Error("unknown rollover accepted")
	}
}
