package hostsetup

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
)

// makeDirs creates each directory below root that does not exist yet. Existing ones keep
// their mode and owner.
func makeDirs(log logr.Logger, root string, dirs []Dir) error {
	for _, d := range dirs {
		p := filepath.Join(root, d.Path)
		if fi, err := os.Stat(p); err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("directory %s: exists and is not a directory", p)
			}
			continue
		}
		if err := os.MkdirAll(p, os.FileMode(d.Mode)); err != nil {
			return fmt.Errorf("directory %s: %w", p, err)
		}
		// MkdirAll applies the umask; the data directory must end up exactly 0700.
		if err := os.Chmod(p, os.FileMode(d.Mode)); err != nil {
			return fmt.Errorf("directory %s: %w", p, err)
		}
		log.Info("created directory", "path", p, "mode", fmt.Sprintf("%#o", d.Mode))
	}
	return nil
}
