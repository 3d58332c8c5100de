package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Load on the object API: the bounds a flood meets, and what it costs the agent.
const (
	loadWatches = 1000
	loadFollows = 500
	// loadRSSBound is the agent's resident memory the load may take it to.
	loadRSSBound = 150 << 20
	// loadDialers is how many requests the test has in flight at once while opening.
	loadDialers = 64
)

// A client on the host opening 1,000 watches and 500 log follows with the token: the
// excess gets a clear 429 or 503 (never a hang), the agent's memory stays bounded, and a
// task still launches and is reported RUNNING within twice its launch time on an idle agent.
// Not parallel: the launch times compare the agent with itself, so no other test's load
// should fall on one side only.
func TestObjectAPIUnderLoad(t *testing.T) {
	h, b := newConnectedAgent(t)
	b.waitConnected(h)
	def := b.sleeperDef("load", 0)
	// The first launch pulls the image; it is not measured, and its container is the one
	// whose log is followed.
	warm := b.runTask(def, 1)
	b.waitTasks("the warm-up task RUNNING", 2*time.Minute, warm, lastStatus("RUNNING"))
	launch := func() time.Duration {
		start := time.Now()
		arns := b.runTask(def, 1)
		b.waitTasks("a task RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
		return time.Since(start)
	}
	idle := median([]time.Duration{launch(), launch(), launch()})

	client := h.objectAPIClient(true)
	client.Timeout = 0 // streams
	follow := objectAPI + "/containers/" + taskIDOf(warm[0]) + "-app/log?follow=true"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu    sync.Mutex
		codes = map[string]int{}
		bad   []string
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, loadDialers)
	open := func(url string) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		key := "error"
		if err == nil {
			key = strconv.Itoa(resp.StatusCode)
		}
		mu.Lock()
		codes[key]++
		mu.Unlock()
		if err != nil {
			mu.Lock()
			bad = append(bad, err.Error())
			mu.Unlock()
			return
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if !strings.Contains(string(body), "too many") {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%d %s", resp.StatusCode, body))
				mu.Unlock()
			}
			return
		}
		// An accepted stream is read for as long as the test lasts.
		go func() {
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
		}()
	}
	start := time.Now()
	for i := range loadWatches + loadFollows {
		wg.Add(1)
		if i%3 == 2 {
			go open(follow)
		} else {
			go open(objectAPI + "/containers?watch=true")
		}
	}
	wg.Wait()
	t.Logf("opened %d watches and %d follows in %s: %v", loadWatches, loadFollows, time.Since(start).Round(time.Millisecond), codes)
	for _, b := range bad {
		t.Errorf("a request was not answered with a stream or a clear refusal: %s", b)
	}
	if codes["200"] == 0 || codes["429"]+codes["503"] == 0 || codes["200"]+codes["429"]+codes["503"] != loadWatches+loadFollows {
		t.Errorf("answers %v: want streams up to the bounds and clear refusals (429, 503) beyond", codes)
	}

	loaded := median([]time.Duration{launch(), launch(), launch()})
	rss := vmRSS(t, h.cmd.Process.Pid)
	t.Logf("launch → RUNNING reported: idle %s, with the load %s; agent RSS with the load %d MiB",
		idle.Round(time.Millisecond), loaded.Round(time.Millisecond), rss>>20)
	if loaded > 2*idle {
		t.Errorf("with the load a task took %s to be reported RUNNING, more than twice the idle %s", loaded, idle)
	}
	if rss > loadRSSBound {
		t.Errorf("agent RSS %d MiB with the load, bound %d MiB", rss>>20, loadRSSBound>>20)
	}
	// The operator's own request still gets through.
	if out := getObject(h.objectAPIClient(true), objectAPI+"/tasks", "", nil); !strings.HasPrefix(out, "200 ") {
		t.Errorf("a list during the load: %.200s", out)
	}
	// Once the clients leave, the agent goes back to idle.
	cancel()
	before := cpuTime(t, h.cmd.Process.Pid)
	time.Sleep(3 * time.Second) // the interval measured, not a wait for a condition
	t.Logf("agent CPU in the 3 s after the clients left: %.1f%% of a core", 100*(cpuTime(t, h.cmd.Process.Pid)-before).Seconds()/3)
}

// cpuTime is the user and system CPU time process pid has used.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// vmRSS is the resident set of process pid, in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
