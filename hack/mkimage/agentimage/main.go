// Command agentimage builds ecsd's agent image and pushes it, without Docker: the binaries
// come from `go build` (static, CGO_ENABLED=0) for each platform, the layers are written by
// hack/mkimage/internal/layer (deterministic tar streams), and everything above them
// (compression, digests, configs, manifests, the image index, the OCI layout, the
// docker-archive tarballs and the registry push) is github.com/google/go-containerregistry.
//
//	agentimage build -src . -out out/image -version 0.1.0 -ldflags '...'
//	agentimage push -layout out/image/oci -to 127.0.0.1:5000/ecsd/ecs-agent[:tag]
//
// build writes, under -out:
//
//	oci/                   an OCI image layout whose index.json names the image index
//	                       (every platform) as <version>
//	ecs-agent-<arch>.tar   a docker-archive per platform, tagged <name>:<version> and
//	                       <name>:latest, for `ctr images import` and ecs-init's cache
//	                       (/var/cache/ecs/ecs-agent.tar)
//	bin/linux_<arch>/      the binaries that went into the image
//
// The image (see README "Agent image"): /ecsd/ecs-agent (the entrypoint, Cmd
// --ecs-init-defaults) and the helpers it runs (ecsd-logger, ecsd-logger-awslogs, ecsd-logger-ship, ecsd-init)
// plus ecs-init; Debian's CA bundle at /etc/ssl/certs/ca-certificates.crt; no shell. /bin,
// /sbin, /lib, /lib64 and /etc/os-release are symbolic links into /usr, where the run line
// mounts the host's /usr read-only for the host tools the agent runs (iptables, runc, the
// CNI plugins). Both commands print one progress line per step with the elapsed time, and a
// line every few seconds during a long build or push.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  agentimage build -src DIR -out DIR -version V [-ldflags FLAGS] [-platforms linux/amd64,linux/arm64]
                   [-name ecsd/ecs-agent] [-ca-certs FILE] [-license FILE] [-created RFC3339] [-revision R]
  agentimage push  -layout DIR -to HOST[:PORT]/REPO[:TAG]
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	p := newProgress(stdout)
	var err error
	switch args[0] {
	case "build":
		var o buildOptions
		if o, err = parseBuildFlags(args[1:]); err == nil {
			err = build(o, p)
		}
	case "push":
		var o pushOptions
		if o, err = parsePushFlags(args[1:]); err == nil {
			err = push(o, p)
		}
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "agentimage: %s: %v\n", args[0], err)
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprint(stderr, usage)
		return 2
	}
	return 1
}

// usageError marks bad flags or arguments (exit 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// progress prints what the tool is doing, each line stamped with the time since it started,
// so `make image` is never minutes of silence.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	// every is how often during runs a still-busy step says so.
	every time.Duration
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, start: time.Now(), every: 20 * time.Second}
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "agentimage: [%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// during runs fn, printing "<what>: still running (<n>s)" every p.every until it returns.
func (p *progress) during(what string, fn func() error) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(p.every)
		defer t.Stop()
		began := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.printf("%s: still running (%s)", what, time.Since(began).Round(time.Second))
			}
		}
	}()
	err := fn()
	close(done)
	wg.Wait()
	return err
}

// mib formats a byte count for progress lines.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
