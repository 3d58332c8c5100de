package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fakeELF is a minimal 64-bit little-endian ELF header for machine: enough for debug/elf,
// with a PT_INTERP program header when dynamic.
func fakeELF(machine elf.Machine, dynamic bool) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	phoff, phnum := uint64(0), uint16(0)
	if dynamic {
		phoff, phnum = 64, 1
	}
	for _, v := range []any{uint16(elf.ET_EXEC), uint16(machine), uint32(1), uint64(0x400000), phoff, uint64(0),
		uint32(0), uint16(64), uint16(56), phnum, uint16(64), uint16(0), uint16(0)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	if dynamic {
		_ = binary.Write(&b, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_INTERP), Off: 120, Filesz: 1, Memsz: 1})
		b.WriteByte(0)
	}
	return b.Bytes()
}

// testBuild lays out fake binaries and a CA bundle for a -prebuilt build into a temp dir.
func testBuild(t *testing.T, extra ...string) buildOptions {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	o, err := parseBuildFlags(append([]string{"-src", dir, "-out", out, "-version", "1.2.3", "-revision", "abc",
		"-ca-certs", ca, "-prebuilt", "-created", "2026-01-02T03:04:05Z"}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range o.platforms {
		d := binDir(out, p)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, b := range binaries {
			data := append(fakeELF(machines[p.Architecture], false), []byte(b+" "+p.Architecture)...)
			if err := os.WriteFile(filepath.Join(d, b), data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return o
}

func quiet() *progress { return &progress{w: io.Discard, start: time.Now(), every: time.Hour} }

func layerFiles(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestBuildIndexLayoutAndArchives(t *testing.T) {
	o := testBuild(t)
	var out bytes.Buffer
	p := &progress{w: &out, start: time.Now(), every: time.Hour}
	if err := build(o, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"linux/amd64, linux/arm64", "OCI layout", "docker-archive", "[ "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress output lacks %q:\n%s", want, out.String())
		}
	}

	idx, tag, err := readLayout(filepath.Join(o.out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	if tag != "1.2.3" {
		t.Errorf("layout tag %q", tag)
	}
	// containerd's import names the image from index.json.
	if raw, _ := os.ReadFile(filepath.Join(o.out, "oci", "index.json")); !strings.Contains(string(raw), `"io.containerd.image.name": "docker.io/ecsd/ecs-agent:1.2.3"`) {
		t.Errorf("index.json lacks the containerd name:\n%s", raw)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 2 || m.Manifests[0].Platform.String() != "linux/amd64" || m.Manifests[1].Platform.String() != "linux/arm64/v8" {
		t.Fatalf("index manifests %+v", m.Manifests)
	}
	if m.Annotations["org.opencontainers.image.version"] != "1.2.3" || m.Annotations["org.opencontainers.image.licenses"] != "Apache-2.0" {
		t.Errorf("index annotations %v", m.Annotations)
	}
	var baseDigests []v1.Hash
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != d.Platform.Architecture || cfg.OS != "linux" {
			t.Errorf("%s: config platform %s/%s", d.Platform, cfg.OS, cfg.Architecture)
		}
		c := cfg.Config
		if !slices.Equal(c.Entrypoint, []string{"/ecsd/ecs-agent"}) || !slices.Equal(c.Cmd, []string{"--ecs-init-defaults"}) {
			t.Errorf("%s: entrypoint %q cmd %q", d.Platform, c.Entrypoint, c.Cmd)
		}
		if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/ecsd/ecs-agent", "--healthcheck"}) {
			t.Errorf("%s: healthcheck %+v", d.Platform, c.Healthcheck)
		}
		if !slices.Contains(c.Env, "ECSD_HELPERS_DIR=/var/lib/ecs/deps/ecsd") || !slices.ContainsFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
			t.Errorf("%s: env %q", d.Platform, c.Env)
		}
		for _, e := range c.Env {
			if strings.HasPrefix(e, "ECS_") {
				t.Errorf("%s: env %s would override ecs.config", d.Platform, e)
			}
		}
		for k, v := range map[string]string{"org.opencontainers.image.version": "1.2.3", "org.opencontainers.image.revision": "abc",
			"org.opencontainers.image.source": source, "org.opencontainers.image.licenses": "Apache-2.0"} {
			if c.Labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q", d.Platform, k, c.Labels[k], v)
			}
		}
		if !cfg.Created.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("%s: created %v", d.Platform, cfg.Created)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 2 {
			t.Fatalf("%s: %d layers (%v)", d.Platform, len(layers), err)
		}
		base := layerFiles(t, layers[0])
		for _, f := range []string{"etc/ssl/certs/ca-certificates.crt", "tmp/", "sbin", "lib64", "etc/os-release"} {
			if base[f] == nil {
				t.Errorf("%s: base layer lacks %s", d.Platform, f)
			}
		}
		if base["bin/sh"] != nil {
			t.Errorf("%s: the image has a shell", d.Platform)
		}
		bins := layerFiles(t, layers[1])
		for _, b := range binaries {
			if h := bins["ecsd/"+b]; h == nil || h.Mode != 0o755 {
				t.Errorf("%s: /ecsd/%s missing or not 0755 (%+v)", d.Platform, b, h)
			}
		}
		bd, _ := layers[0].Digest()
		baseDigests = append(baseDigests, bd)
	}
	if baseDigests[0] != baseDigests[1] {
		t.Error("the base layer differs between platforms (it is uploaded twice)")
	}

	for _, arch := range []string{"amd64", "arm64"} {
		path := filepath.Join(o.out, "ecs-agent-"+arch+".tar")
		for _, tg := range []string{"ecsd/ecs-agent:1.2.3", "ecsd/ecs-agent:latest"} {
			ref, _ := name.NewTag(tg)
			img, err := tarball.ImageFromPath(path, &ref)
			if err != nil {
				t.Fatalf("%s %s: %v", path, tg, err)
			}
			if cfg, err := img.ConfigFile(); err != nil || cfg.Architecture != arch {
				t.Errorf("%s %s: architecture %v (%v)", path, tg, cfg, err)
			}
		}
	}
}

func TestBuildIsReproducible(t *testing.T) {
	digest := func() v1.Hash {
		o := testBuild(t)
		if err := build(o, quiet()); err != nil {
			t.Fatal(err)
		}
		idx, _, err := readLayout(filepath.Join(o.out, "oci"))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := idx.Digest()
		return d
	}
	if a, b := digest(), digest(); a != b {
		t.Fatalf("two builds of the same inputs: %s and %s", a, b)
	}
}

func TestBuildRefusesDynamicOrForeignBinaries(t *testing.T) {
	o := testBuild(t, "-platforms", "linux/arm64")
	agent := filepath.Join(binDir(o.out, o.platforms[0]), "ecs-agent")
	if err := os.WriteFile(agent, fakeELF(elf.EM_AARCH64, true), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := build(o, quiet()); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Fatalf("dynamic binary: err = %v", err)
	}
	if err := os.WriteFile(agent, fakeELF(elf.EM_X86_64, false), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := build(o, quiet()); err == nil || !strings.Contains(err.Error(), "EM_AARCH64") {
		t.Fatalf("amd64 binary in the arm64 image: err = %v", err)
	}
}

func TestFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"-version", "1", "-platforms", "linux/s390x"},
		{"-platforms", "linux/amd64"},
		{"-version", "1", "-platforms", ","},
		{"-version", "1", "-created", "yesterday"},
		{"-version", "1", "extra"},
	} {
		if _, err := parseBuildFlags(bad); err == nil {
			t.Errorf("build %q accepted", bad)
		}
	}
	if _, err := parsePushFlags(nil); err == nil {
		t.Error("push without -to accepted")
	}
	var stderr bytes.Buffer
	if code := run([]string{"frobnicate"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "unknown command") {
		t.Errorf("unknown command: exit %d, %q", code, stderr.String())
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost:5000": true, "localhost": true, "[::1]:5000": true, "127.1.2.3": true,
		"registry.example.com": false, "10.0.0.1:5000": false, "123456789012.dkr.ecr.us-east-1.amazonaws.com": false,
	} {
		if got := loopback(host); got != want {
			t.Errorf("loopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestPushIndex(t *testing.T) {
	o := testBuild(t)
	if err := build(o, quiet()); err != nil {
		t.Fatal(err)
	}
	var uploads int
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(countUploads(reg, &uploads))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	var out bytes.Buffer
	po := pushOptions{layout: filepath.Join(o.out, "oci"), to: host + "/ecsd/ecs-agent", timeout: time.Minute}
	if err := push(po, &progress{w: &out, start: time.Now(), every: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "linux/amd64, linux/arm64/v8") || !strings.Contains(out.String(), host+"/ecsd/ecs-agent:1.2.3@sha256:") {
		t.Errorf("push output:\n%s", out.String())
	}
	// The tag defaults to the layout's; the registry serves the index with both platforms.
	ref, _ := name.ParseReference(host+"/ecsd/ecs-agent:1.2.3", name.Insecure)
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := idx.IndexManifest()
	if len(m.Manifests) != 2 {
		t.Fatalf("pushed index has %d manifests", len(m.Manifests))
	}
	local, _, _ := readLayout(po.layout)
	if a, b := mustIndexDigest(t, idx), mustIndexDigest(t, local); a != b {
		t.Errorf("registry serves %s, layout holds %s", a, b)
	}
	// Pushing again to another tag uploads no blob.
	before := uploads
	po.to = host + "/ecsd/ecs-agent:again"
	if err := push(po, quiet()); err != nil {
		t.Fatal(err)
	}
	if uploads != before {
		t.Errorf("second push uploaded %d blobs again", uploads-before)
	}
	po.to = host + "/ecsd/ecs-agent@sha256:" + strings.Repeat("0", 64)
	if err := push(po, quiet()); err == nil {
		t.Error("push to a digest accepted")
	}
}

func mustIndexDigest(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// countUploads counts the blob uploads the registry behind it starts.
func countUploads(next http.Handler, n *int) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/blobs/uploads/") {
			mu.Lock()
			*n++
			mu.Unlock()
		}
		next.ServeHTTP(w, req)
	})
}
