//go:build integration

package controllers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
)

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// slowRegistry serves the test busybox image plus one layer of random bytes, so that no
// containerd namespace has the layer yet (containerd shares content across namespaces) and
// every pull really downloads it. It misbehaves on purpose: it can hang manifest requests,
// or send the random layer in paced chunks and then hang. Other blobs come from the test
// registry.
type slowRegistry struct {
	// hangManifests never answers a manifest request.
	hangManifests bool
	// chunks chunks of 4 KiB of the random layer are sent pace apart; then the rest of the
	// layer, or nothing at all with hang.
	chunks int
	pace   time.Duration
	hang   bool
	// failManifests answers this many manifest requests with 503 before serving them.
	failManifests int32

	manifestRequests atomic.Int32
	host             string
	manifest         []byte
	blobs            map[string][]byte
	layer            string
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// start builds the image and serves it on 127.0.0.1 until the test ends.
func (s *slowRegistry) start(t *testing.T) {
	t.Helper()
	testenv.RequireRegistries(t)
	upstream := &url.URL{Scheme: "http", Host: testenv.Registry()}
	s.build(t, upstream)
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	closing := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		blob := s.blobs[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]
		switch {
		case strings.Contains(r.URL.Path, "/manifests/"):
			if s.manifestRequests.Add(1) <= s.failManifests {
				http.Error(w, "registry hiccup", http.StatusServiceUnavailable)
				return
			}
			if s.hangManifests {
				select {
				case <-r.Context().Done():
				case <-closing:
				}
				return
			}
			w.Header().Set("Docker-Content-Digest", sha256Digest(s.manifest))
			serveBytes(w, r, ociManifest, s.manifest)
		case strings.Contains(r.URL.Path, "/blobs/") && blob != nil:
			if strings.HasSuffix(r.URL.Path, s.layer) && r.Method == http.MethodGet {
				s.serveLayer(w, r, blob, closing)
				return
			}
			serveBytes(w, r, "application/octet-stream", blob)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() {
		close(closing)
		srv.Close()
	})
	s.host = strings.TrimPrefix(srv.URL, "http://")
}

func serveBytes(w http.ResponseWriter, r *http.Request, mediaType string, b []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

func (s *slowRegistry) serveLayer(w http.ResponseWriter, r *http.Request, b []byte, closing <-chan struct{}) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	const chunk = 4096
	for i := 0; i < s.chunks && len(b) > 0; i++ {
		if i > 0 {
			select {
			case <-time.After(s.pace):
			case <-r.Context().Done():
				return
			case <-closing:
				return
			}
		}
		n := min(chunk, len(b))
		_, _ = w.Write(b[:n])
		w.(http.Flusher).Flush()
		b = b[n:]
	}
	if s.hang {
		select {
		case <-r.Context().Done():
		case <-closing:
		}
		return
	}
	_, _ = w.Write(b)
}

// build derives the image from the test busybox: its manifest and config with one more
// layer holding 64 KiB of random bytes.
func (s *slowRegistry) build(t *testing.T, upstream *url.URL) {
	t.Helper()
	get := func(path, accept string) []byte {
		req, err := http.NewRequest(http.MethodGet, upstream.String()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %v", path, resp.Status, err)
		}
		return b
	}
	var manifest map[string]any
	if err := json.Unmarshal(get("/v2/"+testenv.BusyboxRepo+"/manifests/latest", ociManifest), &manifest); err != nil {
		t.Fatal(err)
	}
	cfgDesc := manifest["config"].(map[string]any)
	var config map[string]any
	if err := json.Unmarshal(get("/v2/"+testenv.BusyboxRepo+"/blobs/"+cfgDesc["digest"].(string), "*/*"), &config); err != nil {
		t.Fatal(err)
	}

	random := make([]byte, 64<<10)
	_, _ = rand.Read(random)
	var tarBuf, gzBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	if err := tw.WriteHeader(&tar.Header{Name: "ecsd-random", Mode: 0o644, Size: int64(len(random)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(random)
	_ = tw.Close()
	gz := gzip.NewWriter(&gzBuf)
	_, _ = gz.Write(tarBuf.Bytes())
	_ = gz.Close()
	layer := gzBuf.Bytes()

	rootfs := config["rootfs"].(map[string]any)
	rootfs["diff_ids"] = append(rootfs["diff_ids"].([]any), sha256Digest(tarBuf.Bytes()))
	delete(config, "history")
	cfgBytes, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	cfgDesc["digest"], cfgDesc["size"] = sha256Digest(cfgBytes), len(cfgBytes)
	s.layer = sha256Digest(layer)
	manifest["layers"] = append(manifest["layers"].([]any), map[string]any{
		"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": s.layer, "size": len(layer),
	})
	if s.manifest, err = json.Marshal(manifest); err != nil {
		t.Fatal(err)
	}
	s.blobs = map[string][]byte{sha256Digest(cfgBytes): cfgBytes, s.layer: layer}
}

func (s *slowRegistry) image() string { return s.host + "/" + testenv.BusyboxRepo + ":latest" }

func TestManifestPullTimeout(t *testing.T) {
	reg := &slowRegistry{hangManifests: true}
	reg.start(t)
	h := newHarness(t, func(s *Options, d *Deps) { s.Pull.ManifestTimeout = 300 * time.Millisecond })
	spec := sh("app", serviceCmd)
	spec.Image = reg.image()
	task, cs := newTask("manifest", spec)
	h.run(task, cs)
	got := h.waitTask("manifest", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if !strings.HasPrefix(got.Status.StoppedReason, ReasonPull+":") || !strings.Contains(got.Status.StoppedReason, "manifest not resolved within 300ms") {
		t.Fatalf("reason = %q, want %s naming the manifest timeout", got.Status.StoppedReason, ReasonPull)
	}
}

// A registry that fails a few times and then answers: the pull is retried and the task runs.
func TestPullRetriedAfterTransientFailure(t *testing.T) {
	reg := &slowRegistry{failManifests: 2}
	reg.start(t)
	h := newHarness(t, func(s *Options, d *Deps) { s.Pull.Behavior = PullAlways })
	spec := sh("app", serviceCmd)
	spec.Image = reg.image()
	task, cs := newTask("flaky", spec)
	h.run(task, cs)
	h.waitTask("flaky", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	if c := h.container("flaky", "app"); c.Status.PullAttempts < 1 {
		t.Fatalf("pullAttempts = %d, want the failed attempts counted", c.Status.PullAttempts)
	}
}

// A registry that keeps failing: five attempts, then STOPPED with the registry's error.
func TestPullGivesUpAfterFiveAttempts(t *testing.T) {
	reg := &slowRegistry{failManifests: 1 << 30}
	reg.start(t)
	h := newHarness(t, func(s *Options, d *Deps) { s.Pull.Behavior = PullAlways })
	spec := sh("app", serviceCmd)
	spec.Image = reg.image()
	task, cs := newTask("broken", spec)
	h.run(task, cs)
	got := h.waitTask("broken", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if !strings.HasPrefix(got.Status.StoppedReason, ReasonPull+":") || !strings.Contains(got.Status.StoppedReason, "503") {
		t.Fatalf("reason = %q, want %s with the registry's 503", got.Status.StoppedReason, ReasonPull)
	}
	if c := h.container("broken", "app"); c.Status.PullAttempts != maxPullAttempts-1 {
		t.Fatalf("pullAttempts = %d, want %d retries after the first attempt", c.Status.PullAttempts, maxPullAttempts-1)
	}
}

// ECS_IMAGE_PULL_TIMEOUT ends the pull for good with the reference agent's timeout reason.
func TestPullTimeoutReason(t *testing.T) {
	reg := &slowRegistry{hangManifests: true}
	reg.start(t)
	h := newHarness(t, func(s *Options, d *Deps) {
		s.Pull.Timeout = 300 * time.Millisecond
		s.Pull.ManifestTimeout = time.Minute
	})
	spec := sh("app", serviceCmd)
	spec.Image = reg.image()
	task, cs := newTask("timeout", spec)
	h.run(task, cs)
	got := h.waitTask("timeout", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	want := ReasonTimeout + ": Could not transition to pulled; timed out after waiting 300ms"
	if got.Status.StoppedReason != want {
		t.Fatalf("reason = %q, want %q", got.Status.StoppedReason, want)
	}
	if c := h.container("timeout", "app"); c.Status.PullAttempts != 0 {
		t.Fatalf("pullAttempts = %d; a timed-out pull must not be retried", c.Status.PullAttempts)
	}
}

func TestPullInactivityTimeout(t *testing.T) {
	reg := &slowRegistry{chunks: 1, hang: true}
	reg.start(t)
	h := newHarness(t, func(s *Options, d *Deps) { s.Pull.InactivityTimeout = 500 * time.Millisecond })
	spec := sh("app", serviceCmd)
	spec.Image = reg.image()
	task, cs := newTask("stalled", spec)
	h.run(task, cs)
	got := h.waitTask("stalled", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if !strings.HasPrefix(got.Status.StoppedReason, ReasonPull+":") || !strings.Contains(got.Status.StoppedReason, "inactivity time exceeded timeout") {
		t.Fatalf("reason = %q, want %s naming the inactivity timeout", got.Status.StoppedReason, ReasonPull)
	}
}

// A pull that is slow but keeps receiving data is not inactive, however long it takes.
func TestSlowPullWithProgressIsNotCancelled(t *testing.T) {
	const timeout = 500 * time.Millisecond
	reg := &slowRegistry{chunks: 8, pace: timeout / 3}
	reg.start(t)
	h := newHarness(t, func(s *Options, d *Deps) { s.Pull.InactivityTimeout = timeout; s.Pull.Behavior = PullAlways })
	spec := sh("app", serviceCmd)
	spec.Image = reg.image()
	task, cs := newTask("slow", spec)
	h.run(task, cs)
	h.waitTask("slow", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	c := h.container("slow", "app")
	if d := c.Status.PullStoppedAt.Sub(c.Status.PullStartedAt.Time); d < 2*timeout {
		t.Fatalf("pull took %s; the registry should have made it last over %s", d, 2*timeout)
	}
}
