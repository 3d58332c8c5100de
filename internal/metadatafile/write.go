package metadatafile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	// fileMode lets any user in the container read the file: the container's user is
	// rarely the agent's.
	fileMode os.FileMode = 0o644
	// dirMode lets any user in the container list the mounted directory.
	dirMode os.FileMode = 0o755
	// subdir is the directory under the data dir that holds every task's metadata.
	subdir = "metadata"
)

// Dir is the host directory holding container containerName's file of task taskID:
// <dataDir>/metadata/<taskID>/<containerName>. It is what gets bind-mounted into the
// container. The names come from the control plane, so they are checked to be single path
// elements: a name like "../x" must not let a write or a cleanup escape dataDir.
func Dir(dataDir, taskID, containerName string) (string, error) {
	td, err := taskDir(dataDir, taskID)
	if err != nil {
		return "", err
	}
	if err := checkName("container name", containerName); err != nil {
		return "", err
	}
	return filepath.Join(td, containerName), nil
}

// RemoveTask deletes the metadata directories of all the containers of task taskID. It is
// called at task cleanup, which may run again after an agent restart, so a directory that
// is already gone is not an error.
func RemoveTask(dataDir, taskID string) error {
	td, err := taskDir(dataDir, taskID)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(td); err != nil {
		return fmt.Errorf("metadata file: remove task %s: %w", taskID, err)
	}
	return nil
}

// taskDir is <dataDir>/metadata/<taskID>. dataDir must be absolute because the directories
// below it are bind-mount sources, which the runtime resolves without a working directory.
func taskDir(dataDir, taskID string) (string, error) {
	if !filepath.IsAbs(dataDir) {
		return "", fmt.Errorf("metadata file: data dir %q is not an absolute path", dataDir)
	}
	if err := checkName("task ID", taskID); err != nil {
		return "", err
	}
	return filepath.Join(dataDir, subdir, taskID), nil
}

// checkName accepts a name only if it is one harmless path element. ECS task IDs and
// container names never contain dots or separators, so rejecting any ".." is no loss.
func checkName(what, name string) error {
	if name == "" || name == "." || strings.Contains(name, "..") || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("metadata file: %s %q is not a single path element", what, name)
	}
	return nil
}

// Write writes f as dir's metadata file and returns the file's path. The file is replaced
// atomically: the content goes to a temporary file in the same directory, which is synced
// and then renamed over the old file, so a container polling the file sees either the old
// or the new content in full, never a truncated one. dir is created if missing.
func Write(dir string, f File) (path string, err error) {
	if dir == "" {
		return "", errors.New("metadata file: empty directory")
	}
	data, err := encode(f)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return "", fmt.Errorf("metadata file: create %s: %w", dir, err)
	}
	// MkdirAll's mode is cut by the umask; the container's user must still be able to read
	// the mounted directory.
	if err := os.Chmod(dir, dirMode); err != nil {
		return "", fmt.Errorf("metadata file: chmod %s: %w", dir, err)
	}
	path = filepath.Join(dir, FileName)
	tmp, err := os.CreateTemp(dir, "."+FileName+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("metadata file: create temporary file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return "", fmt.Errorf("metadata file: write %s: %w", tmp.Name(), err)
	}
	// CreateTemp makes the file 0600; Chmod is not subject to the umask.
	if err = tmp.Chmod(fileMode); err != nil {
		return "", fmt.Errorf("metadata file: chmod %s: %w", tmp.Name(), err)
	}
	// Sync before the rename, or a crash could leave the new name on empty content.
	if err = tmp.Sync(); err != nil {
		return "", fmt.Errorf("metadata file: sync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return "", fmt.Errorf("metadata file: close %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("metadata file: rename to %s: %w", path, err)
	}
	// The file is in place; syncing the directory makes the rename survive a crash too.
	if serr := syncDir(dir); serr != nil {
		return path, serr
	}
	return path, nil
}

// syncDir fsyncs directory dir.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("metadata file: open %s: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("metadata file: sync %s: %w", dir, serr)
	}
	if cerr != nil {
		return fmt.Errorf("metadata file: close %s: %w", dir, cerr)
	}
	return nil
}
