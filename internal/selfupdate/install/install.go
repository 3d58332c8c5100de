// Package install is ecs-init's side of ecsd's self-update: it installs an update the
// agent staged and was told to perform, picks the agent binary to run (the package's, or
// an installed update), and rolls an update back when it does not come up.
//
// The hand-off with the agent is a file in the update directory (ECS_UPDATE_DOWNLOAD_DIR):
// the agent writes a verified artifact there as StagedFile on StageUpdate and renames it
// to ReadyFile on PerformUpdate, just before exiting with ExitUpdate. Only a ReadyFile is
// installed: an update that was staged but never performed is not.
//
// Layout under Options.Root (default /var/lib/ecs/agent):
//
//	versions/<id>/   one unpacked artifact: ecs-agent and its helpers; <id> is the first
//	                 16 hex digits of the artifact's SHA-256
//	state.json       the active version, the one before it, and the identity of the
//	                 package's ecs-agent when the active version was installed
//	trial            "<id> <starts>" while the active version has not yet come up
//
// Rollback: an installed version is on trial until the agent, once registered and serving,
// removes the trial file it was given (TrialEnv). Each start of a version on trial counts;
// when MaxTrialStarts starts went by without it coming up, the previous version (or the
// package's) becomes active again. A package upgrade or reinstall wins over a self-update:
// when the package's ecs-agent is no longer the file it was when the update was installed,
// the package's binary runs.
package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/internal/atomicfile"
	"github.com/ecsd/ecsd/internal/selfupdate/artifact"
)

// The hand-off between the agent and ecs-init.
const (
	// StagedFile is a verified update, downloaded on StageUpdate, in the update directory.
	StagedFile = "ecsd-update.tar.gz"
	// ReadyFile is StagedFile renamed on PerformUpdate: the update to install at the next start.
	ReadyFile = "ecsd-update.ready.tar.gz"
	// TrialEnv names, in the agent's environment, the trial file the agent removes once it
	// is registered and serving. Set only while the version runs on trial.
	TrialEnv = "ECSD_UPDATE_TRIAL_FILE"
	// ExitUpdate is the agent's exit status after an acknowledged PerformUpdate: the
	// reference agent's (and ecs-init's) "restart with the update" code.
	ExitUpdate = 42
	// DefaultRoot holds the installed versions.
	DefaultRoot = "/var/lib/ecs/agent"
	// MaxTrialStarts is how many starts a new version gets to come up before it is rolled back.
	MaxTrialStarts = 3
)

// Packaged is the Result.Version of the package's own ecs-agent.
const Packaged = "packaged"

// Options say where things are.
type Options struct {
	// Root holds the versions and the state (DefaultRoot).
	Root string
	// UpdateDir is where the agent leaves ReadyFile (ECS_UPDATE_DOWNLOAD_DIR); empty means
	// there is nothing to install.
	UpdateDir string
	// PackagedAgent is the package's ecs-agent, run when no update is active.
	PackagedAgent string
	// Arch is the GOARCH an artifact must be built for; default runtime.GOARCH.
	Arch string
	Log  logr.Logger
}

// Result is the agent to run.
type Result struct {
	// Agent is the ecs-agent binary to execute.
	Agent string
	// Version is the installed version's ID, or Packaged.
	Version string
	// TrialFile is set when Version is on trial: pass it to the agent as TrialEnv.
	TrialFile string
}

// state is state.json.
type state struct {
	// Active is the version to run ("" for the package's).
	Active string `json:"active,omitempty"`
	// Previous is what was active before Active ("" for the package's): the rollback target.
	Previous string `json:"previous,omitempty"`
	// PackagedAgent identifies the package's ecs-agent file when Active was installed.
	PackagedAgent string `json:"packagedAgent,omitempty"`
}

// Prepare installs a ready update if there is one, applies the rollback and package rules,
// and returns the agent to run. Failing to install an update is logged and leaves the
// active version in place: the agent must run whatever happens to an update. Only a Root
// that cannot be used at all is an error.
func Prepare(ctx context.Context, o Options) (Result, error) {
	if o.Root == "" {
		o.Root = DefaultRoot
	}
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	log := o.Log
	if err := os.MkdirAll(filepath.Join(o.Root, "versions"), 0o755); err != nil {
		return Result{}, err
	}
	unlock, err := lock(filepath.Join(o.Root, ".lock"))
	if err != nil {
		return Result{}, err
	}
	defer unlock()

	st := readState(filepath.Join(o.Root, "state.json"), log)
	before := st
	packaged := fingerprint(o.PackagedAgent)
	trialPath := filepath.Join(o.Root, "trial")

	if st.Active != "" && st.PackagedAgent != packaged {
		log.Info("the package's ecs-agent changed since the self-update was installed (a package upgrade or reinstall): running the package's version",
			"selfUpdated", st.Active, "packagedAgent", o.PackagedAgent)
		st = state{}
		removeQuietly(trialPath, log)
	}

	if o.UpdateDir != "" {
		ready := filepath.Join(o.UpdateDir, ReadyFile)
		if _, err := os.Stat(ready); err == nil {
			id, err := installVersion(ctx, o, ready)
			switch {
			case err != nil:
				log.Error(err, "cannot install the update; the current version keeps running", "update", ready, "current", orPackaged(st.Active))
			case id == st.Active:
				log.Info("the update is the version already running", "version", id)
			default:
				log.Info("installed the update", "version", id, "previous", orPackaged(st.Active))
				st = state{Active: id, Previous: st.Active, PackagedAgent: packaged}
				if err := writeTrial(trialPath, id, 0); err != nil {
					return Result{}, err
				}
			}
			if st != before {
				if err := writeState(filepath.Join(o.Root, "state.json"), st); err != nil {
					return Result{}, err
				}
				before = st
			}
			// Installed or not, it is not tried again: a broken update would fail at every start.
			removeQuietly(ready, log)
		}
	}

	res := Result{Agent: o.PackagedAgent, Version: Packaged}
	if st.Active != "" {
		st, res = trial(st, o, trialPath, log)
	}
	if st != before {
		if err := writeState(filepath.Join(o.Root, "state.json"), st); err != nil {
			return Result{}, err
		}
	}
	collect(o.Root, st, log)
	return res, nil
}

// trial counts a start of the active version if it is on trial, rolls back when it has
// had its starts, and returns the agent to run.
func trial(st state, o Options, trialPath string, log logr.Logger) (state, Result) {
	agent := filepath.Join(o.Root, "versions", st.Active, "ecs-agent")
	if err := checkComplete(filepath.Join(o.Root, "versions", st.Active)); err != nil {
		log.Error(err, "the active version is damaged: rolling back", "version", st.Active, "to", orPackaged(st.Previous))
		return rollback(st, o, trialPath, log)
	}
	id, starts, err := readTrial(trialPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st, Result{Agent: agent, Version: st.Active}
	case err != nil || id != st.Active:
		// A trial of another version (or unreadable): not this version's; it came up before.
		removeQuietly(trialPath, log)
		return st, Result{Agent: agent, Version: st.Active}
	case starts >= MaxTrialStarts:
		log.Info("the updated agent did not come up: rolling back", "version", st.Active, "starts", starts, "to", orPackaged(st.Previous))
		return rollback(st, o, trialPath, log)
	}
	if err := writeTrial(trialPath, id, starts+1); err != nil {
		log.Error(err, "cannot count the start of the version on trial; running it without a rollback", "version", id)
		return st, Result{Agent: agent, Version: st.Active}
	}
	log.Info("starting an updated agent on trial", "version", id, "start", starts+1, "of", MaxTrialStarts)
	return st, Result{Agent: agent, Version: st.Active, TrialFile: trialPath}
}

func rollback(st state, o Options, trialPath string, log logr.Logger) (state, Result) {
	removeQuietly(trialPath, log)
	st = state{Active: st.Previous, PackagedAgent: st.PackagedAgent}
	if st.Active == "" {
		return state{}, Result{Agent: o.PackagedAgent, Version: Packaged}
	}
	if err := checkComplete(filepath.Join(o.Root, "versions", st.Active)); err != nil {
		log.Error(err, "the previous version is damaged too: running the package's", "version", st.Active)
		return state{}, Result{Agent: o.PackagedAgent, Version: Packaged}
	}
	return st, Result{Agent: filepath.Join(o.Root, "versions", st.Active, "ecs-agent"), Version: st.Active}
}

// installVersion unpacks the artifact into versions/<id> (through a temporary directory
// renamed into place, so a version directory is always complete) and returns its ID.
func installVersion(ctx context.Context, o Options, ready string) (string, error) {
	id, err := fileID(ready)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(o.Root, "versions", id)
	if checkComplete(dir) == nil {
		return id, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Join(o.Root, "versions"), ".tmp-"+id+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	f, err := os.Open(ready)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := artifact.Extract(io.LimitReader(f, artifact.MaxSize+1), tmp, o.Arch); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return id, atomicfile.SyncDir(filepath.Join(o.Root, "versions"))
}

// fileID is the version ID of an artifact: the start of its SHA-256.
func fileID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, artifact.MaxSize+1))
	if err != nil {
		return "", err
	}
	if n > artifact.MaxSize {
		return "", fmt.Errorf("%w: more than %d bytes", artifact.ErrInvalid, artifact.MaxSize)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// checkComplete reports whether dir holds every member as an executable file.
func checkComplete(dir string) error {
	for _, m := range artifact.Members() {
		fi, err := os.Stat(filepath.Join(dir, m))
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file", filepath.Join(dir, m))
		}
	}
	return nil
}

// collect removes the versions neither active nor previous and interrupted installs.
// Running processes of a removed version (a container's logger) keep their binary: the
// kernel holds the file until they exit.
func collect(root string, st state, log logr.Logger) {
	entries, err := os.ReadDir(filepath.Join(root, "versions"))
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() == st.Active || e.Name() == st.Previous {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, "versions", e.Name())); err != nil {
			log.Info("cannot remove an old agent version", "version", e.Name(), "error", err.Error())
		}
	}
}

// fingerprint identifies the file at path without reading it: a package manager replaces
// a file by renaming a new one over it, which changes the inode, and an edit changes the
// size or modification time.
func fingerprint(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
	}
	return fmt.Sprintf("%d:%d:%d:%d", s.Dev, s.Ino, fi.Size(), fi.ModTime().UnixNano())
}

func readState(path string, log logr.Logger) state {
	var st state
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st
	}
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		log.Error(err, "cannot read the self-update state; running the package's ecs-agent", "file", path)
		return state{}
	}
	return st
}

func writeState(path string, st state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

func readTrial(path string) (id string, starts int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", 0, err
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return "", 0, fmt.Errorf("%s: want \"<version> <starts>\"", path)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	return f[0], n, nil
}

func writeTrial(path, id string, starts int) error {
	return atomicfile.Write(path, []byte(fmt.Sprintf("%s %d\n", id, starts)), 0o644)
}

func removeQuietly(path string, log logr.Logger) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Info("cannot remove a file", "file", path, "error", err.Error())
	}
}

func orPackaged(id string) string {
	if id == "" {
		return Packaged
	}
	return id
}

// lock takes an exclusive lock on path: two ecs-init processes never install at once.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}
