package metadatafile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecsd/ecsd/internal/atomicfile"
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
	if err := atomicfile.Write(path, data, fileMode); err != nil {
		return "", fmt.Errorf("metadata file: write %s: %w", path, err)
	}
	return path, nil
}
