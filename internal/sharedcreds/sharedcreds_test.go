package sharedcreds

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	clocktesting "k8s.io/utils/clock/testing"
)

func profile(key, secret string) string {
	return "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n\n[ecsa]\naws_access_key_id = " + key +
		"\naws_secret_access_key = " + secret + "\naws_session_token = token-" + key + "\n"
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) logger() logr.Logger {
	return funcr.New(func(_, args string) { l.mu.Lock(); l.l = append(l.l, args); l.mu.Unlock() }, funcr.Options{})
}

func (l *lines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.l {
		if strings.Contains(x, s) {
			n++
		}
	}
	return n
}

// TestRotation: the profile's keys, then the new ones as soon as the file is rewritten
// (in place or renamed over), each stamped to be asked for again after Recheck.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	write(t, path, profile("AKIDFIRST0001", "s1"))
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	log := &lines{}
	p := New(Options{Path: path, Profile: "ecsa", Clock: clk, Log: log.logger()})
	ctx := context.Background()
	c, err := p.Retrieve(ctx)
	if err != nil || c.AccessKeyID != "AKIDFIRST0001" || c.SecretAccessKey != "s1" || c.SessionToken != "token-AKIDFIRST0001" {
		t.Fatalf("Retrieve = %+v, %v", c, err)
	}
	if !c.CanExpire || !c.Expires.Equal(clk.Now().Add(DefaultRecheck)) || c.Source != Source {
		t.Errorf("credentials %+v: want to expire after Recheck", c)
	}
	// Rewritten in place, same length.
	write(t, path, profile("AKIDSECOND002", "s2"))
	if c, _ := p.Retrieve(ctx); c.AccessKeyID != "AKIDSECOND002" || c.SecretAccessKey != "s2" {
		t.Fatalf("after an in-place rewrite: %s", c.AccessKeyID)
	}
	// Renamed over, as an atomic writer does.
	tmp := filepath.Join(dir, "credentials.tmp")
	write(t, tmp, profile("AKIDTHIRD0003", "s3"))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	clk.SetTime(clk.Now().Add(time.Minute))
	c, _ = p.Retrieve(ctx)
	if c.AccessKeyID != "AKIDTHIRD0003" || !c.Expires.Equal(clk.Now().Add(DefaultRecheck)) {
		t.Fatalf("after a rename: %+v", c)
	}
	if n := log.count("signing with the new keys"); n != 2 {
		t.Errorf("logged %d rotations, want 2", n)
	}
	if n := log.count("s3"); n != 0 {
		t.Error("a secret was logged")
	}
}

// TestBrokenFileKeepsLastKeys: a file half-written or removed after a good read keeps the
// last keys (logged once per error); before any good read it is an error.
func TestBrokenFileKeepsLastKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	log := &lines{}
	p := New(Options{Path: path, Profile: "ecsa", Log: log.logger()})
	ctx := context.Background()
	if _, err := p.Retrieve(ctx); err == nil {
		t.Fatal("no file: no error")
	}
	write(t, path, "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n")
	if _, err := p.Retrieve(ctx); err == nil || !strings.Contains(err.Error(), "ecsa") {
		t.Fatalf("no such profile: %v", err)
	}
	write(t, path, profile("AKIDGOOD00001", "good"))
	if c, err := p.Retrieve(ctx); err != nil || c.AccessKeyID != "AKIDGOOD00001" {
		t.Fatalf("Retrieve = %v, %v", c.AccessKeyID, err)
	}
	write(t, path, "[ecsa]\naws_access_key_id = AKIDHALF\n")
	for range 3 {
		if c, err := p.Retrieve(ctx); err != nil || c.AccessKeyID != "AKIDGOOD00001" {
			t.Fatalf("half-written file: %v, %v; want the last good keys", c.AccessKeyID, err)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if c, err := p.Retrieve(ctx); err != nil || c.AccessKeyID != "AKIDGOOD00001" {
		t.Fatalf("removed file: %v, %v; want the last good keys", c.AccessKeyID, err)
	}
	if n := log.count("keeping the credentials last read"); n != 2 {
		t.Errorf("logged the broken file %d times, want 2 (one per distinct error)", n)
	}
	write(t, path, profile("AKIDFIXED0001", "fixed"))
	if c, _ := p.Retrieve(ctx); c.AccessKeyID != "AKIDFIXED0001" {
		t.Fatalf("repaired file: %s", c.AccessKeyID)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/etc/ecsd/creds")
	if got := DefaultPath(); got != "/etc/ecsd/creds" {
		t.Errorf("DefaultPath = %s", got)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "")
	if got := DefaultPath(); !strings.HasSuffix(got, filepath.Join(".aws", "credentials")) {
		t.Errorf("DefaultPath = %s", got)
	}
}
