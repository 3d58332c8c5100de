package fake

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/runtime"
)

var epoch = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

const img = "registry.test/app:1"

func newRT(t *testing.T) (*Runtime, *clocktesting.FakeClock, context.Context) {
	t.Helper()
	clk := clocktesting.NewFakeClock(epoch)
	r := New(clk)
	r.AddImage(runtime.ImageInfo{Ref: img, Digest: "sha256:aaa", ID: "sha256:cfg"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return r, clk, ctx
}

// created pulls img and creates the container id from it.
func created(t *testing.T, r *Runtime, ctx context.Context, id string) {
	t.Helper()
	if _, err := r.PullImage(ctx, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateContainer(ctx, runtime.ContainerConfig{ID: id, Image: img, Labels: map[string]string{"k": "v"}, Record: []byte("rec")}); err != nil {
		t.Fatal(err)
	}
}

// waitStatus waits for a scripted exit, which happens just after the clock step.
func waitStatus(t *testing.T, r *Runtime, id string, want runtime.Status) runtime.ContainerState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := inspect(t, r, id)
		if st.Status == want || time.Now().After(deadline) {
			return st
		}
		time.Sleep(time.Millisecond)
	}
}

func inspect(t *testing.T, r *Runtime, id string) runtime.ContainerState {
	t.Helper()
	st, err := r.InspectContainer(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPullImage(t *testing.T) {
	auth := &runtime.Auth{Username: "u", Password: "p"}
	for _, tc := range []struct {
		name    string
		ref     string
		auth    *runtime.Auth
		wantErr error
	}{
		{"known public image", img, nil, nil},
		{"unknown reference", "registry.test/nope:1", nil, runtime.ErrNotFound},
		{"private image without credentials", "registry.test/private:1", nil, runtime.ErrUnauthorized},
		{"private image with wrong credentials", "registry.test/private:1", &runtime.Auth{Username: "u", Password: "x"}, runtime.ErrUnauthorized},
		{"private image with its credentials", "registry.test/private:1", auth, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, ctx := newRT(t)
			r.AddImage(runtime.ImageInfo{Ref: "registry.test/private:1", Digest: "sha256:bbb"}, auth)
			info, err := r.PullImage(ctx, tc.ref, tc.auth)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("PullImage = %v, want %v", err, tc.wantErr)
			}
			_, lerr := r.InspectImage(ctx, tc.ref)
			if tc.wantErr == nil && (lerr != nil || info.Ref != tc.ref) {
				t.Fatalf("pulled image not local: %v %+v", lerr, info)
			}
			if tc.wantErr != nil && !errors.Is(lerr, runtime.ErrNotFound) {
				t.Fatalf("failed pull left a local image: %v", lerr)
			}
			if n := r.Pulls(tc.ref); n != 1 {
				t.Fatalf("Pulls = %d, want 1", n)
			}
			if err := r.RemoveImage(ctx, tc.ref); err != nil {
				t.Fatal(err)
			}
			if _, err := r.InspectImage(ctx, tc.ref); !errors.Is(err, runtime.ErrNotFound) {
				t.Fatalf("removed image still there: %v", err)
			}
		})
	}
}

func TestContainerLifecycle(t *testing.T) {
	r, clk, ctx := newRT(t)
	evs, _ := r.Events(ctx)
	created(t, r, ctx, "c1")
	if err := r.CreateContainer(ctx, runtime.ContainerConfig{ID: "c1", Image: img}); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("duplicate create = %v, want ErrAlreadyExists", err)
	}
	if err := r.CreateContainer(ctx, runtime.ContainerConfig{ID: "c2", Image: "registry.test/absent:1"}); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("create from an absent image = %v, want ErrNotFound", err)
	}
	if st := inspect(t, r, "c1"); st.Status != runtime.StatusCreated || !st.CreatedAt.Equal(epoch) || st.Labels["k"] != "v" {
		t.Fatalf("after create: %+v", st)
	}
	clk.Step(time.Second)
	if err := r.StartContainer(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	st := inspect(t, r, "c1")
	if st.Status != runtime.StatusRunning || st.Pid == 0 || !st.StartedAt.Equal(epoch.Add(time.Second)) {
		t.Fatalf("after start: %+v", st)
	}
	if err := r.StartContainer(ctx, "c1"); err != nil {
		t.Fatalf("starting a running container: %v", err)
	}
	if _, err := r.Stats(ctx, "c1"); err != nil {
		t.Fatalf("stats of a running container: %v", err)
	}
	rec, err := r.ContainerRecord(ctx, "c1")
	if err != nil || string(rec) != "rec" {
		t.Fatalf("record = %q, %v", rec, err)
	}
	clk.Step(time.Second)
	if err := r.Signal(ctx, "c1", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st = inspect(t, r, "c1")
	if st.Status != runtime.StatusStopped || st.ExitCode != 143 || !st.FinishedAt.Equal(epoch.Add(2*time.Second)) || st.Pid != 0 {
		t.Fatalf("after SIGTERM: %+v", st)
	}
	if err := r.Signal(ctx, "c1", syscall.SIGKILL); err != nil {
		t.Fatalf("signal to a stopped container: %v", err)
	}
	if _, err := r.Stats(ctx, "c1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("stats of a stopped container = %v", err)
	}
	list, err := r.ListContainers(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "c1" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := r.RemoveContainer(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveContainer(ctx, "c1"); err != nil {
		t.Fatalf("removing an absent container: %v", err)
	}
	for _, f := range []func() error{
		func() error { _, err := r.InspectContainer(ctx, "c1"); return err },
		func() error { return r.StartContainer(ctx, "c1") },
		func() error { return r.Signal(ctx, "c1", syscall.SIGTERM) },
		func() error { _, err := r.ContainerRecord(ctx, "c1"); return err },
		func() error { _, _, err := r.Exec(ctx, "c1", []string{"true"}); return err },
		func() error { _, err := r.Stats(ctx, "c1"); return err },
	} {
		if err := f(); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("call on a removed container = %v, want ErrNotFound", err)
		}
	}
	var types []runtime.EventType
	for len(evs) > 0 {
		ev := <-evs
		if ev.ContainerID != "c1" {
			t.Errorf("event for %s", ev.ContainerID)
		}
		types = append(types, ev.Type)
	}
	want := []runtime.EventType{runtime.EventCreate, runtime.EventStart, runtime.EventExit, runtime.EventDelete}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
}

func TestProcessScripts(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Process
		// signals sent in order after the start
		signals  []syscall.Signal
		step     time.Duration
		want     runtime.Status
		wantCode int32
		wantOOM  bool
		wantErr  string
	}{
		{name: "runs until SIGTERM", signals: []syscall.Signal{syscall.SIGTERM}, want: runtime.StatusStopped, wantCode: 143},
		{name: "SIGTERM with a scripted exit code", p: Process{TermExitCode: Code(0)}, signals: []syscall.Signal{syscall.SIGTERM}, want: runtime.StatusStopped, wantCode: 0},
		{name: "ignores SIGTERM", p: Process{IgnoreTERM: true}, signals: []syscall.Signal{syscall.SIGTERM}, want: runtime.StatusRunning},
		{name: "ignores SIGTERM, not SIGKILL", p: Process{IgnoreTERM: true}, signals: []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, want: runtime.StatusStopped, wantCode: 137},
		{name: "exits at once", p: Process{Exit: Code(3)}, want: runtime.StatusStopped, wantCode: 3},
		{name: "exits after a while: not yet", p: Process{Exit: Code(4), ExitAfter: time.Minute}, step: 59 * time.Second, want: runtime.StatusRunning},
		{name: "exits after a while", p: Process{Exit: Code(4), ExitAfter: time.Minute}, step: time.Minute, want: runtime.StatusStopped, wantCode: 4},
		{name: "OOM-killed", p: Process{Exit: Code(1), ExitAfter: time.Second, OOM: true}, step: time.Second, want: runtime.StatusStopped, wantCode: 137, wantOOM: true},
		{name: "cannot execute", p: Process{StartError: "exec: \"nope\": executable file not found"}, want: runtime.StatusStopped, wantCode: 127, wantErr: "exec: \"nope\": executable file not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, clk, ctx := newRT(t)
			r.ScriptImage(img, tc.p)
			created(t, r, ctx, "c")
			if err := r.StartContainer(ctx, "c"); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.signals {
				if err := r.Signal(ctx, "c", s); err != nil {
					t.Fatal(err)
				}
			}
			clk.Step(tc.step)
			st := waitStatus(t, r, "c", tc.want)
			if st.Status != tc.want || (tc.want == runtime.StatusStopped && st.ExitCode != tc.wantCode) || st.OOMKilled != tc.wantOOM || st.StartError != tc.wantErr {
				t.Fatalf("state %+v, want %s code %d oom %v", st, tc.want, tc.wantCode, tc.wantOOM)
			}
		})
	}
}

func TestContainerScriptWinsAndRestartIsANewRun(t *testing.T) {
	r, clk, ctx := newRT(t)
	r.ScriptImage(img, Process{Exit: Code(1)})
	r.ScriptContainer("c", Process{Exit: Code(2), ExitAfter: time.Second})
	created(t, r, ctx, "c")
	if err := r.StartContainer(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Second)
	if st := waitStatus(t, r, "c", runtime.StatusStopped); st.ExitCode != 2 {
		t.Fatalf("exit %d, want the container's script (2)", st.ExitCode)
	}
	// A restart is a new run: the old run's timer must not stop it.
	r.ScriptContainer("c", Process{Exit: Code(5), ExitAfter: 10 * time.Second})
	if err := r.StartContainer(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	clk.Step(9 * time.Second)
	if st := inspect(t, r, "c"); st.Status != runtime.StatusRunning {
		t.Fatalf("restarted container stopped early: %+v", st)
	}
	clk.Step(time.Second)
	if st := waitStatus(t, r, "c", runtime.StatusStopped); st.Status != runtime.StatusStopped || st.ExitCode != 5 {
		t.Fatalf("restarted container: %+v", st)
	}
}

func TestExecErrorRefusesCreate(t *testing.T) {
	r, _, ctx := newRT(t)
	r.ScriptImage(img, Process{ExecError: "exec /bin/sh: argument list too long"})
	if _, err := r.PullImage(ctx, img, nil); err != nil {
		t.Fatal(err)
	}
	err := r.CreateContainer(ctx, runtime.ContainerConfig{ID: "c", Image: img})
	var ee *runtime.ExecError
	if !errors.As(err, &ee) || !errors.Is(err, runtime.ErrCannotExec) {
		t.Fatalf("create = %v, want an ExecError", err)
	}
	if _, err := r.InspectContainer(ctx, "c"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("a refused container exists: %v", err)
	}
}

func TestExecScripts(t *testing.T) {
	r, _, ctx := newRT(t)
	created(t, r, ctx, "c")
	probe := []string{"/bin/sh", "-c", "probe"}
	if _, _, err := r.Exec(ctx, "c", probe); err == nil {
		t.Fatal("exec in a created container succeeded")
	}
	if err := r.StartContainer(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	code, _, err := r.Exec(ctx, "c", probe)
	if err != nil || code != 127 {
		t.Fatalf("unscripted exec = %d, %v; want 127", code, err)
	}
	r.ScriptImageExec(img, nil, ExecResult{ExitCode: 1, Output: "image-any"})
	r.ScriptImageExec(img, probe, ExecResult{ExitCode: 2, Output: "image-probe"})
	r.ScriptExec("c", nil, ExecResult{ExitCode: 3, Output: "ctr-any"})
	boom := errors.New("boom")
	r.ScriptExec("c", probe, ExecResult{Err: boom})
	if _, _, err := r.Exec(ctx, "c", probe); !errors.Is(err, boom) {
		t.Fatalf("scripted error = %v", err)
	}
	if code, out, _ := r.Exec(ctx, "c", []string{"other"}); code != 3 || out != "ctr-any" {
		t.Fatalf("container's catch-all = %d %q", code, out)
	}
	r.ScriptExec("c", probe, ExecResult{ExitCode: 0, Output: "ok"})
	if code, out, _ := r.Exec(ctx, "c", probe); code != 0 || out != "ok" {
		t.Fatalf("rescripted = %d %q", code, out)
	}
}

func TestExecStream(t *testing.T) {
	r, _, ctx := newRT(t)
	created(t, r, ctx, "c")
	var out strings.Builder
	if _, err := r.ExecStream(ctx, "c", []string{"cat"}, runtime.ExecStreams{Stdout: &out}); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("exec in a created container = %v, want ErrNotFound", err)
	}
	if err := r.StartContainer(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	r.ScriptExec("c", []string{"cat"}, ExecResult{Output: "first\n", EchoStdin: true})
	r.ScriptExec("c", []string{"fail"}, ExecResult{ExitCode: 4, Output: "failing\n"})
	for _, c := range []struct {
		cmd      []string
		in, want string
		code     int
	}{
		{cmd: []string{"cat"}, in: "input\n", want: "first\ninput\n"},
		{cmd: []string{"fail"}, want: "failing\n", code: 4},
		{cmd: []string{"unscripted"}, want: `fake: "unscripted": executable file not found`, code: 127},
	} {
		out.Reset()
		code, err := r.ExecStream(ctx, "c", c.cmd, runtime.ExecStreams{Stdin: strings.NewReader(c.in), Stdout: &out})
		if err != nil || code != c.code || out.String() != c.want {
			t.Errorf("ExecStream %v = %d, %v, %q; want %d, %q", c.cmd, code, err, out.String(), c.code, c.want)
		}
	}
	if calls := r.Calls(MethodExecStream); len(calls) != 4 {
		t.Errorf("recorded %d ExecStream calls, want 4", len(calls))
	}
}

func TestFaultsHooksAndLatency(t *testing.T) {
	r, _, ctx := newRT(t)
	created(t, r, ctx, "c")
	boom := errors.New("boom")
	r.FailNext(MethodStartContainer, boom, runtime.ErrUnavailable)
	if err := r.StartContainer(ctx, "c"); !errors.Is(err, boom) {
		t.Fatalf("first start = %v, want boom", err)
	}
	if err := r.StartContainer(ctx, "c"); !errors.Is(err, runtime.ErrUnavailable) {
		t.Fatalf("second start = %v, want ErrUnavailable", err)
	}
	if st := inspect(t, r, "c"); st.Status != runtime.StatusCreated {
		t.Fatalf("a failed start changed the container: %+v", st)
	}
	if err := r.StartContainer(ctx, "c"); err != nil {
		t.Fatalf("third start = %v", err)
	}
	var seen []string
	r.SetHook(MethodInspectContainer, func(_ context.Context, call Call) error {
		seen = append(seen, call.Subject)
		if call.Subject == "bad" {
			return boom
		}
		return nil
	})
	if _, err := r.InspectContainer(ctx, "bad"); !errors.Is(err, boom) {
		t.Fatalf("hooked inspect = %v", err)
	}
	inspect(t, r, "c")
	r.SetHook(MethodInspectContainer, nil)
	inspect(t, r, "c")
	if len(seen) != 2 {
		t.Fatalf("hook saw %v", seen)
	}
	if n := len(r.Calls(MethodStartContainer)); n != 3 {
		t.Fatalf("%d start calls recorded, want 3", n)
	}

	r.SetLatency(MethodSignal, time.Hour)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := r.Signal(sctx, "c", syscall.SIGKILL); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow signal = %v, want the deadline", err)
	}
	if st := inspect(t, r, "c"); st.Status != runtime.StatusRunning {
		t.Fatalf("a timed-out signal was delivered: %+v", st)
	}
}

func TestEventsBreakAndResubscribe(t *testing.T) {
	r, _, ctx := newRT(t)
	sctx, cancel := context.WithCancel(ctx)
	evs, errs := r.Events(sctx)
	broken := errors.New("stream broke")
	r.BreakEvents(broken)
	if err := <-errs; !errors.Is(err, broken) {
		t.Fatalf("error channel = %v", err)
	}
	created(t, r, ctx, "c")
	if len(evs) != 0 {
		t.Fatal("a broken stream still delivers events")
	}
	cancel()
	if _, ok := <-evs; ok {
		t.Fatal("events channel open after the context ended")
	}

	r.FailNext(MethodEvents, runtime.ErrUnavailable)
	_, errs = r.Events(ctx)
	if err := <-errs; !errors.Is(err, runtime.ErrUnavailable) {
		t.Fatalf("failed subscription = %v", err)
	}
	evs, _ = r.Events(ctx)
	if err := r.StartContainer(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if ev := <-evs; ev.Type != runtime.EventStart || ev.ContainerID != "c" {
		t.Fatalf("event after resubscribing: %+v", ev)
	}
	if n := r.Subscriptions(); n != 2 {
		t.Fatalf("%d subscriptions, want 2", n)
	}
}

func TestOverflowBreaksTheStream(t *testing.T) {
	r, _, ctx := newRT(t)
	_, errs := r.Events(ctx)
	created(t, r, ctx, "c")
	for i := 0; i < eventBuffer; i++ {
		if err := r.Signal(ctx, "c", 0); err != nil {
			t.Fatal(err)
		}
		if err := r.StartContainer(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if err := r.Signal(ctx, "c", syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-errs; !errors.Is(err, ErrEventOverflow) {
		t.Fatalf("overflow = %v", err)
	}
}

// TestConcurrentUse is for the race detector: every method from many goroutines at once,
// with scripted exits firing from the clock meanwhile.
func TestConcurrentUse(t *testing.T) {
	r, clk, ctx := newRT(t)
	r.ScriptImage(img, Process{Exit: Code(0), ExitAfter: time.Millisecond})
	if _, err := r.PullImage(ctx, img, nil); err != nil {
		t.Fatal(err)
	}
	evs, _ := r.Events(ctx)
	go func() {
		for range evs {
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := string(rune('a' + i))
			for j := 0; j < 50; j++ {
				_ = r.CreateContainer(ctx, runtime.ContainerConfig{ID: id, Image: img})
				_ = r.StartContainer(ctx, id)
				_, _, _ = r.Exec(ctx, id, []string{"x"})
				_, _ = r.Stats(ctx, id)
				_, _ = r.ListContainers(ctx)
				clk.Step(time.Millisecond)
				_ = r.Signal(ctx, id, syscall.SIGTERM)
				_ = r.RemoveContainer(ctx, id)
			}
		}()
	}
	wg.Wait()
}
