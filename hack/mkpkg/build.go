package main

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// binary is one program the packages ship.
type binary struct {
	// Name is the file name, also cmd/<Name> in the repository.
	Name string
	// Dir is where it is installed.
	Dir string
}

// binaries is every program in the packages. The agent is on PATH (the unit and the
// reference's users run it as /usr/bin/ecs-agent); ecs-init and the helpers the agent runs
// (found next to it, else in /usr/libexec/ecsd) are not commands for people.
var binaries = []binary{
	{"ecs-agent", "/usr/bin"},
	{"ecsctl", "/usr/bin"},
	{"ecs-init", "/usr/libexec/ecsd"},
	{"ecsd-logger", "/usr/libexec/ecsd"},
	{"ecsd-logger-awslogs", "/usr/libexec/ecsd"},
	{"ecsd-logger-ship", "/usr/libexec/ecsd"},
	{"ecsd-init", "/usr/libexec/ecsd"},
}

// heartbeat is how often a build that is still running says so.
const heartbeat = 10 * time.Second

// buildArch cross-compiles every binary for linux/arch into dir with CGO_ENABLED=0: no
// program needs cgo (the standard library's net and os/user fall back to pure Go), and
// static binaries run on any distribution the packages install on, whatever its libc.
// go build -v names each package as it compiles it; those lines are counted, not printed,
// and a line every heartbeat says how far a long (cold-cache) build has got.
func buildArch(ctx context.Context, p *progress, goBin, repo, ldflags, arch, dir string) error {
	args := []string{"build", "-v", "-trimpath", "-ldflags", ldflags, "-o", dir + "/"}
	for _, b := range binaries {
		args = append(args, "./cmd/"+b.Name)
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	var compiled atomic.Int64
	var tail []string // the last lines, for the error message
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			l := sc.Text()
			if !strings.HasPrefix(l, "#") && !strings.Contains(l, " ") {
				compiled.Add(1) // a package path from -v
				continue
			}
			if strings.HasPrefix(l, "go: downloading ") {
				p.say("  linux/%s: %s", arch, l)
				continue
			}
			tail = append(tail, l)
			if len(tail) > 40 {
				tail = tail[1:]
			}
		}
	}()
	start := time.Now()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	waitErr := make(chan error, 1)
	go func() {
		<-done
		waitErr <- cmd.Wait()
	}()
	for {
		select {
		case err := <-waitErr:
			if err != nil {
				return fmt.Errorf("go build for linux/%s: %w\n%s", arch, err, strings.Join(tail, "\n"))
			}
			return checkStatic(dir)
		case <-tick.C:
			p.say("  linux/%s: still compiling (%d packages compiled so far, %s)", arch, compiled.Load(), time.Since(start).Round(time.Second))
		}
	}
}

// checkStatic fails unless every binary in dir is a statically linked ELF file: a
// dynamically linked one (cgo crept in) would depend on the build machine's libc.
func checkStatic(dir string) error {
	var errs []error
	for _, b := range binaries {
		path := filepath.Join(dir, b.Name)
		f, err := elf.Open(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				errs = append(errs, fmt.Errorf("%s is dynamically linked (it has an ELF interpreter): build it with CGO_ENABLED=0", path))
				break
			}
		}
		_ = f.Close()
	}
	return errors.Join(errs...)
}

// completions runs the host's ecsctl to print its bash, zsh and fish completion scripts
// (the same on every architecture) into dir.
func completions(ctx context.Context, ecsctl, dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		cmd := exec.CommandContext(ctx, ecsctl, "completion", shell)
		// The scripts must not depend on who builds them: no server, no token.
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
		script, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s completion %s: %w", ecsctl, shell, err)
		}
		if len(script) == 0 {
			return nil, fmt.Errorf("%s completion %s printed nothing", ecsctl, shell)
		}
		path := filepath.Join(dir, "ecsctl."+shell)
		if err := os.WriteFile(path, script, 0o644); err != nil {
			return nil, err
		}
		out[shell] = path
	}
	return out, nil
}
