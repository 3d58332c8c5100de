package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testOptions uses a fake busybox file and a fixed applet list, so the test
// needs neither busybox nor a registry.
func testOptions(t *testing.T, args ...string) *options {
	t.Helper()
	bb := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(bb, []byte("not really busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags(append([]string{"-busybox", bb}, args...))
	if err != nil {
		t.Fatal(err)
	}
	o.applets = []string{"sh", "sleep", "echo", "busybox", "[", "wget"}
	var out bytes.Buffer
	o.stdout, o.stderr = &out, io.Discard
	return o
}

// readLayer returns the headers of layer i of img, in tar order, and its
// uncompressed bytes.
func readLayer(t *testing.T, img v1.Image, i int) (map[string]*tar.Header, []string, []byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[i].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	hdrs := map[string]*tar.Header{}
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs[h.Name] = h
		order = append(order, h.Name)
	}
	return hdrs, order, raw
}

func mustDigest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range layers {
		out = append(out, mustDigest(t, l))
	}
	return out
}

func TestBuildImageDeterministic(t *testing.T) {
	a, err := buildImage(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildImage(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if da, db := mustDigest(t, a), mustDigest(t, b); da != db {
		t.Fatalf("manifest digest differs between builds: %s vs %s", da, db)
	}

	v2, err := buildImage(testOptions(t, "-file-content", "/etc/ecsd-version=v2", "-label", "org.ecsd.test.version=v2"))
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, v2) == mustDigest(t, a) {
		t.Fatal("v2 image has the same digest as latest")
	}
	if l2, l1 := layerDigests(t, v2), layerDigests(t, a); len(l2) != 2 || l2[0] != l1[0] {
		t.Fatalf("v2 should be the base layer plus one: %d layers", len(l2))
	}
	hdrs, _, _ := readLayer(t, v2, 1)
	if h := hdrs["etc/ecsd-version"]; h == nil || h.Size != int64(len("v2\n")) {
		t.Fatalf("etc/ecsd-version in the second layer: %+v", h)
	}
}

func TestBuildImageContents(t *testing.T) {
	img, err := buildImage(testOptions(t, "-env", "FOO=bar"))
	if err != nil {
		t.Fatal(err)
	}
	hdrs, order, raw := readLayer(t, img, 0)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if got := "sha256:" + hex.EncodeToString(sum[:]); len(cfg.RootFS.DiffIDs) != 1 || got != cfg.RootFS.DiffIDs[0].String() {
		t.Fatalf("diff_ids %v: want the sha256 of the uncompressed layer (%s)", cfg.RootFS.DiffIDs, got)
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Fatalf("tar entries not sorted: %q before %q", order[i-1], order[i])
		}
	}
	if h := hdrs["bin/sh"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
		t.Fatalf("bin/sh: %+v", h)
	}
	if hdrs["bin/busybox"] == nil || hdrs["bin/busybox"].Typeflag != tar.TypeReg {
		t.Fatal("bin/busybox missing")
	}
	if h := hdrs["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Fatalf("tmp/: %+v", h)
	}
	for _, n := range []string{"etc/passwd", "etc/group", "etc/hosts", "etc/resolv.conf", "proc/", "sys/", "dev/", "root/", "bin/["} {
		if hdrs[n] == nil {
			t.Errorf("%s missing from rootfs layer", n)
		}
	}
	if cfg.OS != "linux" || cfg.Architecture == "" || cfg.RootFS.Type != "layers" {
		t.Fatalf("config: %+v", cfg)
	}
	if strings.Join(cfg.Config.Env, " ") != defaultPath+" FOO=bar" || strings.Join(cfg.Config.Cmd, " ") != "sh" {
		t.Fatalf("config: %+v", cfg.Config)
	}
	if !cfg.Created.Equal(mustTime(t, "2024-01-01T00:00:00Z")) || len(cfg.History) != 1 {
		t.Fatalf("created %v, history %+v", cfg.Created, cfg.History)
	}
}

func TestFormats(t *testing.T) {
	for format, want := range map[string][3]types.MediaType{
		"oci":    {types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer},
		"docker": {types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer},
	} {
		img, err := buildImage(testOptions(t, "-format", format))
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != want[0] || m.Config.MediaType != want[1] || len(m.Layers) != 1 || m.Layers[0].MediaType != want[2] {
			t.Errorf("%s: manifest %s, config %s, layers %+v", format, m.MediaType, m.Config.MediaType, m.Layers)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// countingRegistry is go-containerregistry's in-memory registry behind HTTP
// basic auth (ecsd/pw), counting blob uploads.
type countingRegistry struct {
	next    http.Handler
	mu      sync.Mutex
	uploads int
}

func (r *countingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if u, p, ok := req.BasicAuth(); !ok || u != "ecsd" || p != "pw" {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/blobs/uploads/") {
		r.mu.Lock()
		r.uploads++
		r.mu.Unlock()
	}
	r.next.ServeHTTP(w, req)
}

func (r *countingRegistry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uploads
}

// pulled reads back ref's image as a client would.
func pulled(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithAuth(&authn.Basic{Username: "ecsd", Password: "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPush(t *testing.T) {
	reg := &countingRegistry{next: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	o := testOptions(t, "-registry", host, "-tag", "latest", "-tag", "v1", "-user", "ecsd", "-password", "pw")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if reg.count() != 2 {
		t.Fatalf("first push: %d uploads, want 2 (layer, config)", reg.count())
	}
	out := o.stdout.(*bytes.Buffer).String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], host+"/ecsd/busybox:latest@sha256:") || !strings.HasPrefix(lines[1], host+"/ecsd/busybox:v1@sha256:") {
		t.Fatalf("output %q", out)
	}
	_, printed, _ := strings.Cut(lines[0], "@")
	for _, tag := range []string{"latest", "v1"} {
		if got := mustDigest(t, pulled(t, host+"/ecsd/busybox:"+tag)).String(); got != printed {
			t.Errorf("%s pulls as %s, printed %s", tag, got, printed)
		}
	}

	// Second push: nothing uploaded again.
	if err := run(testOptions(t, "-registry", host, "-user", "ecsd", "-password", "pw")); err != nil {
		t.Fatal(err)
	}
	if reg.count() != 2 {
		t.Fatalf("second push uploaded again: %d uploads", reg.count())
	}

	// Wrong password fails.
	if err := run(testOptions(t, "-registry", host, "-user", "ecsd", "-password", "nope")); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: err = %v", err)
	}
}

func TestPushBearer(t *testing.T) {
	reg := &countingRegistry{next: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/token" {
			if u, p, _ := req.BasicAuth(); u != "ecsd" || p != "pw" || req.URL.Query().Get("service") != "fake" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`{"token":"tok"}`))
			return
		}
		if req.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="fake"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		req.SetBasicAuth("ecsd", "pw") // satisfy countingRegistry's own check
		reg.ServeHTTP(w, req)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if err := run(testOptions(t, "-registry", host, "-user", "ecsd", "-password", "pw")); err != nil {
		t.Fatal(err)
	}
	if reg.count() != 2 {
		t.Fatalf("bearer push: %d uploads", reg.count())
	}
}
