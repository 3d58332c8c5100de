package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// parseLogfmt parses one logfmt line back into its pairs, in order.
func parseLogfmt(t *testing.T, line string) ([]string, map[string]string) {
	t.Helper()
	var keys []string
	m := map[string]string{}
	for rest := line; rest != ""; {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			t.Fatalf("no key=value at %q in %q", rest, line)
		}
		key := rest[:eq]
		if strings.ContainsAny(key, " \"") {
			t.Fatalf("bad key %q in %q", key, line)
		}
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				t.Fatalf("bad quoted value at %q: %v", rest, err)
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
			if rest != "" && rest[0] != ' ' {
				t.Fatalf("garbage after quoted value: %q", rest)
			}
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
			if strings.ContainsAny(val, `"=`) {
				t.Fatalf("unquoted value %q needs quoting in %q", val, line)
			}
		}
		keys = append(keys, key)
		m[key] = val
	}
	return keys, m
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// emitAll logs one entry at every level logr can produce.
func emitAll(l logr.Logger) {
	l.Info("v0")
	l.V(1).Info("v1")
	l.V(4).Info("v4")
	l.Error(errors.New("boom"), "err")
}

func TestLevelFiltering(t *testing.T) {
	for _, tc := range []struct {
		level string
		want  []string // msg=level pairs expected, in order
	}{
		{"debug", []string{"v0=info", "v1=debug", "v4=debug", "err=error"}},
		{"DEBUG", []string{"v0=info", "v1=debug", "v4=debug", "err=error"}},
		{"", []string{"v0=info", "err=error"}},
		{"info", []string{"v0=info", "err=error"}},
		{"warn", []string{"err=error"}},
		{"error", []string{"err=error"}},
		{"crit", nil},
		{"none", nil},
	} {
		t.Run(tc.level, func(t *testing.T) {
			var buf bytes.Buffer
			l, closeFn, err := New(Options{Level: tc.level, Console: &buf})
			if err != nil {
				t.Fatal(err)
			}
			emitAll(l)
			if err := closeFn(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, line := range lines(buf.String()) {
				_, m := parseLogfmt(t, line)
				got = append(got, m["msg"]+"="+m["level"])
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v\n%s", got, tc.want, buf.String())
			}
		})
	}
	if _, _, err := New(Options{Level: "verbose"}); err == nil {
		t.Fatal("unknown level accepted")
	}
}

func TestConsoleAndFileLevels(t *testing.T) {
	var console bytes.Buffer
	file := filepath.Join(t.TempDir(), "log", "ecs-agent.log")
	l, closeFn, err := New(Options{Level: "warn", FileLevel: "debug", File: file, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	emitAll(l)
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lines(string(data))); n != 4 {
		t.Errorf("file has %d lines, want 4:\n%s", n, data)
	}
	if n := len(lines(console.String())); n != 1 {
		t.Errorf("console has %d lines, want 1:\n%s", n, console.String())
	}

	// A file level of none writes no file at all.
	none := filepath.Join(t.TempDir(), "none.log")
	l, closeFn, err = New(Options{FileLevel: "none", File: none, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	l.Info("x")
	_ = closeFn()
	if _, err := os.Stat(none); !os.IsNotExist(err) {
		t.Errorf("file created at level none: %v", err)
	}
}

type point struct {
	X, Y int
}

func TestLogfmtShape(t *testing.T) {
	var buf bytes.Buffer
	l, closeFn, err := New(Options{Level: "debug", Console: &buf})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC().Truncate(time.Second)
	l.WithName("task").WithValues("task", "abc-123").Info("task started: now running",
		"count", 3, "ok", true, "ratio", 0.5, "wait", 1500*time.Millisecond,
		"quote", `say "hi"`, "eq", "a=b", "empty", "", "multi", "line1\nline2",
		"labels", map[string]string{"b": "2", "a": "1"}, "point", point{1, 2}, "list", []int{1, 2},
		"bad key", "v", "unicode", "héllo")
	l.Error(errors.New("it broke"), "failed", "attempt", 2)
	_ = closeFn()

	out := lines(buf.String())
	if len(out) != 2 {
		t.Fatalf("got %d lines:\n%s", len(out), buf.String())
	}
	keys, m := parseLogfmt(t, out[0])
	if got := strings.Join(keys[:4], ","); got != "level,time,msg,logger" {
		t.Errorf("leading keys = %s", got)
	}
	ts, err := time.Parse(time.RFC3339, m["time"])
	if err != nil || !strings.HasSuffix(m["time"], "Z") || ts.Before(before) {
		t.Errorf("time %q: %v", m["time"], err)
	}
	want := map[string]string{
		"level": "info", "msg": "task started: now running", "logger": "task", "task": "abc-123",
		"count": "3", "ok": "true", "ratio": "0.5", "wait": "1.5s", "quote": `say "hi"`, "eq": "a=b",
		"empty": "", "multi": "line1\nline2", "labels": `{"a":"1","b":"2"}`, "point": `{"X":1,"Y":2}`,
		"list": "[1,2]", "bad_key": "v", "unicode": "héllo",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if !strings.Contains(out[0], " unicode=héllo") || !strings.Contains(out[0], " count=3 ") {
		t.Errorf("simple values should be bare: %s", out[0])
	}
	_, m = parseLogfmt(t, out[1])
	if m["level"] != "error" || m["error"] != "it broke" || m["attempt"] != "2" || m["msg"] != "failed" {
		t.Errorf("error line: %v", m)
	}
}

func TestLogfmtNamespaceAndObjects(t *testing.T) {
	var buf bytes.Buffer
	core := zapcore.NewCore(NewLogfmtEncoder(), zapcore.AddSync(&buf), zapcore.DebugLevel)
	zl := zap.New(core).With(zap.Namespace("req")).With(zap.String("id", "7"))
	zl.Info("hi", zap.Object("obj", zapcore.ObjectMarshalerFunc(func(e zapcore.ObjectEncoder) error {
		e.AddString("name", "x y")
		e.AddInt("n", 1)
		return nil
	})), zap.Strings("names", []string{"a", "b"}), zap.Binary("bin", []byte{1, 2}))
	_, m := parseLogfmt(t, lines(buf.String())[0])
	want := map[string]string{"req.id": "7", "req.obj": `{"n":1,"name":"x y"}`, "req.names": `["a","b"]`, "req.bin": "AQI="}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q\n%s", k, m[k], v, buf.String())
		}
	}
}

func TestJSONShape(t *testing.T) {
	var buf bytes.Buffer
	l, closeFn, err := New(Options{Level: "debug", Format: "json", Console: &buf})
	if err != nil {
		t.Fatal(err)
	}
	l.WithName("pull").V(1).Info("pulled", "image", "busybox:latest", "labels", map[string]string{"a": "1"}, "n", 2)
	_ = closeFn()
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if m["level"] != "debug" || m["msg"] != "pulled" || m["logger"] != "pull" || m["image"] != "busybox:latest" ||
		m["n"] != 2.0 || !reflect.DeepEqual(m["labels"], map[string]any{"a": "1"}) {
		t.Errorf("unexpected entry: %v", m)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(m["time"])); err != nil {
		t.Errorf("time: %v", err)
	}
	if _, _, err := New(Options{Format: "xml"}); err == nil {
		t.Error("unknown format accepted")
	}
}
