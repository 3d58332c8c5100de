package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type pushOptions struct {
	layout  string
	to      string
	timeout time.Duration
	// transport replaces the default (tests).
	transport http.RoundTripper
}

func parsePushFlags(args []string) (pushOptions, error) {
	o := pushOptions{}
	fs := newFlagSet("push")
	fs.StringVar(&o.layout, "layout", "out/image/oci", "the OCI layout `agentimage build` wrote")
	fs.StringVar(&o.to, "to", "", "HOST[:PORT]/REPO[:TAG] to push to (default tag: the layout's, the version)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if o.to == "" {
		return o, usageError{errors.New("-to is required (make push REGISTRY=host:port/repo[:tag])")}
	}
	return o, nil
}

// loopback reports whether a registry host[:port] is on this machine: only those are
// spoken to over plain HTTP.
func loopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// readLayout returns the image index the layout's index.json names and its tag.
func readLayout(dir string) (v1.ImageIndex, string, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, "", fmt.Errorf("OCI layout %s (run make image first): %w", dir, err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return nil, "", fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, "", fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if len(m.Manifests) != 1 || !m.Manifests[0].MediaType.IsIndex() {
		return nil, "", fmt.Errorf("OCI layout %s: want one image index in index.json, found %d entries", dir, len(m.Manifests))
	}
	idx, err := top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		return nil, "", fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return idx, m.Manifests[0].Annotations[annotationRefName], nil
}

func platforms(idx v1.ImageIndex) ([]string, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range m.Manifests {
		if d.Platform != nil {
			out = append(out, d.Platform.String())
		}
	}
	return out, nil
}

// push uploads the layout's image index (every platform) to o.to. Blobs the registry
// already has are not uploaded again. Credentials come from the Docker config
// (~/.docker/config.json and its credential helpers, e.g. docker-credential-ecr-login).
func push(o pushOptions, p *progress) error {
	idx, tag, err := readLayout(o.layout)
	if err != nil {
		return err
	}
	var nameOpts []name.Option
	refStr := o.to
	repo, _, _ := strings.Cut(refStr, "/")
	if loopback(repo) {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(refStr, append(nameOpts, name.WithDefaultTag(tag))...)
	if err != nil {
		return usageError{fmt.Errorf("-to %q: %w", o.to, err)}
	}
	if _, ok := ref.(name.Digest); ok {
		return usageError{fmt.Errorf("-to %q: push to a tag, not a digest", o.to)}
	}
	plats, err := platforms(idx)
	if err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	p.printf("pushing %s (%s) to %s", digest, strings.Join(plats, ", "), ref.Name())

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	tr := o.transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	updates, done := make(chan v1.Update, 16), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		reportUpdates(updates, done, p)
	}()
	err = remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithTransport(tr),
		remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithProgress(updates))
	close(done)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("push %s: %w", ref.Name(), err)
	}
	p.printf("pushed %s@%s (platforms %s)", ref.Name(), digest, strings.Join(plats, ", "))
	return nil
}

// reportUpdates prints the push's progress at most every p.every until the push is done
// (remote closes updates when it ends; done covers a push that never started).
func reportUpdates(updates <-chan v1.Update, done <-chan struct{}, p *progress) {
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case u, ok := <-updates:
			if !ok {
				return
			}
			if u.Error != nil || u.Total == 0 || time.Since(last) < p.every {
				continue
			}
			last = time.Now()
			p.printf("pushing: %s of %s", mib(u.Complete), mib(u.Total))
		}
	}
}
