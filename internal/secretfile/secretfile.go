// Package secretfile reads and creates the small root-only files that hold an installation's
// secrets: the object API's bearer token and the local control plane's key pair. The agent
// creates them on first start; ecsctl only reads them.
package secretfile

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxSize bounds what Read accepts: these files hold a token or a short JSON document.
const maxSize = 64 << 10

// Read returns the contents of path, refusing a file that others may read or write (the
// secret would be shared with every local user) or that is implausibly large.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o lets other users read it; want 0600", path, fi.Mode().Perm())
	}
	if fi.Size() > maxSize {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", path, fi.Size(), maxSize)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil && fi.Size() > 0 {
		return nil, err
	}
	return data, nil
}

// LoadOrCreate returns the contents of path, or, when it does not exist, writes what make
// returns there (mode 0600, its directory 0700, atomically: a crash leaves either no file or
// the whole one) and returns that. Two processes racing to create it agree on one content.
func LoadOrCreate(path string, make func() ([]byte, error)) ([]byte, error) {
	data, err := Read(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	data, err = make()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link, not rename: if another process created the file meanwhile, keep theirs.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Read(path)
		}
		return nil, err
	}
	return data, nil
}

// Token returns n random bytes, base64url-encoded without padding: a bearer token.
func Token(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	out := make([]byte, base64.RawURLEncoding.EncodedLen(n))
	base64.RawURLEncoding.Encode(out, b)
	return out, nil
}

// TrimToken returns a token file's contents without surrounding white space, so a file an
// operator wrote with echo still works.
func TrimToken(data []byte) string { return string(bytes.TrimSpace(data)) }
