// Package loggercmd is the main of ecsd-logger, the process containerd's shim runs for
// every task container (see package containerlog and cmd/ecsd-logger): it takes the
// container's stdout on fd 3, its stderr on fd 4 and a readiness pipe on fd 5, and its
// arguments from containerlog.Args.
//
// It is shared by three binaries: ecsd-logger (the file only: small, since hundreds run
// on a host), ecsd-logger-awslogs (the same plus the awslogs driver, which needs the AWS
// SDK and about 1.5 MB more memory per process) and ecsd-logger-ship (the same plus the
// fluentd and syslog drivers, package logship), which ecsd-logger becomes (exec) when its
// arguments ask for shipping.
package loggercmd

import (
	"bytes"
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

// Shipper adds a shipping log driver to the logger: its flags, and the sink they ask for.
type Shipper interface {
	// Register adds the driver's flags.
	Register(fs *flag.FlagSet)
	// New returns the driver's sink, or nil when the flags do not ask for the driver.
	New(errorf func(format string, args ...any)) (ShipSink, error)
}

// ShipSink is a shipping driver's sink.
type ShipSink interface {
	containerlog.Sink
	containerlog.ShipReporter
	// Blocking reports whether the driver runs in blocking mode.
	Blocking() bool
	// StopBlocking makes a blocking sink drop from now on: the logger is stopping.
	StopBlocking()
}

// Run is the logger's main: it reads the container's pipes until they end and returns the
// exit code. ship, when not nil, adds a shipping driver.
func Run(args []string, ship Shipper) int {
	// One P and a small heap goal: hundreds of these run on a busy host, and a logger
	// moves bytes, it computes nothing.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(50)

	fs := flag.NewFlagSet("ecsd-logger", flag.ContinueOnError)
	file := fs.String(containerlog.FlagFile, "", "the log file to append the container's output to")
	maxBuffer := fs.Int(containerlog.FlagMaxBufferSize, containerlog.DefaultMaxBuffer, "bytes buffered before output is dropped")
	maxSize := fs.Int64(containerlog.FlagMaxSize, 0, "bytes at which the log file is rotated (0: never)")
	maxFile := fs.Int(containerlog.FlagMaxFile, 1, "log files kept, the current one included")
	if ship != nil {
		ship.Register(fs)
	}
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
	errorf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "ecsd-logger: "+format+"\n", a...) }
	fileSink := containerlog.NewFileSink(*file, *maxSize, *maxFile)
	// Failing to open it is not fatal: the logger must drain the pipes anyway, and it
	// retries the file with every write.
	_ = fileSink.Open()
	var sink containerlog.Sink = fileSink
	var shipSink ShipSink
	if ship != nil {
		s, err := ship.New(errorf)
		if err != nil {
			// The container runs all the same, its output kept in the file; the status
			// file counts what is not shipped, and why.
			errorf("%v", err)
			s = &deadShip{reason: err.Error(), since: time.Now()}
		}
		shipSink = s
	}
	unblock := make(chan struct{})
	if shipSink != nil {
		sink = containerlog.Tee{File: fileSink, Ship: shipSink}
	}
	defer sink.Close()

	go func() {
		<-stop
		deadline := time.Now().Add(drainTimeout)
		for _, f := range streams {
			_ = f.SetReadDeadline(deadline)
		}
		// Stopping: a blocking driver drops from now on rather than hold the drain up.
		close(unblock)
		if shipSink != nil {
			shipSink.StopBlocking()
		}
	}()
	err := containerlog.Run(containerlog.Config{
		Stdout:     streams[0],
		Stderr:     streams[1],
		Sink:       sink,
		StatusPath: containerlog.StatusPath(*file),
		MaxBuffer:  *maxBuffer,
		Errorf:     errorf,
		Block:      shipSink != nil && shipSink.Blocking(),
		Unblock:    unblock,
	})
	if err != nil {
		errorf("%v", err)
		return 1
	}
	return 0
}

// deadShip stands for a shipping driver that could not be set up: every line is counted
// as dropped, with the reason, so the agent shows it on the container.
type deadShip struct {
	reason string
	since  time.Time
	st     containerlog.ShipStatus
}

func (d *deadShip) Write(_ containerlog.Stream, p []byte) (int, error) {
	if !d.st.Dropping {
		d.st = containerlog.ShipStatus{Dropping: true, Since: d.since, Reason: d.reason, Episodes: 1}
	}
	d.st.DroppedBytes += int64(len(p))
	d.st.DroppedEvents += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

func (d *deadShip) Close() error                        { return nil }
func (d *deadShip) ShipStatus() containerlog.ShipStatus { return d.st }
func (d *deadShip) Blocking() bool                      { return false }
func (d *deadShip) StopBlocking()                       {}
