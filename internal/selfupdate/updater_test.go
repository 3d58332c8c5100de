package selfupdate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/internal/selfupdate/artifact"
	"github.com/ecsd/ecsd/internal/selfupdate/install"
	"github.com/ecsd/ecsd/internal/testutil"
)

// fakeArtifact builds a valid artifact of fake binaries for machine.
func fakeArtifact(t *testing.T, machine elf.Machine, tag string) []byte {
	t.Helper()
	dir := t.TempDir()
	for _, m := range artifact.Members() {
		b := make([]byte, 128)
		copy(b, elf.ELFMAG)
		b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
		binary.LittleEndian.PutUint16(b[16:], uint16(elf.ET_EXEC))
		binary.LittleEndian.PutUint16(b[18:], uint16(machine))
		if err := os.WriteFile(filepath.Join(dir, m), append(b, tag...), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := artifact.Write(&buf, dir); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// server serves update files on loopback. A path's handler may be replaced to misbehave.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string]http.HandlerFunc
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{files: map[string]http.HandlerFunc{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		h := s.files[r.URL.Path]
		s.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve publishes data at path and returns its URL.
func (s *server) serve(path string, data []byte) string {
	return s.handle(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data)
	})
}

func (s *server) handle(path string, h http.HandlerFunc) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = h
	return s.URL + path
}

// answers records what the updater sends, as the ACS session would write it.
type answers struct {
	ch chan payload.Message
}

func newAnswers() *answers { return &answers{ch: make(chan payload.Message, 16)} }

func (a *answers) reply(_ context.Context, m payload.Message) error {
	a.ch <- m
	return nil
}

// next waits for the next answer.
func (a *answers) next(t *testing.T) payload.Message {
	t.Helper()
	select {
	case m := <-a.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
		return nil
	}
}

// want checks that the next answer is an ack (reason "") or a nack containing reason for id.
func (a *answers) want(t *testing.T, id, reason string) {
	t.Helper()
	switch m := a.next(t).(type) {
	case payload.AckRequest:
		if reason != "" || m.MessageID != id || m.Cluster != "cluster" || m.ContainerInstance != "instance" {
			t.Fatalf("got ack %+v, want nack of %s with %q", m, id, reason)
		}
	case payload.NackRequest:
		if reason == "" || m.MessageID != id || !strings.Contains(m.Reason, reason) || m.Cluster != "cluster" || m.ContainerInstance != "instance" {
			t.Fatalf("got nack %+v, want %s of %s", m, orAck(reason), id)
		}
	default:
		t.Fatalf("got %T", m)
	}
}

func orAck(reason string) string {
	if reason == "" {
		return "ack"
	}
	return "nack containing " + strconv.Quote(reason)
}

func newUpdater(t *testing.T, enabled bool) (*Updater, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	u := New(Options{Enabled: enabled, Dir: dir, Arch: "amd64", MaxSize: 1 << 20, Log: testutil.Logger(t)})
	return u, dir
}

func stageMsg(id, location, signature string) *payload.StageUpdateMessage {
	m := &payload.StageUpdateMessage{MessageID: id, ClusterArn: "cluster", ContainerInstanceArn: "instance"}
	if location != "" || signature != "" {
		m.UpdateInfo = &payload.UpdateInfo{Location: location, Signature: signature}
	}
	return m
}

func performMsg(id, signature string) *payload.PerformUpdateMessage {
	m := &payload.PerformUpdateMessage{MessageID: id, ClusterArn: "cluster", ContainerInstanceArn: "instance"}
	if signature != "" {
		m.UpdateInfo = &payload.UpdateInfo{Signature: signature}
	}
	return m
}

// TestStageUpdate: every reason a StageUpdate is refused, and the one way it is accepted.
func TestStageUpdate(t *testing.T) {
	srv := newServer(t)
	good := fakeArtifact(t, elf.EM_X86_64, "v2")
	goodURL := srv.serve("/good.tar.gz", good)
	arm := fakeArtifact(t, elf.EM_AARCH64, "v2")
	notArtifact := []byte("#!/bin/sh\necho not an update\n")
	big := bytes.Repeat([]byte("x"), 1<<20+1)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name     string
		disabled bool
		msg      *payload.StageUpdateMessage
		reason   string // "" for an ack
	}{
		{"disabled", true, stageMsg("m", goodURL, sum(good)), "Updates are disabled"},
		{"no update info", false, stageMsg("m", "", ""), "Invalid update: no update info given"},
		{"no location", false, stageMsg("m", "", sum(good)), "Invalid update: no location given"},
		{"no signature", false, stageMsg("m", goodURL, ""), "Invalid update: no signature given"},
		{"signature not a SHA-256", false, stageMsg("m", goodURL, "abc"), "Invalid update: the signature is not a hex SHA-256"},
		{"not http", false, stageMsg("m", "ftp://127.0.0.1/x", sum(good)), "Invalid update: the location is not an http or https URL"},
		{"relative URL", false, stageMsg("m", "/x.tar.gz", sum(good)), "Invalid update: the location is not an http or https URL"},
		{"not found", false, stageMsg("m", srv.URL+"/missing", sum(good)), "Unable to download: HTTP 404 Not Found"},
		{"unreachable, and the query is not repeated", false, stageMsg("m", "http://"+closedAddr+"/u?X-Amz-Signature=secret", sum(good)),
			"Unable to download: Get http://" + closedAddr + "/u: "},
		{"wrong hash", false, stageMsg("m", goodURL, sum([]byte("other"))), "Unable to download: Hashsum validation failed"},
		{"too big, announced", false, stageMsg("m", srv.serve("/big", big), sum(big)), "more than the limit of 1048576"},
		{"too big, chunked", false, stageMsg("m", srv.handle("/big-chunked", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(big[:1000])
			w.(http.Flusher).Flush()
			_, _ = w.Write(big[1000:])
		}), sum(big)), "more than the limit of 1048576 bytes"},
		{"truncated", false, stageMsg("m", srv.handle("/short", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(good)))
			_, _ = w.Write(good[:len(good)/2])
		}), sum(good)), "Unable to download: after "},
		{"not an artifact", false, stageMsg("m", srv.serve("/script", notArtifact), sum(notArtifact)), "Invalid update artifact: not a valid ecsd update artifact: not gzip-compressed"},
		{"wrong architecture", false, stageMsg("m", srv.serve("/arm", arm), sum(arm)), "Invalid update artifact: not a valid ecsd update artifact: ecs-agent is built for EM_AARCH64"},
		{"valid", false, stageMsg("m", goodURL, sum(good)), ""},
		{"valid, upper-case signature", false, stageMsg("m", goodURL, strings.ToUpper(sum(good))), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, dir := newUpdater(t, !tt.disabled)
			a := newAnswers()
			u.StageUpdate(context.Background(), tt.msg, a.reply)
			a.want(t, "m", tt.reason)
			if m, ok := a.next2(); ok {
				t.Fatalf("a second answer: %+v", m)
			}
			stagedFile := filepath.Join(dir, install.StagedFile)
			got, err := os.ReadFile(stagedFile)
			if tt.reason == "" && !bytes.Equal(got, good) {
				t.Fatalf("staged file: %d bytes, %v; want the artifact", len(got), err)
			}
			if tt.reason != "" && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a refused update left %s (%v)", stagedFile, err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}

// next2 returns an answer already sent, without waiting.
func (a *answers) next2() (payload.Message, bool) {
	select {
	case m := <-a.ch:
		return m, true
	default:
		return nil, false
	}
}

// TestPerformUpdate: a PerformUpdate is refused unless the update it asks for is staged;
// an accepted one leaves the update ready for ecs-init, acknowledges, and ends Run with
// ErrUpdateReady.
func TestPerformUpdate(t *testing.T) {
	srv := newServer(t)
	good := fakeArtifact(t, elf.EM_X86_64, "v2")
	goodURL := srv.serve("/good.tar.gz", good)

	t.Run("disabled", func(t *testing.T) {
		u, _ := newUpdater(t, false)
		a := newAnswers()
		u.PerformUpdate(context.Background(), performMsg("p", ""), a.reply)
		a.want(t, "p", "Updates are disabled")
	})
	t.Run("nothing staged", func(t *testing.T) {
		u, _ := newUpdater(t, true)
		a := newAnswers()
		u.PerformUpdate(context.Background(), performMsg("p", ""), a.reply)
		a.want(t, "p", "Cannot perform update; update not downloaded")
	})
	t.Run("after a refused stage", func(t *testing.T) {
		u, _ := newUpdater(t, true)
		a := newAnswers()
		u.StageUpdate(context.Background(), stageMsg("s", goodURL, sum([]byte("other"))), a.reply)
		a.want(t, "s", "Hashsum validation failed")
		u.PerformUpdate(context.Background(), performMsg("p", ""), a.reply)
		a.want(t, "p", "Cannot perform update; update not downloaded")
	})
	t.Run("another version", func(t *testing.T) {
		u, dir := newUpdater(t, true)
		a := newAnswers()
		u.StageUpdate(context.Background(), stageMsg("s", goodURL, sum(good)), a.reply)
		a.want(t, "s", "")
		u.PerformUpdate(context.Background(), performMsg("p", sum([]byte("other"))), a.reply)
		a.want(t, "p", "Cannot perform update; the staged update ("+sum(good)+") is not the one requested")
		if _, err := os.Stat(filepath.Join(dir, install.ReadyFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a refused PerformUpdate made the update ready (%v)", err)
		}
	})
	t.Run("performed", func(t *testing.T) {
		u, dir := newUpdater(t, true)
		a := newAnswers()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		run := make(chan error, 1)
		go func() { run <- u.Run(ctx) }()
		u.StageUpdate(ctx, stageMsg("s", goodURL, sum(good)), a.reply)
		a.want(t, "s", "")
		u.PerformUpdate(ctx, performMsg("p", sum(good)), a.reply)
		a.want(t, "p", "")
		select {
		case err := <-run:
			if !errors.Is(err, ErrUpdateReady) {
				t.Fatalf("Run = %v, want ErrUpdateReady", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not end after the update was performed")
		}
		if got, err := os.ReadFile(filepath.Join(dir, install.ReadyFile)); err != nil || !bytes.Equal(got, good) {
			t.Fatalf("ready update: %d bytes, %v", len(got), err)
		}
		if _, err := os.Stat(filepath.Join(dir, install.StagedFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the staged file is still there (%v)", err)
		}
		// A duplicate PerformUpdate is acknowledged; a new StageUpdate is refused.
		u.PerformUpdate(ctx, performMsg("p2", ""), a.reply)
		a.want(t, "p2", "")
		u.StageUpdate(ctx, stageMsg("s2", goodURL, sum(good)), a.reply)
		a.want(t, "s2", "the agent is restarting")
	})
}

// TestConcurrentUpdates: while an update downloads, the same update asked again is
// answered with it, another one is refused, and a PerformUpdate is refused; a newer update
// replaces a staged one, whose StageUpdate is then refused, as in the reference agent.
func TestConcurrentUpdates(t *testing.T) {
	srv := newServer(t)
	good := fakeArtifact(t, elf.EM_X86_64, "v2")
	other := fakeArtifact(t, elf.EM_X86_64, "v3")
	otherURL := srv.serve("/other.tar.gz", other)
	release := make(chan struct{})
	slowURL := srv.handle("/slow.tar.gz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(good)))
		_, _ = w.Write(good[:10])
		w.(http.Flusher).Flush()
		<-release
		_, _ = w.Write(good[10:])
	})
	u, dir := newUpdater(t, true)
	a := newAnswers()
	ctx := context.Background()
	u.StageUpdate(ctx, stageMsg("s1", slowURL, sum(good)), a.reply)
	u.StageUpdate(ctx, stageMsg("s2", otherURL, sum(other)), a.reply)
	a.want(t, "s2", "Another update is being downloaded")
	u.PerformUpdate(ctx, performMsg("p1", ""), a.reply)
	a.want(t, "p1", "Cannot perform update; update not downloaded (its download is in progress)")
	u.StageUpdate(ctx, stageMsg("s1-again", slowURL, sum(good)), a.reply)
	close(release)
	got := map[string]bool{}
	for range 2 {
		m, ok := a.next(t).(payload.AckRequest)
		if !ok {
			t.Fatalf("want acks of s1 and s1-again, got %+v", m)
		}
		got[m.MessageID] = true
	}
	if !got["s1"] || !got["s1-again"] {
		t.Fatalf("acks %v, want s1 and s1-again", got)
	}
	// Staged again: a duplicate is acknowledged at once; a newer update replaces it.
	u.StageUpdate(ctx, stageMsg("s1-dup", slowURL, sum(good)), a.reply)
	a.want(t, "s1-dup", "")
	u.StageUpdate(ctx, stageMsg("s3", otherURL, sum(other)), a.reply)
	a.want(t, "s1", "New update arrived: s3")
	a.want(t, "s3", "")
	if b, err := os.ReadFile(filepath.Join(dir, install.StagedFile)); err != nil || !bytes.Equal(b, other) {
		t.Fatalf("staged file is not the newer update (%v)", err)
	}
	u.PerformUpdate(ctx, performMsg("p2", sum(other)), a.reply)
	a.want(t, "p2", "")
}

// TestNewForgetsLeftovers: a restarted agent starts with nothing staged.
func TestNewForgetsLeftovers(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{install.StagedFile, install.ReadyFile, ".ecsd-update-123.partial"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	u := New(Options{Enabled: true, Dir: dir, Arch: "amd64", Log: testutil.Logger(t)})
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("left in the update directory: %v", entries)
	}
	a := newAnswers()
	u.PerformUpdate(context.Background(), performMsg("p", ""), a.reply)
	a.want(t, "p", "Cannot perform update; update not downloaded")
}

func TestRedact(t *testing.T) {
	got := redact("https://user:pw@bucket.s3.amazonaws.com/ecs-agent.tar?X-Amz-Signature=abc&X-Amz-Credential=k")
	if got != "https://bucket.s3.amazonaws.com/ecs-agent.tar" {
		t.Errorf("redact = %q", got)
	}
}
