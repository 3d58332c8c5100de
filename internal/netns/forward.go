//go:build linux

package netns

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
)

// Dial connects to addr from inside the namespace at path. The host part of addr must be an IP
// literal: name resolution could run on other threads, outside the namespace. ctx bounds the
// connect only; the returned connection stays in the namespace and is usable from any goroutine.
func Dial(ctx context.Context, path, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netns: dial %s: %w", addr, err)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return nil, fmt.Errorf("netns: dial %s: host must be an IP address", addr)
	}
	var conn net.Conn
	err = Do(path, func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

// Forwarder proxies TCP connections accepted inside one namespace to a target dialled from
// the caller's. It lets a process confined to a namespace reach a service listening only in
// the caller's namespace (tests use it to let an agent in a test namespace reach a registry on
// the host's 127.0.0.1).
type Forwarder struct {
	ln     net.Listener
	target string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Forward listens on listenAddr (TCP) inside the namespace at nsPath and, for every accepted
// connection, dials targetAddr (TCP) from the calling process's namespace and copies bytes
// both ways, half-closes included. It returns once the listener is open; forwarding stops when
// ctx is done or Close is called.
func Forward(ctx context.Context, nsPath, listenAddr, targetAddr string) (*Forwarder, error) {
	ln, err := Listen(nsPath, "tcp", listenAddr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Forwarder{ln: ln, target: targetAddr, cancel: cancel, conns: map[net.Conn]struct{}{}}
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		<-ctx.Done()
		ln.Close()
		f.mu.Lock()
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
	}()
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				cancel()
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(ctx, c)
			}()
		}
	}()
	return f, nil
}

// Addr is the listening address inside the namespace (useful with port 0).
func (f *Forwarder) Addr() net.Addr { return f.ln.Addr() }

// Close stops accepting, closes every forwarded connection and waits for them to end.
func (f *Forwarder) Close() error {
	f.cancel()
	f.wg.Wait()
	return nil
}

// track registers c so Close can interrupt it; it reports false once the forwarder is closed.
func (f *Forwarder) track(ctx context.Context, c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *Forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *Forwarder) serve(ctx context.Context, in net.Conn) {
	if !f.track(ctx, in) {
		in.Close()
		return
	}
	defer f.untrack(in)
	var d net.Dialer
	out, err := d.DialContext(ctx, "tcp", f.target)
	if err != nil {
		return
	}
	if !f.track(ctx, out) {
		out.Close()
		return
	}
	defer f.untrack(out)
	done := make(chan struct{})
	go func() {
		pipe(out, in)
		close(done)
	}()
	pipe(in, out)
	<-done
}

// pipe copies src to dst, then half-closes dst's write side so the peer sees EOF while the
// other direction keeps flowing.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		cw.CloseWrite()
		return
	}
	dst.Close()
	src.Close()
}
