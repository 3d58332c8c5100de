package containerlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileSinkRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	s := NewFileSink(path, 10, 3)
	defer s.Close()
	for _, w := range []string{"aaa\nbbb\n", "ccc\n", "dddddddddddddddd\n", "e\nf\n"} {
		if n, err := s.Write(Stdout, []byte(w)); err != nil || n != len(w) {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	// "aaa\nbbb\n" (8) + "ccc\n" does not fit: rotated after bbb. The long line is split
	// at 10 bytes in a fresh file.
	want := map[int]string{2: "dddddddddd", 1: "dddddd\ne\n", 0: "f\n"}
	for i := 0; i < 4; i++ {
		b, err := os.ReadFile(RotatedPath(path, i))
		w, ok := want[i]
		if !ok {
			if err == nil {
				t.Errorf("%s exists: %q", RotatedPath(path, i), b)
			}
			continue
		}
		if string(b) != w {
			t.Errorf("%s = %q, want %q", RotatedPath(path, i), b, w)
		}
	}
}

func TestFileSinkMaxFileOneTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 9)+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	s := NewFileSink(path, 10, 1)
	defer s.Close()
	if _, err := s.Write(Stdout, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "new\n" {
		t.Fatalf("log = %q, want the existing full file truncated", b)
	}
	if _, err := os.Stat(RotatedPath(path, 1)); err == nil {
		t.Fatal("max-file 1 kept a rotated file")
	}
}
