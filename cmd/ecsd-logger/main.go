// Command ecsd-logger takes a task container's stdout and stderr into its log file. The
// agent does not run it: containerd's shim does, once per container, through containerd's
// binary logging (cio.BinaryIO), with the container's stdout on fd 3, its stderr on fd 4
// and a readiness pipe on fd 5, and arguments the agent chose (containerlog.Args). It
// lives as long as the container's task, whatever happens to the agent, and it never lets
// the container block on its output: see package containerlog.
//
// The shim stops it with SIGTERM when the task is deleted (and kills it 12 s later): it
// then reads what is left in the pipes, for at most drainTimeout, writes it, and exits.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/ecsd/ecsd/internal/containerlog"
)

// drainTimeout bounds reading the pipes after SIGTERM; the shim waits 12 s in all.
const drainTimeout = 3 * time.Second

// Descriptors the shim passes (containerd's binary logging protocol).
const (
	fdStdout = 3
	fdStderr = 4
	fdReady  = 5
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	// One P and a small heap goal: hundreds of these run on a busy host, and a logger
	// moves bytes, it computes nothing.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(50)

	fs := flag.NewFlagSet("ecsd-logger", flag.ContinueOnError)
	file := fs.String(containerlog.FlagFile, "", "the log file to append the container's output to")
	maxBuffer := fs.Int(containerlog.FlagMaxBufferSize, containerlog.DefaultMaxBuffer, "bytes buffered before output is dropped")
	maxSize := fs.Int64(containerlog.FlagMaxSize, 0, "bytes at which the log file is rotated (0: never)")
	maxFile := fs.Int(containerlog.FlagMaxFile, 1, "log files kept, the current one included")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" || *maxBuffer <= 0 || *maxSize < 0 || *maxFile < 1 {
		fmt.Fprintf(os.Stderr, "ecsd-logger: --%s is required, --%s must be positive, --%s not negative and --%s at least 1\n",
			containerlog.FlagFile, containerlog.FlagMaxBufferSize, containerlog.FlagMaxSize, containerlog.FlagMaxFile)
		return 2
	}
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	// Non-blocking descriptors go through Go's poller, so reads can be given a deadline.
	var streams [2]*os.File
	for i, fd := range []int{fdStdout, fdStderr} {
		if err := syscall.SetNonblock(fd, true); err != nil {
			fmt.Fprintf(os.Stderr, "ecsd-logger: fd %d: %v\n", fd, err)
			return 1
		}
		streams[i] = os.NewFile(uintptr(fd), fmt.Sprintf("fd%d", fd))
	}
	// The shim holds the container's start until we are ready, so say so before any file
	// work: output waits in the pipes meanwhile, and the agent created the log file before
	// the task. One byte then close: ready for both the "binary" and "binary-v2" schemes.
	if ready := os.NewFile(fdReady, "ready"); ready != nil {
		_, _ = ready.Write([]byte{1})
		_ = ready.Close()
	}
	sink := containerlog.NewFileSink(*file, *maxSize, *maxFile)
	defer sink.Close()
	// Failing to open it is not fatal: the logger must drain the pipes anyway, and it
	// retries the file with every write.
	_ = sink.Open()

	go func() {
		<-stop
		deadline := time.Now().Add(drainTimeout)
		for _, f := range streams {
			_ = f.SetReadDeadline(deadline)
		}
	}()
	errorf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "ecsd-logger: "+format+"\n", a...) }
	err := containerlog.Run(containerlog.Config{
		Stdout:     streams[0],
		Stderr:     streams[1],
		Sink:       sink,
		StatusPath: containerlog.StatusPath(*file),
		MaxBuffer:  *maxBuffer,
		Errorf:     errorf,
	})
	if err != nil {
		errorf("%v", err)
		return 1
	}
	return 0
}
