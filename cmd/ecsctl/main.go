// Command ecsctl is ecsd's kubectl-style CLI. It reads the agent's objects (tasks,
// containers, images, attachments, the instance) through the object API on the
// introspection port, streams container logs, and starts and stops tasks through the local
// ECS control plane, so day-to-day debugging needs neither kubectl nor the AWS CLI.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

func main() {
	// client-go reports discovery failures through klog as well as in the error ecsctl
	// prints; once is enough.
	klog.SetLogger(logr.Discard())
	// SIGINT/SIGTERM cancel the context so a `get -w` or `logs -f` ends cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills ecsctl the usual way.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
