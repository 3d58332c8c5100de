// Command ecsd-init is the init ecsd puts at PID 1 of containers with initProcessEnabled,
// and the process that holds a task's shared PID and IPC namespaces. It is built static
// (CGO_ENABLED=0) because it is bind-mounted into arbitrary images, which may have no libc.
//
//	ecsd-init [--] CMD [ARG...]   run CMD as its only child: forward every signal to it,
//	                              reap every process that ends up as its child (orphans are
//	                              re-parented to PID 1), and exit with CMD's status (128+N
//	                              if a signal N ended it), as tini and docker-init do.
//	ecsd-init --pause             hold the namespaces it runs in: sleep until SIGTERM or
//	                              SIGINT, reaping any orphan meanwhile, then exit 0.
//
// Outside PID 1 (tests, a container whose PID namespace it does not lead) it makes itself
// the child subreaper, so orphans still come to it.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// exitUsage is the status for a bad command line; 127 and 126 follow the shell's
// conventions for a command that cannot be found or executed.
const (
	exitUsage       = 2
	exitCannotExec  = 126
	exitNotFound    = 127
	signalExitShift = 128
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if os.Getpid() != 1 {
		// Orphans of our child come to us instead of the real init, which cannot be
		// relied on to reap them for us.
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	// Subscribe before the child exists, so no signal or child exit is missed.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	if len(args) == 1 && args[0] == "--pause" {
		return pause(sigs)
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 || args[0] == "" {
		fmt.Fprintln(os.Stderr, "usage: ecsd-init [--] CMD [ARG...] | ecsd-init --pause")
		return exitUsage
	}
	path, err := lookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "ecsd-init: %s: %v\n", args[0], err)
		return exitNotFound
	}
	child, err := os.StartProcess(path, args, &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Env:   os.Environ(),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ecsd-init: exec %s: %v\n", args[0], err)
		if errors.Is(err, os.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotExec
	}
	// The child's status is collected by reap (wait4 on any child), never by os.Process.
	for sig := range sigs {
		s, ok := sig.(syscall.Signal)
		if !ok {
			continue
		}
		if s == syscall.SIGCHLD {
			if status, done := reap(child.Pid); done {
				return status
			}
			continue
		}
		if forwarded(s) {
			_ = syscall.Kill(child.Pid, s)
		}
	}
	return 0
}

// pause holds on until asked to stop, reaping whatever is re-parented to it.
func pause(sigs <-chan os.Signal) int {
	// Said only once SIGTERM is ours (run subscribed before calling): a caller that waits
	// for this line knows a SIGTERM now stops the holder cleanly, not by the default action.
	fmt.Fprintln(os.Stderr, "ecsd-init: holding the namespaces until SIGTERM")
	for sig := range sigs {
		switch sig {
		case syscall.SIGTERM, syscall.SIGINT:
			return 0
		case syscall.SIGCHLD:
			reap(-1)
		}
	}
	return 0
}

// forwarded reports whether s goes to the child. SIGCHLD is ours; SIGURG is what the Go
// runtime preempts goroutines with, not a request from anyone.
func forwarded(s syscall.Signal) bool {
	return s != syscall.SIGCHLD && s != syscall.SIGURG
}

// reap collects every child that has exited. If main (> 0) is among them it returns the
// exit status the init should end with and true.
func reap(main int) (int, bool) {
	status, done := 0, false
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return status, done
		}
		if pid == main {
			status, done = exitStatus(ws), true
		}
	}
}

// exitStatus is the shell's view of a wait status: the exit code, or 128+N for signal N.
func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return signalExitShift + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// lookPath resolves name like execvp: a name with a slash is used as is, others are
// searched in $PATH (Docker's default PATH when unset).
func lookPath(name string) (string, error) {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			return name, nil
		}
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	start := 0
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != ':' {
			continue
		}
		dir := path[start:i]
		start = i + 1
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}
