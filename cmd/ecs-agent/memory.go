package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
)

// defaultGCPercent is the agent's GOGC when the environment sets none. The live heap is small
// (about 6 MB with 20 tasks) and the agent allocates little once its tasks run, so collecting
// at +50% instead of Go's +100% costs about 15 more collections in the first minute and keeps
// about 3.5 MB less heap resident.
const defaultGCPercent = 50

// tuneGC applies the agent's GC defaults. GOGC and GOMEMLIMIT, which the Go runtime reads
// itself, win when set: GOGC=100 restores Go's default, GOMEMLIMIT=64MiB adds a soft limit.
// There is no default soft limit: one near the live heap (12 MiB) saves another 3 MB but the
// GC then runs all the time (hundreds of cycles a minute), and one with headroom saves
// nothing over GOGC=50.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// Idle trimming. The executable maps about 44 MB of code, read-only data and pclntab
// (client-go's scheme with every built-in Kubernetes API group, controller-runtime, the
// containerd client, grpc), and package initialisation and start-up touch, with the kernel's
// fault-around, about 33 MB of it, most of which never runs again. Those pages stay resident,
// counted in RssFile, until memory pressure reclaims them. Once the agent has been idle for
// trimIdle after a burst of work (start-up, a task launch or stop), trimResident drops the
// executable's clean pages from the address space; what the agent still runs faults back in
// from the page cache (a minor fault, no I/O), so RSS comes down to the pages in use.
type trimTiming struct {
	idle, minInterval, poll time.Duration
}

// defaultTrimTiming: trim after 5 s idle, at most once a minute, checking every second.
var defaultTrimTiming = trimTiming{idle: 5 * time.Second, minInterval: time.Minute, poll: time.Second}

// trimWhenIdle calls trimResident each time version (the store's resource version: any
// object written changes it) has not changed for tt.idle, at most once a tt.minInterval,
// until ctx ends.
func trimWhenIdle(ctx context.Context, tt trimTiming, version func() string, log logr.Logger) {
	t := time.NewTicker(tt.poll)
	defer t.Stop()
	last, changed := version(), time.Now()
	var trimmedAt time.Time
	trimmed := false // since the last change
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if v := version(); v != last {
				last, changed, trimmed = v, now, false
				continue
			}
			if trimmed || now.Sub(changed) < tt.idle || !trimmedAt.IsZero() && now.Sub(trimmedAt) < tt.minInterval {
				continue
			}
			kib, err := trimResident()
			if err != nil {
				log.V(1).Info("cannot trim resident memory", "error", err.Error())
			} else {
				log.V(1).Info("trimmed resident memory", "executableKiB", kib)
			}
			trimmedAt, trimmed = now, true
		}
	}
}

// trimResident drops from the address space the resident pages of the agent's executable
// that are clean copies of the file: read-only private mappings without any anonymous
// (copy-on-write) page, so never the data segment nor the dynamic loader's relocated RELRO
// pages. For such a mapping MADV_DONTNEED does what reclaim does: the next access maps the
// page again from the page cache. It returns the KiB that were resident.
func trimResident() (uint64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	var dropped uint64
	for _, m := range cleanMappings(smaps, exe) {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); errno != 0 {
			return dropped, errno
		}
		dropped += m.rssKiB
	}
	return dropped, nil
}

type mapping struct {
	start, end uintptr
	rssKiB     uint64
}

// cleanMappings returns, from /proc/self/smaps, the resident read-only private mappings of
// path that hold no anonymous page.
func cleanMappings(smaps []byte, path string) []mapping {
	var out []mapping
	var cur *mapping
	var anon uint64
	flush := func() {
		if cur != nil && anon == 0 && cur.rssKiB > 0 {
			out = append(out, *cur)
		}
		cur, anon = nil, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") {
			// A mapping: start-end perms offset dev inode [path]. The path may have
			// spaces, and ends in " (deleted)" once the file is replaced, as the
			// /proc/self/exe link does.
			flush()
			if len(f) < 6 || strings.Join(f[5:], " ") != path || len(f[1]) != 4 || f[1][1] != '-' || f[1][3] != 'p' {
				continue
			}
			lo, hi, ok := strings.Cut(f[0], "-")
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if !ok || err1 != nil || err2 != nil || end <= start {
				continue
			}
			cur = &mapping{start: uintptr(start), end: uintptr(end)}
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			cur.rssKiB = v
		case "Anonymous:":
			// Copy-on-write copies. (Private_Dirty also counts page-cache pages not yet
			// written back, as in a freshly built executable: those are fine to drop.)
			anon += v
		}
	}
	flush()
	return out
}
