package containerlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/internal/testenv"
)

// fakeSink is a Sink whose failures the test switches: fail makes every write fail after
// taking room more bytes (a filesystem filling up part-way through a write); block makes
// writes wait (a stalled disk).
type fakeSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	fail  error
	room  int
	block chan struct{}
	calls int
	data  int64 // bytes of container output written (not the logger's own)
}

func (s *fakeSink) Write(st Stream, p []byte) (int, error) {
	s.mu.Lock()
	block := s.block
	s.mu.Unlock()
	if block != nil {
		<-block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	n, err := len(p), error(nil)
	if s.fail != nil {
		n = min(s.room, len(p))
		s.room -= n
		err = &os.PathError{Op: "write", Path: "/data/x.log", Err: s.fail}
	}
	s.buf.Write(p[:n])
	if st != Logger {
		s.data += int64(n)
	}
	return n, err
}

func (s *fakeSink) Close() error { return nil }

func (s *fakeSink) setFail(err error, room int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.room = err, room
}

func (s *fakeSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestWriterDropsWhileFailingAndMarksWhenResumed(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	sink := &fakeSink{}
	w := newWriter(sink, clk.Now)

	w.write(Stdout, []byte("one\n"))
	sink.setFail(syscall.ENOSPC, 3) // "two" fits, its newline does not
	w.write(Stderr, []byte("two\nthree\n"))
	clk.Step(2 * time.Second)
	w.write(Stdout, []byte("four\nfive"))
	st := w.status()
	if !st.Dropping || !st.NoSpace || st.DroppedBytes != 7+9 || st.DroppedLines != 3 || st.Episodes != 1 || !st.Since.Equal(t0) {
		t.Fatalf("status while failing = %+v", st)
	}
	if !strings.Contains(st.Reason, "no space left on device") {
		t.Fatalf("reason %q", st.Reason)
	}
	if got := sink.String(); got != "one\ntwo" {
		t.Fatalf("sink while failing = %q", got)
	}

	sink.setFail(nil, 0)
	clk.Step(time.Second)
	w.write(Stdout, []byte("six\n"))
	want := "one\ntwo\n" + MarkerPrefix + "dropped 16 bytes (3 lines) of output between 2026-11-22T10:00:00Z and 2026-11-22T10:00:03Z: write /data/x.log: no space left on device\nsix\n"
	if got := sink.String(); got != want {
		t.Fatalf("sink after resume:\n got %q\nwant %q", got, want)
	}
	st = w.status()
	if st.Dropping || st.DroppedBytes != 16 || st.DroppedLines != 3 || st.Episodes != 1 || st.WrittenBytes != int64(len("one\ntwo"+"six\n")) {
		t.Fatalf("status after resume = %+v", st)
	}

	// A second episode is counted on top of the first.
	sink.setFail(syscall.EIO, 0)
	w.write(Stdout, []byte("x\n"))
	if st := w.status(); !st.Dropping || st.NoSpace || st.Episodes != 2 || st.DroppedBytes != 18 {
		t.Fatalf("second episode status = %+v", st)
	}
}

func TestWriterRetriesMarkerUntilSinkTakesIt(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	sink := &fakeSink{}
	w := newWriter(sink, clk.Now)
	sink.setFail(syscall.EDQUOT, 0)
	w.write(Stdout, []byte("lost\n"))
	if w.resume() {
		t.Fatal("resume succeeded while the sink fails")
	}
	// The marker itself is cut short by the filesystem: the next one starts a new line.
	sink.setFail(syscall.ENOSPC, 5)
	if w.resume() {
		t.Fatal("resume succeeded on a short write")
	}
	sink.setFail(nil, 0)
	if !w.resume() {
		t.Fatal("resume failed with a working sink")
	}
	lines := strings.Split(sink.String(), "\n")
	if len(lines) != 3 || lines[0] != MarkerPrefix[:5] || !strings.HasPrefix(lines[1], MarkerPrefix+"dropped 5 bytes (1 lines)") || lines[2] != "" {
		t.Fatalf("sink = %q", sink.String())
	}
}

func TestQueueIsBoundedAndRecordsGapsWhereTheyHappened(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	q := newQueue(8, 4, clk.Now) // two chunks of four bytes
	q.put(Stdout, []byte("abc"))
	q.put(Stdout, []byte("de"))      // fills the first chunk, starts the second
	q.put(Stderr, []byte("fghij\n")) // another stream needs a chunk of its own: none left
	cs, g := q.take()
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%s:%q:%d", c.stream, c.data, c.gapBefore.bytes))
	}
	if want := []string{`stdout:"abcd":0`, `stdout:"e":0`}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("chunks = %v, want %v", got, want)
	}
	if g.bytes != 6 || g.lines != 1 {
		t.Fatalf("trailing gap = %+v", g)
	}
	for _, c := range cs {
		q.release(c)
	}
	q.put(Stdout, []byte("x"))
	q.put(Stdout, []byte("yyyyyyyyy")) // 3 fit in the first chunk, 4 in a second, 2 dropped
	q.put(Stdout, []byte("z"))         // after a gap: not appended, and no room left
	cs, g = q.take()
	if len(cs) != 2 || string(cs[0].data) != "xyyy" || string(cs[1].data) != "yyyy" || g.bytes != 3 {
		t.Fatalf("after reuse: %d chunks %q %q, gap %+v", len(cs), cs[0].data, cs[1].data, g)
	}
}

// pipes returns the two stream readers Run drains and their writers.
func pipes(t *testing.T) (stdout, stderr *os.File, wOut, wErr *os.File) {
	t.Helper()
	rOut, wOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rErr, wErr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, f := range []*os.File{rOut, wOut, rErr, wErr} {
			f.Close()
		}
	})
	return rOut, rErr, wOut, wErr
}

// TestRunNeverBlocksTheContainer writes far more than the buffer through real pipes
// while the sink is stalled: every write returns, the excess is counted as dropped, and
// once the sink moves again the marker says how much was lost.
func TestRunNeverBlocksTheContainer(t *testing.T) {
	rOut, rErr, wOut, wErr := pipes(t)
	block := make(chan struct{})
	sink := &fakeSink{block: block}
	statusPath := filepath.Join(t.TempDir(), "c.log.status")
	done := make(chan error, 1)
	go func() {
		done <- Run(Config{Stdout: rOut, Stderr: rErr, Sink: sink, StatusPath: statusPath, MaxBuffer: 256 << 10})
	}()
	line := bytes.Repeat([]byte("y"), 1023)
	line = append(line, '\n')
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for range 8 << 10 { // 8 MiB, 32 times the buffer
			if _, err := wOut.Write(line); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}()
	select {
	case <-wrote:
	case <-time.After(20 * time.Second):
		t.Fatal("the container's writes blocked on a stalled sink")
	}
	close(block)
	// Output goes to the log again once the writer has caught up.
	total := int64(8 << 20)
	testenv.WaitFor(t, "output written after the stall to reach the log", func() bool {
		n, _ := fmt.Fprint(wOut, "after\n")
		total += int64(n)
		return strings.HasSuffix(sink.String(), "after\n")
	})
	wOut.Close()
	wErr.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := sink.String()
	i := strings.Index(out, MarkerPrefix+"dropped ")
	if i < 0 || !strings.Contains(out[i:], reasonBufferFull) {
		t.Fatalf("no buffer-full marker in the log")
	}
	st, err := ReadStatus(strings.TrimSuffix(statusPath, ".status"))
	if err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	kept := sink.data
	sink.mu.Unlock()
	if st.Dropping || st.DroppedBytes == 0 || st.DroppedBytes+kept != total || st.Episodes < 1 || st.WrittenBytes != kept {
		t.Fatalf("status = %+v, kept %d bytes of %d", st, kept, total)
	}
}

// TestRunRetriesOnItsOwnWhenIdle: after a failure, with the container silent, the retry
// timer puts the marker in the log once the sink works again, and the status file follows.
func TestRunRetriesOnItsOwnWhenIdle(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	rOut, rErr, wOut, wErr := pipes(t)
	sink := &fakeSink{}
	sink.setFail(syscall.ENOSPC, 0)
	logPath := filepath.Join(t.TempDir(), "c.log")
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- Run(Config{Stdout: rOut, Stderr: rErr, Sink: sink, StatusPath: StatusPath(logPath), Clock: clk, Started: started})
	}()
	<-started
	fmt.Fprint(wOut, "lost line\n")
	testenv.WaitFor(t, "the status file to say dropping", func() bool {
		st, err := ReadStatus(logPath)
		return err == nil && st.Dropping && st.NoSpace && st.DroppedBytes == 10
	})
	sink.setFail(nil, 0)
	testenv.WaitFor(t, "the marker", func() bool {
		clk.Step(DefaultRetryInterval) // only the timer can bring it now
		return strings.Contains(sink.String(), "dropped 10 bytes (1 lines)")
	})
	testenv.WaitFor(t, "the status file to say writing", func() bool {
		st, err := ReadStatus(logPath)
		return err == nil && !st.Dropping && st.DroppedBytes == 10 && st.Episodes == 1
	})
	wOut.Close()
	wErr.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The container restarted in place gets a new logger on the same file: the counts go on.
	rOut, rErr, wOut, wErr = pipes(t)
	sink.setFail(syscall.ENOSPC, 0)
	started = make(chan struct{})
	go func() {
		done <- Run(Config{Stdout: rOut, Stderr: rErr, Sink: sink, StatusPath: StatusPath(logPath), Clock: clk, Started: started})
	}()
	<-started
	fmt.Fprint(wErr, "lost again\n")
	testenv.WaitFor(t, "the restarted logger's status to add up", func() bool {
		st, err := ReadStatus(logPath)
		return err == nil && st.Dropping && st.DroppedBytes == 21 && st.DroppedLines == 2 && st.Episodes == 2
	})
	wOut.Close()
	wErr.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestReadStatusRejectsTornRecords(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "c.log")
	sf, err := openStatusFile(StatusPath(logPath))
	if err != nil {
		t.Fatal(err)
	}
	defer sf.close()
	if _, err := ReadStatus(logPath); !errors.Is(err, ErrTornStatus) {
		t.Fatalf("never written: err = %v", err)
	}
	want := Status{Dropping: true, Since: t0, Reason: "write \"x\": no space left on device\x00é", NoSpace: true, DroppedBytes: 5, DroppedLines: 1, Episodes: 1, Updated: t0}
	if err := sf.write(want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStatus(logPath)
	want.Reason = "write \"x\": no space left on device???"
	if err != nil || got != want {
		t.Fatalf("ReadStatus = %+v, %v; want %+v", got, err, want)
	}
	if tot, ok := readTotals(StatusPath(logPath)); !ok || tot != (Status{DroppedBytes: 5, DroppedLines: 1, Episodes: 1}) {
		t.Fatalf("readTotals = %+v, %v", tot, ok)
	}
	// A record whose end does not match its start was read half-rewritten.
	b, _ := os.ReadFile(StatusPath(logPath))
	b = bytes.Replace(b, []byte(`"end":1`), []byte(`"end":2`), 1)
	if err := os.WriteFile(StatusPath(logPath), b, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStatus(logPath); !errors.Is(err, ErrTornStatus) {
		t.Fatalf("torn: err = %v", err)
	}
	if _, ok := readTotals(StatusPath(logPath)); ok {
		t.Fatal("readTotals accepted a torn record")
	}
	if fi, _ := os.Stat(StatusPath(logPath)); fi.Size() != statusSize {
		t.Fatalf("status file size %d", fi.Size())
	}
}
