package containerd

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"golang.org/x/sys/unix"

	"github.com/ecsd/ecsd/runtime"
)

// The kernel's limits on what execve(2) takes (fs/exec.c): each argument or environment
// string, with its NUL, at most MAX_ARG_STRLEN; all of them with their pointers at most a
// quarter of the stack limit, never less than 128 KiB nor more than 6 MiB (¾ of _STK_LIM).
const (
	maxArgStrlen  = 32 * 4096
	minArgSpace   = 128 << 10
	maxArgSpace   = 6 << 20
	argPointerLen = 8
)

// withExecLimits refuses a spec whose process the kernel would refuse to exec with E2BIG.
// runc reports a container started before its init execs the process, so such a container
// would "start" and die at once, its cause only in its output; checked here, the task
// fails to start with the cause in its reason. It must be the last spec option.
func withExecLimits(stackLimit uint64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil || len(s.Process.Args) == 0 {
			return nil
		}
		return checkExecLimits(s.Process.Args, s.Process.Env, stackFor(s, stackLimit))
	}
}

// checkExecLimits is the kernel's E2BIG check for args and env with stack limit stack.
func checkExecLimits(args, env []string, stack uint64) error {
	exe := args[0]
	for i, a := range args {
		if len(a)+1 > maxArgStrlen {
			return &runtime.ExecError{Detail: fmt.Sprintf("exec %s: argument list too long (argument %d is %d bytes; Linux allows %d per argument)",
				exe, i, len(a), maxArgStrlen-1)}
		}
	}
	for _, e := range env {
		if len(e)+1 > maxArgStrlen {
			name, _, _ := strings.Cut(e, "=")
			return &runtime.ExecError{Detail: fmt.Sprintf("exec %s: argument list too long (environment variable %s is %d bytes; Linux allows %d per variable)",
				exe, name, len(e), maxArgStrlen-1)}
		}
	}
	space := min(max(stack/4, minArgSpace), maxArgSpace)
	var need uint64
	for _, s := range append(args[:len(args):len(args)], env...) {
		need += uint64(len(s)) + 1 + argPointerLen
	}
	if need > space {
		return &runtime.ExecError{Detail: fmt.Sprintf("exec %s: argument list too long (arguments and environment take %d bytes; the limit is %d)",
			exe, need, space)}
	}
	return nil
}

// stackFor is the stack limit the container's process gets: its own RLIMIT_STACK when the
// spec sets one (a ulimit), else def, what it inherits.
func stackFor(s *oci.Spec, def uint64) uint64 {
	for _, r := range s.Process.Rlimits {
		if r.Type == "RLIMIT_STACK" {
			return r.Soft
		}
	}
	return def
}

// inheritedStackLimit is this process's soft RLIMIT_STACK, which containerd, its shims and
// so the containers inherit on a host set up like this one.
func inheritedStackLimit() uint64 {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &l); err != nil {
		return 8 << 20
	}
	return l.Cur
}
