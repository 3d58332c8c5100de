package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateCreatesOnceRootOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "token")
	calls := 0
	gen := func() ([]byte, error) { calls++; return Token(32) }
	a, err := LoadOrCreate(path, gen)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(path, gen)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) || calls != 1 {
		t.Fatalf("second load made a new secret: %q vs %q (%d calls)", a, b, calls)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %04o, want 0700", di.Mode().Perm())
	}
	if len(a) != 43 {
		t.Fatalf("token %q has %d characters, want 43", a, len(a))
	}
}

func TestLoadOrCreateRaceAgrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := LoadOrCreate(path, func() ([]byte, error) { return Token(32) })
			if err != nil {
				t.Error(err)
			}
			got[i] = string(b)
		}()
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Fatalf("racing creators disagree: %q", got)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".token.*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestReadRefusesSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("Read of a 0644 file: %v, want a refusal naming 0600", err)
	}
}

func TestTrimToken(t *testing.T) {
	if got := TrimToken([]byte(" abc\n")); got != "abc" {
		t.Fatalf("TrimToken = %q", got)
	}
}
