package main

import (
	"fmt"
	"path/filepath"

	"github.com/go-logr/logr"
)

// initName is ecsd-init's file name; `make build` puts it next to ecs-agent.
const initName = "ecsd-init"

// findInit returns ecsd-init, the static init the runtime bind-mounts into containers with
// initProcessEnabled and runs as the holder of tasks' shared PID/IPC namespaces:
// ECSD_INIT_PATH, else the one next to the agent's executable, else the packages'
// (helperCandidates). A configured path that is unusable is an installation error (exit
// 5). Without one in either place it returns "": the runtime then looks for another
// static init on the host (tini-static, catatonit), refuses initProcessEnabled containers
// if there is none, and pidMode/ipcMode "task" tasks are refused; both with the reason,
// never run otherwise than asked.
func findInit(configured string, log logr.Logger) (string, error) {
	if configured != "" {
		if !filepath.IsAbs(configured) {
			return "", fmt.Errorf("%w: ECSD_INIT_PATH=%s: the path must be absolute", errTerminal, configured)
		}
		if err := checkExecutable(configured); err != nil {
			return "", fmt.Errorf("%w: ECSD_INIT_PATH=%s: %v", errTerminal, configured, err)
		}
		return configured, nil
	}
	path, err := findHelper(initName)
	if err != nil {
		log.Info("ecsd-init is not installed next to the agent or in "+packageHelperDir+"; initProcessEnabled falls back to the host's init and pidMode/ipcMode task are refused (set ECSD_INIT_PATH)", "error", err.Error())
		return "", nil
	}
	return path, nil
}
