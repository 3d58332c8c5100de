package access

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
)

func TestEnsureKeepsTheKeyPairAndRefreshesTheEndpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ecsd")
	path := filepath.Join(dir, "local-plane.json")
	log := testr.New(t)
	if _, err := Read(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file: %v, want fs.ErrNotExist", err)
	}
	a, err := Ensure(path, "http://127.0.0.1:51690", "local", log)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.AccessKeyID) != 20 || !strings.HasPrefix(a.AccessKeyID, "ECSD") || len(a.SecretAccessKey) != 40 {
		t.Errorf("key pair %q / %d characters", a.AccessKeyID, len(a.SecretAccessKey))
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode(), err, mode)
		}
	}
	// Same endpoint: nothing changes. Another one: the same key pair, the new endpoint.
	b, err := Ensure(path, "http://127.0.0.1:51690", "local", log)
	if err != nil || b != a {
		t.Fatalf("second Ensure = %+v, %v; want %+v", b, err, a)
	}
	c, err := Ensure(path, "http://127.0.0.1:40000", "us-west-2", log)
	if err != nil || c.AccessKeyID != a.AccessKeyID || c.SecretAccessKey != a.SecretAccessKey ||
		c.Endpoint != "http://127.0.0.1:40000" || c.Region != "us-west-2" {
		t.Fatalf("Ensure with a new endpoint = %+v, %v", c, err)
	}
	if r, err := Read(path); err != nil || r != c {
		t.Fatalf("Read = %+v, %v; want %+v", r, err, c)
	}
	// Another installation gets another pair.
	other, err := Ensure(filepath.Join(t.TempDir(), "x.json"), "http://127.0.0.1:1", "local", log)
	if err != nil || other.AccessKeyID == a.AccessKeyID || other.SecretAccessKey == a.SecretAccessKey {
		t.Fatalf("two installations share a key pair: %v", err)
	}
}

func TestEnsureReplacesAnExposedOrDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local-plane.json")
	log := testr.New(t)
	a, err := Ensure(path, "http://127.0.0.1:51690", "local", log)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil {
		t.Fatal("Read accepted a file other users can read")
	}
	b, err := Ensure(path, "http://127.0.0.1:51690", "local", log)
	if err != nil || b.SecretAccessKey == a.SecretAccessKey {
		t.Fatalf("a world-readable file kept its key pair (%v)", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after replacement", fi.Mode())
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Ensure(path, "http://127.0.0.1:51690", "local", log)
	if err != nil || c.AccessKeyID == "" || c.SecretAccessKey == b.SecretAccessKey {
		t.Fatalf("damaged file: %+v, %v", c, err)
	}
	if r, err := Read(path); err != nil || r != c {
		t.Fatalf("Read after the repair = %+v, %v", r, err)
	}
	for _, bad := range []string{`{"endpoint":"127.0.0.1:1","region":"r","accessKeyId":"a","secretAccessKey":"s"}`,
		`{"endpoint":"http://127.0.0.1:1","region":"r","accessKeyId":"a"}`,
		`{"endpoint":"http://127.0.0.1:1","region":"r","accessKeyId":"a","secretAccessKey":"s","token":"x"}`} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path); !errors.Is(err, ErrInvalid) {
			t.Errorf("Read(%s) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := Ensure(path, "not a url", "local", log); !errors.Is(err, ErrInvalid) {
		t.Errorf("Ensure with a bad endpoint: %v", err)
	}
}
