package localplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/internal/atomicfile"
)

// loadState reads the state file, creating its directory, and returns the state and the
// file's content (nil when there is no file). A missing file is an empty state. A file
// that cannot be parsed (damaged by a disk fault or a hand edit) is renamed aside with a
// timestamp, kept for diagnosis, and the plane starts empty, because refusing to start
// would keep the agent embedding it in a restart loop: the agent re-registers with its
// container instance ARN, which the plane adopts, and its tasks are reported again. A
// file of a newer schema is refused rather than half understood or thrown away.
func loadState(path string, now time.Time, log logr.Logger) (*state, []byte, error) {
	if path == "" {
		return newState(), nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	st, err := parseState(data)
	var newer *newerSchemaError
	switch {
	case errors.As(err, &newer):
		return nil, nil, fmt.Errorf("%w: %s has schema version %d, this build reads up to %d", ErrState, path, newer.version, stateVersion)
	case err != nil:
		aside, rerr := moveAside(path, now)
		if rerr != nil {
			return nil, nil, fmt.Errorf("%w: %s cannot be parsed (%w) nor moved aside: %w", ErrState, path, err, rerr)
		}
		log.Error(err, "the state file cannot be parsed; it was moved aside and the control plane starts empty",
			"path", path, "movedTo", aside)
		return newState(), nil, nil
	}
	return st, data, nil
}

// newerSchemaError is a state file written by a newer version.
type newerSchemaError struct{ version int }

func (e *newerSchemaError) Error() string { return fmt.Sprintf("schema version %d", e.version) }

// parseState decodes a state file's content.
func parseState(data []byte) (*state, error) {
	st := newState()
	if err := json.Unmarshal(data, st); err != nil {
		return nil, err
	}
	if st.Version > stateVersion {
		return nil, &newerSchemaError{version: st.Version}
	}
	st.Version = stateVersion
	st.normalize()
	return st, nil
}

// moveAside renames path to path.corrupt-<UTC time>, with a counter if that name is
// taken, and returns the new name.
func moveAside(path string, now time.Time) (string, error) {
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	for i := 0; i < 100; i++ {
		aside := base
		if i > 0 {
			aside = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			return aside, os.Rename(path, aside)
		}
	}
	return "", fmt.Errorf("too many files named %s*", base)
}

// writeFileAtomic replaces path with data so that a crash at any point leaves either the
// old or the new file, never a torn one: write a temporary file in the same directory,
// fsync it, rename it over path, and fsync the directory so the rename itself is durable.
// The file is private (0600): it holds the fake role credentials.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	return nil
}
