// Command mkimage builds a small busybox-based container image and pushes it
// straight to a registry over the Registry HTTP API v2. It needs nothing but
// the Go standard library and a static busybox binary (Debian's
// busybox-static), so the ecsd test environment never has to pull an image
// from the internet.
//
// The image is deterministic: same inputs, same bytes, same digests, run to
// run (fixed mtimes, sorted tar entries, gzip without name or timestamp,
// fixed "created" time, JSON with sorted keys).
//
// Layers:
//
//  1. the busybox rootfs: /bin/busybox plus a /bin/<applet> symlink for every
//     applet `busybox --list` prints, /etc/passwd, /etc/group, /tmp (1777),
//     /root, empty /proc /sys /dev, empty /etc/hosts and /etc/resolv.conf.
//  2. only when -extra-file or -file-content is given: those files.
//
// Example:
//
//	mkimage -registry 127.0.0.1:5000 -repo ecsd/busybox -tag latest
//	mkimage -registry 127.0.0.1:5001 -repo ecsd/busybox -tag v2 \
//	    -user ecsd -password ecsd-secret \
//	    -file-content /etc/ecsd-version=v2 -label org.ecsd.test.version=v2
//
// For every tag it prints one line "<registry>/<repo>:<tag>@<digest>" on
// stdout. Blobs the registry already has (HEAD) are not uploaded again.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Media types.
const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociConfig   = "application/vnd.oci.image.config.v1+json"
	ociLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"

	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	dockerConfig   = "application/vnd.docker.container.image.v1+json"
	dockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

const defaultPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type extraFile struct {
	hostPath string // empty for inline content
	ctrPath  string
	content  []byte
	mode     int64
}

type options struct {
	registry string
	repo     string
	tags     []string
	scheme   string
	user     string
	password string

	busybox string
	// applets overrides `busybox --list` (tests).
	applets []string

	extraFiles []extraFile
	env        []string
	cmd        []string
	entrypoint []string
	workdir    string
	imageUser  string
	labels     map[string]string
	format     string // "oci" or "docker"
	created    time.Time
	arch       string

	dryRun  bool
	verbose bool
	stdout  io.Writer
	stderr  io.Writer
	client  *http.Client
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(2)
	}
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	var (
		tags, extra, contents, env, labels stringList
		cmd, entrypoint, created           string
		o                                  = &options{stdout: os.Stdout, stderr: os.Stderr}
	)
	fs.StringVar(&o.registry, "registry", "127.0.0.1:5000", "registry host:port")
	fs.StringVar(&o.repo, "repo", "ecsd/busybox", "repository name")
	fs.Var(&tags, "tag", "tag to push (repeatable; default latest)")
	fs.StringVar(&o.scheme, "scheme", "http", "registry URL scheme (http or https)")
	fs.StringVar(&o.user, "user", "", "registry user name (HTTP basic auth, also used for a Bearer token realm)")
	fs.StringVar(&o.password, "password", "", "registry password")
	fs.StringVar(&o.busybox, "busybox", "", "static busybox binary (default: /bin/busybox or /usr/bin/busybox)")
	fs.Var(&extra, "extra-file", "hostpath:containerpath, a host file added in a second layer (repeatable)")
	fs.Var(&contents, "file-content", "containerpath=content, a file holding content plus a newline, added in a second layer (repeatable)")
	fs.Var(&env, "env", "K=V added to the image config Env (repeatable; PATH=... replaces the default PATH)")
	fs.StringVar(&cmd, "cmd", `["sh"]`, "image Cmd: a JSON array, or words split on spaces")
	fs.StringVar(&entrypoint, "entrypoint", "", "image Entrypoint: a JSON array, or words split on spaces")
	fs.StringVar(&o.workdir, "workdir", "", "image WorkingDir")
	fs.StringVar(&o.imageUser, "image-user", "", "image config User")
	fs.Var(&labels, "label", "k=v image label (repeatable)")
	fs.StringVar(&o.format, "format", "oci", "manifest format: oci or docker")
	fs.StringVar(&created, "created", "2024-01-01T00:00:00Z", "fixed creation time (RFC 3339) used for the config and all file mtimes")
	fs.StringVar(&o.arch, "arch", runtime.GOARCH, "image architecture")
	fs.BoolVar(&o.dryRun, "dry-run", false, "build only; print the digest without pushing")
	fs.BoolVar(&o.verbose, "v", false, "verbose output on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	o.tags = tags
	if len(o.tags) == 0 {
		o.tags = []string{"latest"}
	}
	if o.format != "oci" && o.format != "docker" {
		return nil, fmt.Errorf("-format must be oci or docker, not %q", o.format)
	}
	if o.scheme != "http" && o.scheme != "https" {
		return nil, fmt.Errorf("-scheme must be http or https, not %q", o.scheme)
	}
	if (o.user == "") != (o.password == "") {
		return nil, errors.New("-user and -password go together")
	}
	var err error
	if o.created, err = time.Parse(time.RFC3339, created); err != nil {
		return nil, fmt.Errorf("-created: %w", err)
	}
	if o.cmd, err = parseArgv(cmd); err != nil {
		return nil, fmt.Errorf("-cmd: %w", err)
	}
	if o.entrypoint, err = parseArgv(entrypoint); err != nil {
		return nil, fmt.Errorf("-entrypoint: %w", err)
	}
	o.env = env
	for _, e := range o.env {
		if !strings.Contains(e, "=") {
			return nil, fmt.Errorf("-env %q: want K=V", e)
		}
	}
	o.labels = map[string]string{}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-label %q: want k=v", l)
		}
		o.labels[k] = v
	}
	for _, e := range extra {
		host, ctr, ok := strings.Cut(e, ":")
		if !ok || host == "" || ctr == "" {
			return nil, fmt.Errorf("-extra-file %q: want hostpath:containerpath", e)
		}
		st, err := os.Stat(host)
		if err != nil {
			return nil, fmt.Errorf("-extra-file: %w", err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("-extra-file %s: not a regular file", host)
		}
		data, err := os.ReadFile(host)
		if err != nil {
			return nil, fmt.Errorf("-extra-file: %w", err)
		}
		o.extraFiles = append(o.extraFiles, extraFile{hostPath: host, ctrPath: ctr, content: data, mode: int64(st.Mode().Perm())})
	}
	for _, c := range contents {
		ctr, content, ok := strings.Cut(c, "=")
		if !ok || ctr == "" {
			return nil, fmt.Errorf("-file-content %q: want containerpath=content", c)
		}
		o.extraFiles = append(o.extraFiles, extraFile{ctrPath: ctr, content: []byte(content + "\n"), mode: 0o644})
	}
	return o, nil
}

// parseArgv accepts a JSON array of strings or space separated words.
func parseArgv(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "[") {
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return strings.Fields(s), nil
}

func (o *options) logf(format string, args ...any) {
	if o.verbose {
		fmt.Fprintf(o.stderr, "mkimage: "+format+"\n", args...)
	}
}

// ---------------------------------------------------------------------------
// Image building
// ---------------------------------------------------------------------------

type blob struct {
	mediaType string
	data      []byte
	digest    string
}

func newBlob(mediaType string, data []byte) blob {
	return blob{mediaType: mediaType, data: data, digest: sha256Digest(data)}
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

type image struct {
	layers     []blob
	config     blob
	manifest   blob
	diffIDs    []string
	mediaTypes struct{ manifest, config, layer string }
}

type tarEntry struct {
	hdr  tar.Header
	data []byte
}

// layerBuilder collects entries; parent directories are added implicitly.
type layerBuilder struct {
	mtime   time.Time
	entries map[string]*tarEntry
}

func newLayerBuilder(mtime time.Time) *layerBuilder {
	return &layerBuilder{mtime: mtime, entries: map[string]*tarEntry{}}
}

func cleanName(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func (b *layerBuilder) add(name string, typ byte, mode int64, linkname string, data []byte) {
	name = cleanName(name)
	if name == "" {
		return
	}
	if dir := path.Dir(name); dir != "." {
		if _, ok := b.entries[dir+"/"]; !ok {
			b.dir(dir, 0o755)
		}
	}
	hdr := tar.Header{
		Typeflag: typ,
		Name:     name,
		Linkname: linkname,
		Mode:     mode,
		Uid:      0,
		Gid:      0,
		Uname:    "root",
		Gname:    "root",
		ModTime:  b.mtime,
	}
	if typ == tar.TypeDir {
		hdr.Name += "/"
	}
	if typ == tar.TypeReg {
		hdr.Size = int64(len(data))
	}
	b.entries[hdr.Name] = &tarEntry{hdr: hdr, data: data}
}

func (b *layerBuilder) dir(name string, mode int64) { b.add(name, tar.TypeDir, mode, "", nil) }
func (b *layerBuilder) file(name string, mode int64, data []byte) {
	b.add(name, tar.TypeReg, mode, "", data)
}
func (b *layerBuilder) symlink(name, target string) { b.add(name, tar.TypeSymlink, 0o777, target, nil) }

// build returns the uncompressed tar and its gzip compression.
func (b *layerBuilder) build() (tarBytes, gzBytes []byte, err error) {
	names := make([]string, 0, len(b.entries))
	for n := range b.entries {
		names = append(names, n)
	}
	sort.Strings(names)

	var tbuf bytes.Buffer
	tw := tar.NewWriter(&tbuf)
	for _, n := range names {
		e := b.entries[n]
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			return nil, nil, fmt.Errorf("tar header %s: %w", n, err)
		}
		if len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				return nil, nil, fmt.Errorf("tar data %s: %w", n, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}

	var gbuf bytes.Buffer
	// No name, zero ModTime and a fixed level: the gzip stream depends only
	// on the tar bytes.
	gw, err := gzip.NewWriterLevel(&gbuf, gzip.DefaultCompression)
	if err != nil {
		return nil, nil, err
	}
	if _, err := gw.Write(tbuf.Bytes()); err != nil {
		return nil, nil, err
	}
	if err := gw.Close(); err != nil {
		return nil, nil, err
	}
	return tbuf.Bytes(), gbuf.Bytes(), nil
}

func findBusybox(explicit string) (string, error) {
	candidates := []string{explicit}
	if explicit == "" {
		candidates = []string{"/bin/busybox", "/usr/bin/busybox"}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("busybox not found (tried %s); install Debian's busybox-static", strings.Join(candidates, ", "))
}

// checkStatic fails unless the ELF file has no program interpreter: a
// dynamically linked busybox would not run in an image without libc.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; install Debian's busybox-static", p)
		}
	}
	return nil
}

func listApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	return strings.Fields(string(out)), nil
}

func rootfsLayer(o *options, busyboxData []byte, applets []string) *layerBuilder {
	b := newLayerBuilder(o.created)
	for _, d := range []string{"bin", "dev", "etc", "home", "proc", "sbin", "sys", "usr", "usr/bin", "usr/sbin", "var"} {
		b.dir(d, 0o755)
	}
	b.dir("root", 0o700)
	b.dir("tmp", 0o1777)
	b.dir("var/tmp", 0o1777)
	b.file("bin/busybox", 0o755, busyboxData)
	for _, a := range applets {
		if a == "" || a == "busybox" || strings.ContainsAny(a, "/\x00") || a == "." || a == ".." {
			continue
		}
		b.symlink("bin/"+a, "busybox")
	}
	b.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	b.file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	b.file("etc/hosts", 0o644, nil)
	b.file("etc/resolv.conf", 0o644, nil)
	return b
}

func buildImage(o *options) (*image, error) {
	applets := o.applets
	var busyboxData []byte
	bbPath, err := findBusybox(o.busybox)
	if err != nil {
		return nil, err
	}
	if applets == nil {
		if err := checkStatic(bbPath); err != nil {
			return nil, err
		}
		if applets, err = listApplets(bbPath); err != nil {
			return nil, err
		}
	}
	if busyboxData, err = os.ReadFile(bbPath); err != nil {
		return nil, err
	}
	hasSh := false
	for _, a := range applets {
		hasSh = hasSh || a == "sh"
	}
	if !hasSh {
		return nil, fmt.Errorf("%s has no sh applet", bbPath)
	}

	img := &image{}
	if o.format == "docker" {
		img.mediaTypes.manifest, img.mediaTypes.config, img.mediaTypes.layer = dockerManifest, dockerConfig, dockerLayer
	} else {
		img.mediaTypes.manifest, img.mediaTypes.config, img.mediaTypes.layer = ociManifest, ociConfig, ociLayer
	}

	builders := []*layerBuilder{rootfsLayer(o, busyboxData, applets)}
	history := []map[string]any{{
		"created":    o.created.UTC().Format(time.RFC3339),
		"created_by": fmt.Sprintf("ecsd hack/mkimage: busybox rootfs (%d applets)", len(applets)),
	}}
	if len(o.extraFiles) > 0 {
		b := newLayerBuilder(o.created)
		var names []string
		for _, f := range o.extraFiles {
			b.file(f.ctrPath, f.mode, f.content)
			names = append(names, cleanName(f.ctrPath))
		}
		builders = append(builders, b)
		history = append(history, map[string]any{
			"created":    o.created.UTC().Format(time.RFC3339),
			"created_by": "ecsd hack/mkimage: extra files " + strings.Join(names, " "),
		})
	}
	for _, b := range builders {
		tarBytes, gz, err := b.build()
		if err != nil {
			return nil, err
		}
		img.diffIDs = append(img.diffIDs, sha256Digest(tarBytes))
		img.layers = append(img.layers, newBlob(img.mediaTypes.layer, gz))
	}

	env := []string{defaultPath}
	for _, e := range o.env {
		if strings.HasPrefix(e, "PATH=") {
			env[0] = e
			continue
		}
		env = append(env, e)
	}
	cfg := map[string]any{
		"created":      o.created.UTC().Format(time.RFC3339),
		"architecture": o.arch,
		"os":           "linux",
		"config": containerConfig{
			User:       o.imageUser,
			Env:        env,
			Entrypoint: o.entrypoint,
			Cmd:        o.cmd,
			WorkingDir: o.workdir,
			Labels:     o.labels,
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": img.diffIDs},
		"history": history,
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	img.config = newBlob(img.mediaTypes.config, cfgJSON)

	m := manifest{
		SchemaVersion: 2,
		MediaType:     img.mediaTypes.manifest,
		Config:        descriptor{MediaType: img.config.mediaType, Digest: img.config.digest, Size: int64(len(img.config.data))},
	}
	for _, l := range img.layers {
		m.Layers = append(m.Layers, descriptor{MediaType: l.mediaType, Digest: l.digest, Size: int64(len(l.data))})
	}
	mJSON, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	img.manifest = newBlob(img.mediaTypes.manifest, mJSON)
	return img, nil
}

type containerConfig struct {
	User       string            `json:"User,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// ---------------------------------------------------------------------------
// Registry HTTP API v2 client
// ---------------------------------------------------------------------------

type registryClient struct {
	base     *url.URL
	repo     string
	user     string
	password string
	token    string
	hc       *http.Client
}

func (c *registryClient) url(p string) string {
	u := *c.base
	u.Path = p
	return u.String()
}

// do sends a request (body may be nil). Credentials go along as HTTP basic
// auth; a Bearer challenge is answered once by fetching a token from its
// realm.
func (c *registryClient) do(method, rawURL string, body []byte, header http.Header) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.ContentLength = int64(len(body))
		if body == nil {
			req.Body = http.NoBody
		}
		for k, v := range header {
			req.Header[k] = v
		}
		switch {
		case c.token != "":
			req.Header.Set("Authorization", "Bearer "+c.token)
		case c.user != "":
			req.SetBasicAuth(c.user, c.password)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		challenge := resp.Header.Get("WWW-Authenticate")
		scheme, params := parseChallenge(challenge)
		if !strings.EqualFold(scheme, "bearer") {
			return resp, nil
		}
		drain(resp)
		if c.token, err = c.fetchToken(params); err != nil {
			return nil, fmt.Errorf("bearer token: %w", err)
		}
	}
}

func (c *registryClient) fetchToken(params map[string]string) (string, error) {
	realm := params["realm"]
	if realm == "" {
		return "", errors.New("challenge without realm")
	}
	u, err := url.Parse(realm)
	if err != nil {
		return "", err
	}
	q := u.Query()
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	scope := params["scope"]
	if scope == "" {
		scope = "repository:" + c.repo + ":pull,push"
	}
	q.Set("scope", scope)
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u.Redacted(), resp.Status)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return "", err
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	if tok.Token == "" {
		return "", errors.New("empty token")
	}
	return tok.Token, nil
}

// parseChallenge parses `Scheme k="v", k2="v,2"`.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		k, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		var v string
		if strings.HasPrefix(after, `"`) {
			after = after[1:]
			var sb strings.Builder
			i := 0
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				sb.WriteByte(after[i])
			}
			v = sb.String()
			if i < len(after) {
				i++
			}
			after = after[i:]
		} else {
			end := strings.IndexByte(after, ',')
			if end < 0 {
				end = len(after)
			}
			v, after = strings.TrimSpace(after[:end]), after[end:]
		}
		params[k] = v
		rest = strings.TrimLeft(after, ", ")
	}
	return scheme, params
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

func respError(what string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	msg := strings.TrimSpace(string(body))
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%s: %s (check -user/-password) %s", what, resp.Status, msg)
	}
	return fmt.Errorf("%s: %s %s", what, resp.Status, msg)
}

func (c *registryClient) blobExists(digest string) (bool, error) {
	resp, err := c.do(http.MethodHead, c.url("/v2/"+c.repo+"/blobs/"+digest), nil, nil)
	if err != nil {
		return false, err
	}
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, respError("HEAD blob "+digest, resp)
	}
}

// pushBlob uploads b unless the registry has it; it reports whether it
// uploaded.
func (c *registryClient) pushBlob(b blob) (bool, error) {
	ok, err := c.blobExists(b.digest)
	if err != nil || ok {
		return false, err
	}
	resp, err := c.do(http.MethodPost, c.url("/v2/"+c.repo+"/blobs/uploads/"), nil, nil)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return false, respError("start upload", resp)
	}
	loc := resp.Header.Get("Location")
	drain(resp)
	if loc == "" {
		return false, errors.New("start upload: no Location header")
	}
	u, err := c.base.Parse(loc)
	if err != nil {
		return false, fmt.Errorf("upload location %q: %w", loc, err)
	}
	q := u.Query()
	q.Set("digest", b.digest)
	u.RawQuery = q.Encode()
	resp, err = c.do(http.MethodPut, u.String(), b.data, http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusCreated {
		return false, respError("upload blob "+b.digest, resp)
	}
	drain(resp)
	return true, nil
}

func (c *registryClient) putManifest(tag string, m blob) error {
	resp, err := c.do(http.MethodPut, c.url("/v2/"+c.repo+"/manifests/"+tag), m.data, http.Header{"Content-Type": {m.mediaType}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return respError("put manifest "+tag, resp)
	}
	defer drain(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != m.digest {
		return fmt.Errorf("put manifest %s: registry computed digest %s, want %s", tag, got, m.digest)
	}
	return nil
}

func run(o *options) error {
	img, err := buildImage(o)
	if err != nil {
		return err
	}
	o.logf("config %s, layers %d, manifest %s", img.config.digest, len(img.layers), img.manifest.digest)
	if o.dryRun {
		for _, t := range o.tags {
			fmt.Fprintf(o.stdout, "%s/%s:%s@%s\n", o.registry, o.repo, t, img.manifest.digest)
		}
		return nil
	}

	hc := o.client
	if hc == nil {
		// No proxy: the registry is local, and nothing may go elsewhere.
		hc = &http.Client{
			Timeout:   2 * time.Minute,
			Transport: &http.Transport{Proxy: nil, DisableCompression: true},
		}
	}
	base, err := url.Parse(o.scheme + "://" + o.registry + "/")
	if err != nil {
		return fmt.Errorf("-registry %q: %w", o.registry, err)
	}
	c := &registryClient{base: base, repo: o.repo, user: o.user, password: o.password, hc: hc}

	for _, b := range append(append([]blob{}, img.layers...), img.config) {
		uploaded, err := c.pushBlob(b)
		if err != nil {
			return err
		}
		if uploaded {
			o.logf("uploaded %s (%d bytes)", b.digest, len(b.data))
		} else {
			o.logf("registry already has %s", b.digest)
		}
	}
	for _, t := range o.tags {
		if err := c.putManifest(t, img.manifest); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout, "%s/%s:%s@%s\n", o.registry, o.repo, t, img.manifest.digest)
	}
	return nil
}
