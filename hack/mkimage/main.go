// Command mkimage builds a small busybox-based container image and pushes it
// straight to a registry. It needs a static busybox binary (Debian's
// busybox-static) and nothing from the internet, so the ecsd test environment
// never has to pull an image.
//
// The layers' tar streams are written here (the rootfs is a file list, not a
// directory on disk); everything above them (gzip, digests, config,
// manifest, media types, and the push with its HEAD checks, uploads and basic
// or Bearer auth) is github.com/google/go-containerregistry. It is a module of
// its own, so the library's dependencies stay out of the agent's go.mod.
//
// The image is deterministic: same inputs, same bytes, same digests, run to
// run (fixed mtimes, sorted tar entries, gzip without name or timestamp,
// fixed "created" time).
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
// stdout. Blobs the registry already has are not uploaded again.
package main

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecsd/ecsd/hack/mkimage/internal/layer"
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
	// transport replaces the default HTTP transport (tests).
	transport http.RoundTripper
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

func rootfsLayer(o *options, busyboxData []byte, applets []string) *layer.Builder {
	b := layer.New(o.created)
	for _, d := range []string{"bin", "dev", "etc", "home", "proc", "sbin", "sys", "usr", "usr/bin", "usr/sbin", "var"} {
		b.Dir(d, 0o755)
	}
	b.Dir("root", 0o700)
	b.Dir("tmp", 0o1777)
	b.Dir("var/tmp", 0o1777)
	b.File("bin/busybox", 0o755, busyboxData)
	for _, a := range applets {
		if a == "" || a == "busybox" || strings.ContainsAny(a, "/\x00") || a == "." || a == ".." {
			continue
		}
		b.Symlink("bin/"+a, "busybox")
	}
	b.File("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	b.File("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	b.File("etc/hosts", 0o644, nil)
	b.File("etc/resolv.conf", 0o644, nil)
	return b
}

func buildImage(o *options) (v1.Image, error) {
	applets := o.applets
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
	busyboxData, err := os.ReadFile(bbPath)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(applets, "sh") {
		return nil, fmt.Errorf("%s has no sh applet", bbPath)
	}
	mt := layer.Format(o.format)
	created := v1.Time{Time: o.created.UTC()}

	builders := []*layer.Builder{rootfsLayer(o, busyboxData, applets)}
	history := []v1.History{{
		Created:   created,
		CreatedBy: fmt.Sprintf("ecsd hack/mkimage: busybox rootfs (%d applets)", len(applets)),
	}}
	if len(o.extraFiles) > 0 {
		b := layer.New(o.created)
		var names []string
		for _, f := range o.extraFiles {
			b.File(f.ctrPath, f.mode, f.content)
			names = append(names, layer.CleanName(f.ctrPath))
		}
		builders = append(builders, b)
		history = append(history, v1.History{
			Created:   created,
			CreatedBy: "ecsd hack/mkimage: extra files " + strings.Join(names, " "),
		})
	}

	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, mt.Manifest), mt.Config)
	for i, b := range builders {
		l, err := b.Layer(mt.Layer)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: history[i]}); err != nil {
			return nil, err
		}
	}

	env := []string{defaultPath}
	for _, e := range o.env {
		if strings.HasPrefix(e, "PATH=") {
			env[0] = e
			continue
		}
		env = append(env, e)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Created = created
	cfg.Architecture = o.arch
	cfg.OS = "linux"
	cfg.Config = v1.Config{
		User:       o.imageUser,
		Env:        env,
		Entrypoint: o.entrypoint,
		Cmd:        o.cmd,
		WorkingDir: o.workdir,
		Labels:     o.labels,
	}
	if len(cfg.Config.Labels) == 0 {
		cfg.Config.Labels = nil
	}
	return mutate.ConfigFile(img, cfg)
}

func run(o *options) error {
	img, err := buildImage(o)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if o.verbose {
		cfg, _ := img.ConfigName()
		layers, _ := img.Layers()
		o.logf("config %s, layers %d, manifest %s", cfg, len(layers), digest)
	}
	if o.dryRun {
		for _, t := range o.tags {
			fmt.Fprintf(o.stdout, "%s/%s:%s@%s\n", o.registry, o.repo, t, digest)
		}
		return nil
	}

	var nameOpts []name.Option
	if o.scheme == "http" {
		nameOpts = append(nameOpts, name.Insecure)
	}
	tr := o.transport
	if tr == nil {
		// No proxy: the registry is local, and nothing may go elsewhere.
		tr = &http.Transport{Proxy: nil, DisableCompression: true}
	}
	auth := authn.Anonymous
	if o.user != "" {
		auth = &authn.Basic{Username: o.user, Password: o.password}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	remoteOpts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(tr), remote.WithAuth(auth)}

	for i, t := range o.tags {
		ref, err := name.NewTag(o.registry+"/"+o.repo+":"+t, nameOpts...)
		if err != nil {
			return fmt.Errorf("-registry/-repo/-tag: %w", err)
		}
		if i == 0 {
			err = remote.Write(ref, img, remoteOpts...)
		} else {
			err = remote.Tag(ref, img, remoteOpts...)
		}
		if err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
		fmt.Fprintf(o.stdout, "%s/%s:%s@%s\n", o.registry, o.repo, t, digest)
	}
	return nil
}
