package objectapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/containerlog"
)

// writeLog creates the log file of container app of task web1 with content.
func (e *env) writeLog(content string) string {
	e.t.Helper()
	path := api.ContainerLogPath(e.dataDir, "web1", "app")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

const logPath = nsPath + "/containers/web1-app/log"

func TestLog(t *testing.T) {
	e := newEnv(t, fixture()...)
	e.writeLog("one\ntwo\nthree\nfour\n")
	for _, tc := range []struct{ query, want string }{
		{"", "one\ntwo\nthree\nfour\n"},
		{"?tailLines=2", "three\nfour\n"},
		{"?tailLines=10", "one\ntwo\nthree\nfour\n"},
		{"?tailLines=0", ""},
		{"?limitBytes=6", "one\ntw"},
		{"?tailLines=1&limitBytes=2", "fo"},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+logPath+tc.query, nil)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != tc.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("log%s: %d %q (%s), want %q", tc.query, resp.StatusCode, b, resp.Header.Get("Content-Type"), tc.want)
		}
	}
	// Through kubectl's "default" namespace too.
	if code, b := e.get(groupPath+"/namespaces/default/containers/web1-app/log?tailLines=1", ""); code != 200 || string(b) != "four\n" {
		t.Errorf("log through namespace default: %d %q", code, b)
	}
}

func TestLogErrors(t *testing.T) {
	e := newEnv(t, fixture()...)
	for _, tc := range []struct {
		path   string
		code   int
		reason metav1.StatusReason
	}{
		// Pulled, not created: no output yet.
		{nsPath + "/containers/batch1-job/log", 400, metav1.StatusReasonBadRequest},
		// Running, but its log is gone (cleaned up, or another log driver).
		{logPath, 404, metav1.StatusReasonNotFound},
		{nsPath + "/containers/nope/log", 404, metav1.StatusReasonNotFound},
		{nsPath + "/tasks/web1/log", 404, metav1.StatusReasonNotFound},
		{logPath + "?tailLines=-1", 400, metav1.StatusReasonBadRequest},
		{logPath + "?follow=sometimes", 400, metav1.StatusReasonBadRequest},
	} {
		code, b := e.get(tc.path, "")
		if code != tc.code || !bytes.Contains(b, []byte(`"reason":"`+string(tc.reason)+`"`)) {
			t.Errorf("%s: %d %s, want %d %s", tc.path, code, b, tc.code, tc.reason)
		}
	}
}

// readUntil reads from r until the output so far contains want.
func readUntil(t *testing.T, r io.Reader, got *bytes.Buffer, want string) {
	t.Helper()
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), want) {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("log ended (%v) before %q; got %q", err, want, got)
		}
	}
}

// follow sends what is appended, and ends once the container stopped and all of its
// output was sent.
func TestLogFollowUntilContainerStops(t *testing.T) {
	e := newEnv(t, fixture()...)
	path := e.writeLog("one\ntwo\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := e.open(ctx, logPath+"?follow=true&tailLines=1", "")
	var got bytes.Buffer
	readUntil(t, s.r, &got, "two\n")
	appendFile(t, path, "three\n")
	readUntil(t, s.r, &got, "three\n")

	appendFile(t, path, "last words\n")
	setStatus(e, webApp(), func(c *api.Container) { c.Status.KnownStatus = api.ContainerStatusStopped })
	rest, err := io.ReadAll(s.r)
	if err != nil {
		t.Fatalf("follow after the stop: %v", err)
	}
	got.Write(rest)
	if got.String() != "two\nthree\nlast words\n" {
		t.Errorf("followed log %q, want the last line and everything after it", got.String())
	}
}

// follow ends when the log file is removed (task cleanup).
func TestLogFollowEndsWhenLogRemoved(t *testing.T) {
	e := newEnv(t, fixture()...)
	path := e.writeLog("one\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := e.open(ctx, logPath+"?follow=1", "")
	var got bytes.Buffer
	readUntil(t, s.r, &got, "one\n")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(s.r); err != nil {
		t.Fatalf("follow after removal: %v", err)
	}
}

// follow ends when the client goes away: the handler returns and the server can close.
func TestLogFollowEndsWithClient(t *testing.T) {
	e := newEnv(t, fixture()...)
	e.writeLog("one\n")
	ctx, cancel := context.WithCancel(context.Background())
	s := e.open(ctx, logPath+"?follow=true", "")
	var got bytes.Buffer
	readUntil(t, s.r, &got, "one\n")
	cancel()
	if _, err := io.ReadAll(s.r); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
	// httptest.Server.Close (in the cleanup) blocks until every handler returned; a
	// handler stuck following would hang the test here.
	e.srv.Close()
}

func TestTailOffset(t *testing.T) {
	long := strings.Repeat("x", 40<<10) // longer than a read chunk
	for _, tc := range []struct {
		content string
		n       int64
		want    string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"a\nb\nc", 1, "c"}, // no final newline: the partial line is the last line
		{"a\nb\nc", 2, "b\nc"},
		{"a\n\n\nb\n", 2, "\nb\n"},
		{"a\n" + long + "\nb\n", 2, long + "\nb\n"},
		{"a\n" + long + "\n" + long + "\n", 1, long + "\n"},
		{"a\nb\n", 0, ""},
	} {
		r := strings.NewReader(tc.content)
		off, err := tailOffset(r, int64(len(tc.content)), tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.content[off:]; got != tc.want {
			t.Errorf("tail %d of %.20q: %.20q (len %d), want %.20q (len %d)", tc.n, tc.content, got, len(got), tc.want, len(tc.want))
		}
	}
}

// A full read includes the files rotated away, oldest first; a tail reads the current one.
func TestLogAcrossRotation(t *testing.T) {
	e := newEnv(t, fixture()...)
	path := e.writeLog("")
	_ = os.Remove(path)
	sink := containerlog.NewFileSink(path, 8, 3)
	defer sink.Close()
	for _, l := range []string{"one\n", "two\n", "three\n", "four\n", "five\n"} {
		if _, err := sink.Write(containerlog.Stdout, []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	// "one\ntwo\n" rotated out of the kept three files; what is left is the rest.
	if code, b := e.get(logPath, ""); code != 200 || string(b) != "three\nfour\nfive\n" {
		t.Errorf("full read: %d %q", code, b)
	}
	if code, b := e.get(logPath+"?tailLines=1", ""); code != 200 || string(b) != "five\n" {
		t.Errorf("tail: %d %q", code, b)
	}
}

// follow goes on with the new file when the log is rotated, also when it was rotated
// more than once between two looks.
func TestLogFollowAcrossRotation(t *testing.T) {
	e := newEnv(t, fixture()...)
	path := e.writeLog("")
	sink := containerlog.NewFileSink(path, 16, 5)
	defer sink.Close()
	write := func(s string) {
		if _, err := sink.Write(containerlog.Stdout, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write("one\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := e.open(ctx, logPath+"?follow=true", "")
	var got bytes.Buffer
	readUntil(t, s.r, &got, "one\n")
	for _, l := range []string{"two\n", "three\n", "four\n", "five\n", "six\n", "seven\n"} {
		write(l)
	}
	readUntil(t, s.r, &got, "seven\n")
	if got.String() != "one\ntwo\nthree\nfour\nfive\nsix\nseven\n" {
		t.Errorf("followed %q across rotations", got.String())
	}
}
