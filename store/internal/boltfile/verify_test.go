package boltfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// sample writes a bbolt file with nested buckets, inline buckets, overflow values and enough
// keys for branch pages, with the options the store uses, and returns its bytes.
func sample(t testing.TB, noFreelistSync bool) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: noFreelistSync, FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		big, err := tx.CreateBucket([]byte("big"))
		if err != nil {
			return err
		}
		for i := range 500 {
			if err := big.Put(fmt.Appendf(nil, "key-%05d", i), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
				return err
			}
		}
		if err := big.Put([]byte("overflow"), bytes.Repeat([]byte("x"), 3*4096)); err != nil {
			return err
		}
		small, err := tx.CreateBucket([]byte("small")) // stays inline
		if err != nil {
			return err
		}
		if err := small.Put([]byte("a"), []byte("b")); err != nil {
			return err
		}
		nested, err := big.CreateBucket([]byte("nested"))
		if err != nil {
			return err
		}
		return nested.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	// A second transaction that frees pages, so the freelist (when synced) is not empty.
	_ = db.Update(func(tx *bolt.Tx) error {
		for i := 0; i < 500; i += 3 {
			_ = tx.Bucket([]byte("big")).Delete(fmt.Appendf(nil, "key-%05d", i))
		}
		return nil
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSoundFilesPass(t *testing.T) {
	for _, nfs := range []bool{true, false} {
		data := sample(t, nfs)
		info, err := Verify(data)
		if err != nil {
			t.Fatalf("NoFreelistSync=%v: a file bbolt wrote fails: %v", nfs, err)
		}
		if info.PageSize != 4096 || info.HighWater < 10 || info.Pages < 10 {
			t.Errorf("info %+v", info)
		}
	}
	if _, err := Verify(nil); err != nil {
		t.Errorf("an empty file (bbolt initialises it) fails: %v", err)
	}
}

func TestDamageIsFound(t *testing.T) {
	orig := sample(t, true)
	info, _ := Verify(orig)
	used := int(info.HighWater) * info.PageSize
	for name, damage := range map[string]func([]byte) []byte{
		"truncated to 10 bytes":        func(b []byte) []byte { return b[:10] },
		"truncated to the meta pages":  func(b []byte) []byte { return b[:8192] },
		"truncated by a byte":          func(b []byte) []byte { return b[:used-1] },
		"meta pages zeroed":            func(b []byte) []byte { clear(b[:8192]); return b },
		"data pages zeroed":            func(b []byte) []byte { clear(b[8192:]); return b },
		"data pages filled with 0xff":  func(b []byte) []byte { copy(b[8192:], bytes.Repeat([]byte{0xff}, len(b))); return b },
		"not a database":               func([]byte) []byte { return []byte("hello, world; this is not a bbolt file at all") },
		"page number of page 2 off":    func(b []byte) []byte { b[2*4096] ^= 1; return b },
		"page 2 flags cleared":         func(b []byte) []byte { b[2*4096+8], b[2*4096+9] = 0, 0; return b },
		"page 3 element count raised":  func(b []byte) []byte { b[3*4096+11] ^= 0x40; return b },
		"page 3 claims overflow pages": func(b []byte) []byte { b[3*4096+14] ^= 1; return b },
	} {
		got := damage(bytes.Clone(orig))
		if _, err := Verify(got); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Verify = %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzVerify: Verify never panics, whatever the bytes. Seeds are sound files with one byte
// changed; `go test -fuzz=FuzzVerify ./store/internal/boltfile/` explores further.
func FuzzVerify(f *testing.F) {
	orig := sample(f, true)
	f.Add(orig, 0, byte(0))
	for _, off := range []int{8192, 8192 + 8, 8192 + 16, 3 * 4096, 3*4096 + 24, 5*4096 + 100} {
		f.Add(orig, off, byte(1))
		f.Add(orig, off, byte(0x80))
	}
	f.Fuzz(func(t *testing.T, data []byte, off int, x byte) {
		data = bytes.Clone(data)
		if len(data) > 0 && off >= 0 {
			data[off%len(data)] ^= x
		}
		_, _ = Verify(data)
	})
}
