package secretfile

import (
	"os"
	"path/filepath"

	"github.com/ecsd/ecsd/internal/atomicfile"
)

// Write replaces path with data, mode 0600 (its directory created 0700), atomically: a
// crash leaves the old file or the new one, never a torn or empty one. For files whose
// content changes after creation (the local control plane's endpoint).
func Write(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}
