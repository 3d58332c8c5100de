package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// loggerName is ecsd-logger's file name; `make build` puts it next to ecs-agent.
const loggerName = "ecsd-logger"

// findLogger returns the ecsd-logger the shims run for task containers: ECSD_LOGGER_PATH,
// else the one next to the agent's own executable, else the packages' (helperCandidates).
// It must be an absolute path to an executable file, since the shim runs it with no PATH
// and no working directory of ours; a missing logger is an installation error (exit 5),
// not something to run without, because without it a full disk blocks containers.
func findLogger(configured string) (string, error) {
	setting := "ECSD_LOGGER_PATH=" + configured
	path := configured
	if path == "" {
		found, err := findHelper(loggerName)
		if err != nil {
			return "", fmt.Errorf("%w: %s is not installed next to the agent or in %s: %v (install it with the agent, or set ECSD_LOGGER_PATH)", errTerminal, loggerName, packageHelperDir, err)
		}
		return found, nil
	}
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%w: %s: the path must be absolute", errTerminal, setting)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v (install %s with the agent, or set ECSD_LOGGER_PATH)", errTerminal, setting, err, loggerName)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s: %s is not an executable file", errTerminal, setting, path)
	}
	return path, nil
}
