package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

const smapsSample = `00400000-0193f000 r-xp 00000000 fe:00 9982303                            /opt/ecs agent/ecs-agent (deleted)
Size:              21756 kB
Rss:               16124 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me dw sd
0193f000-03007000 r--p 0153f000 fe:00 9982303                            /opt/ecs agent/ecs-agent (deleted)
Size:              23328 kB
Rss:               17056 kB
Anonymous:             0 kB
VmFlags: rd mr mw me dw sd
03007000-03009000 r--p 02c07000 fe:00 9982303                            /opt/ecs agent/ecs-agent (deleted)
Size:                  8 kB
Rss:                   8 kB
Private_Dirty:         8 kB
Anonymous:             8 kB
VmFlags: rd mr mw me ac sd
03009000-030ab000 rw-p 02c09000 fe:00 9982303                            /opt/ecs agent/ecs-agent (deleted)
Size:                648 kB
Rss:                 592 kB
Anonymous:           200 kB
VmFlags: rd wr mr mw me ac sd
030ab000-030ac000 r--p 02cab000 fe:00 9982303                            /opt/ecs agent/ecs-agent (deleted)
Size:                  4 kB
Rss:                   0 kB
Anonymous:             0 kB
7ff161fba000-7ff162110000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1368 kB
Rss:                 920 kB
Anonymous:             0 kB
7ff1191ec000-7ff11930c000 rw-p 00000000 00:00 0 
Size:               1152 kB
Rss:                1144 kB
Anonymous:          1144 kB
`

func TestCleanMappings(t *testing.T) {
	got := cleanMappings([]byte(smapsSample), "/opt/ecs agent/ecs-agent (deleted)")
	want := []mapping{{0x400000, 0x193f000, 16124}, {0x193f000, 0x3007000, 17056}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := cleanMappings([]byte(smapsSample), "/usr/bin/other"); len(got) != 0 {
		t.Errorf("another executable's mappings: got %+v", got)
	}
}

func rssFileKiB(t *testing.T) uint64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestTrimResident trims this test binary (with cgo: dynamically linked, with RELRO) while
// another goroutine runs, and checks the process keeps working: code, read-only data and
// libc fault back in.
func TestTrimResident(t *testing.T) {
	before := rssFileKiB(t)
	// A worker runs code throughout the trim: dropping pages under running code is safe.
	var stop atomic.Bool
	done, running := make(chan int), make(chan struct{})
	go func() {
		n := 0
		signal := running
		for !stop.Load() {
			n += len(strconv.Itoa(n)) + len(time.Now().String())
			if signal != nil {
				close(signal)
				signal = nil
			}
		}
		done <- n
	}()
	<-running
	kib, err := trimResident()
	if err != nil {
		t.Fatal(err)
	}
	if kib == 0 {
		t.Fatal("nothing trimmed")
	}
	if _, err := os.Hostname(); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	if <-done == 0 {
		t.Fatal("worker did not run")
	}
	// The first trim of a process drops megabytes; a later one (with -count, after
	// TestTrimWhenIdle trimmed) only what was touched since, too little to measure against
	// the pages the measurement itself touches.
	if after := rssFileKiB(t); kib >= 1024 && after >= before {
		t.Errorf("RssFile %d KiB before the trim, %d KiB after (trimmed %d KiB)", before, after, kib)
	}
}

func TestTrimWhenIdle(t *testing.T) {
	tt := trimTiming{idle: time.Second, minInterval: time.Hour, poll: 20 * time.Millisecond}
	var v atomic.Int64
	version := func() string { return strconv.FormatInt(v.Load(), 10) }
	var trims atomic.Int32
	log := logr.New(funcSink{func(msg string) {
		if strings.Contains(msg, "trim") {
			trims.Add(1)
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		trimWhenIdle(ctx, tt, version, log)
	}()
	// Busy: a change every poll keeps it from trimming.
	for i := 0; i < 20; i++ {
		v.Add(1)
		time.Sleep(tt.poll)
	}
	if n := trims.Load(); n != 0 {
		t.Errorf("trimmed %d times while busy", n)
	}
	// Idle: it trims once, and not again within minInterval.
	deadline := time.Now().Add(30 * time.Second)
	for trims.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(tt.poll)
	}
	for i := 0; i < 3; i++ { // several more idle periods
		time.Sleep(tt.idle)
	}
	cancel()
	<-done
	if n := trims.Load(); n != 1 {
		t.Errorf("trimmed %d times, want once", n)
	}
}

// funcSink is a logr sink that passes every message, at every level, to f.
type funcSink struct{ f func(msg string) }

func (s funcSink) Init(logr.RuntimeInfo)               {}
func (s funcSink) Enabled(int) bool                    { return true }
func (s funcSink) Info(_ int, msg string, _ ...any)    { s.f(msg) }
func (s funcSink) Error(_ error, msg string, _ ...any) { s.f(msg) }
func (s funcSink) WithValues(...any) logr.LogSink      { return s }
func (s funcSink) WithName(string) logr.LogSink        { return s }
