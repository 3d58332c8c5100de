package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// packageHelperDir is where the deb and rpm packages install the agent's helper binaries
// (ecsd-logger, ecsd-logger-awslogs, ecsd-logger-ship, ecsd-init), while the agent itself is /usr/bin/ecs-agent.
const packageHelperDir = "/usr/libexec/ecsd"

// helperCandidates lists where a helper named name is looked for when no ECSD_*_PATH names
// it, in order: next to the agent's executable (`make build` puts them together in bin/),
// then the packages' helper directory.
func helperCandidates(exe, name string) []string {
	next := filepath.Join(filepath.Dir(exe), name)
	pkg := filepath.Join(packageHelperDir, name)
	if next == pkg {
		return []string{next}
	}
	return []string{next, pkg}
}

// findHelper returns the first candidate that is an executable file, or an error naming
// every place it looked.
func findHelper(name string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find the agent's executable to find %s next to it: %w", name, err)
	}
	var errs []error
	for _, p := range helperCandidates(exe, name) {
		if err := checkExecutable(p); err != nil {
			errs = append(errs, err)
			continue
		}
		return p, nil
	}
	return "", errors.Join(errs...)
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}
