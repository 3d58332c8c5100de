package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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

func readLayer(t *testing.T, gz []byte) (map[string]*tar.Header, []string, []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
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

func TestBuildImageDeterministic(t *testing.T) {
	a, err := buildImage(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildImage(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if a.manifest.digest != b.manifest.digest {
		t.Fatalf("manifest digest differs between builds: %s vs %s", a.manifest.digest, b.manifest.digest)
	}

	v2, err := buildImage(testOptions(t, "-file-content", "/etc/ecsd-version=v2", "-label", "org.ecsd.test.version=v2"))
	if err != nil {
		t.Fatal(err)
	}
	if v2.manifest.digest == a.manifest.digest {
		t.Fatal("v2 image has the same digest as latest")
	}
	if len(v2.layers) != 2 || v2.layers[0].digest != a.layers[0].digest {
		t.Fatalf("v2 should be the base layer plus one: %d layers", len(v2.layers))
	}
}

func TestBuildImageContents(t *testing.T) {
	img, err := buildImage(testOptions(t, "-env", "FOO=bar"))
	if err != nil {
		t.Fatal(err)
	}
	hdrs, order, raw := readLayer(t, img.layers[0].data)
	if got := sha256Digest(raw); got != img.diffIDs[0] {
		t.Fatalf("diff_id %s is not the sha256 of the uncompressed layer (%s)", img.diffIDs[0], got)
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

	var cfg struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			Env []string
			Cmd []string
		} `json:"config"`
		RootFS struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(img.config.data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" || cfg.RootFS.Type != "layers" || len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("config: %s", img.config.data)
	}
	if strings.Join(cfg.Config.Env, " ") != defaultPath+" FOO=bar" || strings.Join(cfg.Config.Cmd, " ") != "sh" {
		t.Fatalf("config: %s", img.config.data)
	}
}

// fakeRegistry is just enough of the Registry API v2 for mkimage.
type fakeRegistry struct {
	mu        sync.Mutex
	blobs     map[string][]byte
	manifests map[string][]byte
	uploads   int
}

func (r *fakeRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if u, p, ok := req.BasicAuth(); !ok || u != "ecsd" || p != "pw" {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := req.URL.Path
	switch {
	case req.Method == http.MethodHead && strings.HasPrefix(p, "/v2/ecsd/busybox/blobs/"):
		if _, ok := r.blobs[strings.TrimPrefix(p, "/v2/ecsd/busybox/blobs/")]; ok {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	case req.Method == http.MethodPost && p == "/v2/ecsd/busybox/blobs/uploads/":
		w.Header().Set("Location", "/v2/ecsd/busybox/blobs/uploads/u1?_state=x")
		w.WriteHeader(http.StatusAccepted)
	case req.Method == http.MethodPut && p == "/v2/ecsd/busybox/blobs/uploads/u1":
		if req.URL.Query().Get("_state") != "x" {
			http.Error(w, "lost state", http.StatusBadRequest)
			return
		}
		data, _ := io.ReadAll(req.Body)
		d := req.URL.Query().Get("digest")
		if sha256Digest(data) != d {
			http.Error(w, "digest mismatch", http.StatusBadRequest)
			return
		}
		r.blobs[d] = data
		r.uploads++
		w.WriteHeader(http.StatusCreated)
	case req.Method == http.MethodPut && strings.HasPrefix(p, "/v2/ecsd/busybox/manifests/"):
		data, _ := io.ReadAll(req.Body)
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil || req.Header.Get("Content-Type") != m.MediaType {
			http.Error(w, "bad manifest", http.StatusBadRequest)
			return
		}
		for _, d := range append([]descriptor{m.Config}, m.Layers...) {
			if _, ok := r.blobs[d.Digest]; !ok {
				http.Error(w, "unknown blob "+d.Digest, http.StatusBadRequest)
				return
			}
		}
		r.manifests[strings.TrimPrefix(p, "/v2/ecsd/busybox/manifests/")] = data
		w.Header().Set("Docker-Content-Digest", sha256Digest(data))
		w.WriteHeader(http.StatusCreated)
	default:
		http.NotFound(w, req)
	}
}

func TestPush(t *testing.T) {
	reg := &fakeRegistry{blobs: map[string][]byte{}, manifests: map[string][]byte{}}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	o := testOptions(t, "-registry", host, "-tag", "latest", "-user", "ecsd", "-password", "pw")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if reg.uploads != 2 || reg.manifests["latest"] == nil {
		t.Fatalf("first push: %d uploads, manifests %v", reg.uploads, len(reg.manifests))
	}
	if out := o.stdout.(*bytes.Buffer).String(); !strings.HasPrefix(out, host+"/ecsd/busybox:latest@sha256:") {
		t.Fatalf("output %q", out)
	}

	// Second push: nothing uploaded again.
	if err := run(testOptions(t, "-registry", host, "-user", "ecsd", "-password", "pw")); err != nil {
		t.Fatal(err)
	}
	if reg.uploads != 2 {
		t.Fatalf("second push uploaded again: %d uploads", reg.uploads)
	}

	// Wrong password fails.
	if err := run(testOptions(t, "-registry", host, "-user", "ecsd", "-password", "nope")); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: err = %v", err)
	}
}

func TestParseChallenge(t *testing.T) {
	scheme, p := parseChallenge(`Bearer realm="http://127.0.0.1:5555/token",service="reg",scope="repository:ecsd/busybox:pull,push"`)
	if scheme != "Bearer" || p["realm"] != "http://127.0.0.1:5555/token" || p["service"] != "reg" || p["scope"] != "repository:ecsd/busybox:pull,push" {
		t.Fatalf("parseChallenge: %q %v", scheme, p)
	}
}

func TestPushBearer(t *testing.T) {
	reg := &fakeRegistry{blobs: map[string][]byte{}, manifests: map[string][]byte{}}
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
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="fake",scope="repository:ecsd/busybox:pull,push"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		req.SetBasicAuth("ecsd", "pw") // satisfy fakeRegistry's own check
		reg.ServeHTTP(w, req)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if err := run(testOptions(t, "-registry", host, "-user", "ecsd", "-password", "pw")); err != nil {
		t.Fatal(err)
	}
	if reg.uploads != 2 || reg.manifests["latest"] == nil {
		t.Fatalf("bearer push: %d uploads", reg.uploads)
	}
}
