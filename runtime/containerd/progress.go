package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/diff"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pullWatchdog cancels a pull that has made no progress for timeout. Progress is a byte
// received from the registry or a layer being applied. containerd's diff service applies a
// layer in one call and reports nothing until it is done, so a layer being extracted
// counts as activity throughout, as Docker's "Extracting" messages do for the reference
// agent; the overall pull timeout still bounds it.
type pullWatchdog struct {
	timeout time.Duration
	cause   error
	cancel  context.CancelCauseFunc
	// last is when progress was last seen, in Unix nanoseconds: every Read touches it, so
	// it is an atomic rather than a mutex.
	last atomic.Int64

	mu       sync.Mutex
	applying map[string]struct{}
}

// startWatchdog returns a context for the pull that is cancelled once it goes timeout
// without progress, and the watchdog whose hosts and unpackOpt report progress. stop must
// be called when the pull ends.
func startWatchdog(ctx context.Context, timeout time.Duration) (context.Context, *pullWatchdog) {
	pctx, cancel := context.WithCancelCause(ctx)
	w := &pullWatchdog{
		timeout:  timeout,
		cause:    fmt.Errorf("inactivity time exceeded timeout while pulling image: no progress for %s", timeout),
		cancel:   cancel,
		applying: map[string]struct{}{},
	}
	w.touch()
	go w.run(pctx)
	return pctx, w
}

func (w *pullWatchdog) run(ctx context.Context) {
	t := time.NewTimer(w.timeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w.busy() {
			w.touch()
		}
		next := w.timeout - time.Since(time.Unix(0, w.last.Load()))
		if next <= 0 {
			w.cancel(w.cause)
			return
		}
		t.Reset(next)
	}
}

func (w *pullWatchdog) touch() { w.last.Store(time.Now().UnixNano()) }

func (w *pullWatchdog) busy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.applying) > 0
}

// stop ends the watchdog; the pull context is cancelled with it.
func (w *pullWatchdog) stop() { w.cancel(nil) }

// explain puts the watchdog's verdict in front of err when it was the watchdog that
// cancelled the pull, so the reason says why rather than just "context canceled". A nil
// watchdog (no inactivity timeout) returns err unchanged.
func (w *pullWatchdog) explain(ctx context.Context, err error) error {
	if w != nil && err != nil && errors.Is(context.Cause(ctx), w.cause) {
		return fmt.Errorf("%w: %w", w.cause, err)
	}
	return err
}

// hosts reports every response and every body byte from the registry as progress.
func (w *pullWatchdog) hosts(next docker.RegistryHosts) docker.RegistryHosts {
	return func(host string) ([]docker.RegistryHost, error) {
		hs, err := next(host)
		if err != nil {
			return nil, err
		}
		out := make([]docker.RegistryHost, len(hs))
		for i, h := range hs {
			c := http.Client{}
			if h.Client != nil {
				c = *h.Client
			}
			base := c.Transport
			if base == nil {
				base = http.DefaultTransport
			}
			c.Transport = &progressTransport{base: base, touch: w.touch}
			h.Client = &c
			out[i] = h
		}
		return out, nil
	}
}

// unpackOpt reports layer applies: the diff service reports 0 when an apply starts and the
// layer's size when it ends.
func (w *pullWatchdog) unpackOpt() client.UnpackOpt {
	return func(_ context.Context, c *client.UnpackConfig) error {
		c.ApplyOpts = append(c.ApplyOpts, diff.WithProgress(w.applyProgress))
		return nil
	}
}

func (w *pullWatchdog) applyProgress(desc ocispec.Descriptor, n int64) {
	w.touch()
	w.mu.Lock()
	defer w.mu.Unlock()
	key := desc.Digest.String()
	if _, started := w.applying[key]; started || n != 0 {
		delete(w.applying, key)
		return
	}
	w.applying[key] = struct{}{}
}

type progressTransport struct {
	base  http.RoundTripper
	touch func()
}

func (t *progressTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.touch()
	resp.Body = &progressBody{ReadCloser: resp.Body, touch: t.touch}
	return resp, nil
}

type progressBody struct {
	io.ReadCloser
	touch func()
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.touch()
	}
	return n, err
}
