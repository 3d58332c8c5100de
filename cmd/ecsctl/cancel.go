package main

import (
	"context"
	"io"
	"net/http"
	"sync"
)

// cancelTransport ends every request, and every response body still being read, when
// ctx ends. cli-runtime's builder issues its requests with context.TODO(), so without it
// an interrupted `ecsctl get` against a server that does not answer would hang.
type cancelTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (c cancelTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(c.ctx, cancel)
	release := func() { stop(); cancel() }
	resp, err := c.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// WrappedRoundTripper lets client-go reach the transport underneath.
func (c cancelTransport) WrappedRoundTripper() http.RoundTripper { return c.next }

// releasingBody releases the request's context once the body is closed: a watch or log
// stream stays cancellable for as long as it is read.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
