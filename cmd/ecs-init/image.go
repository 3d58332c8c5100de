package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/runtime/containerd"
)

// The agent image's cache and where its binaries go, as the reference ecs-init keeps its
// agent image: a tarball in /var/cache/ecs and a state file beside it.
const (
	defaultCacheDir = "/var/cache/ecs"
	cacheTarball    = "ecs-agent.tar"
	cacheStateFile  = "state"
	// defaultImageNamespace is the containerd namespace of the agent image: not the tasks'
	// (ECSD_CONTAINERD_NAMESPACE), where the agent's image cleanup would remove it.
	defaultImageNamespace = "ecsd-agent"
	// defaultDepsDir is where the image's /ecsd is copied and the agent runs from: the same
	// directory the containerized agent copies its helpers to (ECSD_HELPERS_DIR).
	defaultDepsDir = "/var/lib/ecs/deps/ecsd"
	// imageBinDir is the image's directory of binaries.
	imageBinDir = "/ecsd"
)

// cacheStatus is the cache state file's value, with the reference's meaning.
type cacheStatus int

const (
	// statusUncached: no usable tarball (or state file) in the cache.
	statusUncached cacheStatus = 0
	// statusCached: the tarball is there; load it if containerd lacks the image.
	statusCached cacheStatus = 1
	// statusReloadNeeded: load the tarball even over an image already loaded (a package
	// install or upgrade writes 2 so its tarball wins).
	statusReloadNeeded cacheStatus = 2
)

// readCacheStatus reads the state file as the reference does: the tarball and the state
// file must both be non-empty, and the file starts with the status number. Anything else
// is uncached; why is returned for the log.
func readCacheStatus(dir string) (cacheStatus, string) {
	for _, f := range []string{cacheTarball, cacheStateFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			return statusUncached, err.Error()
		}
		if fi.Size() == 0 {
			return statusUncached, filepath.Join(dir, f) + " is empty"
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, cacheStateFile))
	if err != nil {
		return statusUncached, err.Error()
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || n < 0 || n > int(statusReloadNeeded) {
		return statusUncached, fmt.Sprintf("%s holds %q, not 0, 1 or 2", filepath.Join(dir, cacheStateFile), first)
	}
	return cacheStatus(n), ""
}

// recordCached writes state 1 once the tarball is loaded, so a reload-needed state is
// acted on once.
func recordCached(dir string) error {
	tmp := filepath.Join(dir, "."+cacheStateFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(int(statusCached))), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, cacheStateFile))
}

// imageFlags are the agent image's flags: reload-cache's, and start's image part.
type imageFlags struct {
	cacheDir  string
	namespace string
	depsDir   string
}

// defaultImageFlags are the flags' defaults.
func defaultImageFlags() imageFlags {
	return imageFlags{cacheDir: defaultCacheDir, namespace: defaultImageNamespace, depsDir: defaultDepsDir}
}

// register adds the flags to fs; withDeps adds start's --deps-dir.
func (f *imageFlags) register(fs *flag.FlagSet, withDeps bool) {
	fs.StringVar(&f.cacheDir, "cache-dir", f.cacheDir, "the agent image's cache: "+cacheTarball+" and its state file")
	fs.StringVar(&f.namespace, "namespace", f.namespace, "containerd namespace the agent image is loaded into")
	if withDeps {
		fs.StringVar(&f.depsDir, "deps-dir", f.depsDir, "with ECSD_AGENT_IMAGE: host directory the image's binaries are copied to and the agent runs from")
	}
}

// check refuses relative paths.
func (f imageFlags) check() error {
	for _, d := range []struct{ flag, path string }{{"--cache-dir", f.cacheDir}, {"--deps-dir", f.depsDir}} {
		if !filepath.IsAbs(d.path) {
			return terminalf("%s %q: the path must be absolute", d.flag, d.path)
		}
	}
	return nil
}

func parseReloadFlags(args []string, stdout io.Writer) (imageFlags, error) {
	f := defaultImageFlags()
	fs := flag.NewFlagSet("ecs-init reload-cache", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.register(fs, false)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "usage: ecs-init reload-cache [flags]")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return f, err
	} else if err != nil {
		return f, terminalf("%w", err)
	}
	if fs.NArg() > 0 {
		return f, terminalf("unexpected arguments %q", fs.Args())
	}
	return f, f.check()
}

// loadConfig reads the agent's configuration the way pre-start does (environment, then
// ecs.config, then the JSON file), for the containerd address, the registry settings and
// ECSD_AGENT_IMAGE.
func loadConfig(ctx context.Context, env func(string) (string, bool), log logr.Logger) (*config.Config, error) {
	cfg, warnings, err := config.Load(ctx, config.WithEnv(env))
	if err != nil {
		return nil, terminalf("configuration: %w", err)
	}
	for _, w := range warnings {
		if strings.HasPrefix(w.Key, "ECSD_CONTAINERD") || strings.HasPrefix(w.Key, "ECSD_AGENT") || w.Key == "ECSD_REGISTRY_CONFIG_PATH" {
			log.Info("configuration warning", "warning", w.String())
		}
	}
	return cfg, nil
}

func openImageRuntime(ctx context.Context, cfg *config.Config, ns string, log logr.Logger) (*containerd.Runtime, error) {
	rt, err := containerd.New(ctx, cfg.ContainerdAddress, ns,
		containerd.WithLogger(log.WithName("containerd")), containerd.WithRegistryConfigPath(cfg.RegistryConfigPath))
	if err != nil {
		return nil, fmt.Errorf("containerd at %s: %w", cfg.ContainerdAddress, err)
	}
	return rt, nil
}

// loadCache imports the cached tarball and records it as loaded.
func loadCache(ctx context.Context, rt *containerd.Runtime, dir string, log logr.Logger) ([]string, error) {
	path := filepath.Join(dir, cacheTarball)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cached agent image: %w", err)
	}
	defer f.Close()
	began := time.Now()
	log.Info("loading the cached agent image into containerd", "path", path, "namespace", rt.Namespace())
	names, err := rt.ImportImages(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := recordCached(dir); err != nil {
		return nil, fmt.Errorf("record the cache state: %w", err)
	}
	log.Info("loaded the cached agent image", "images", names, "took", time.Since(began).Round(time.Millisecond).String())
	return names, nil
}

// reloadCache is the reference's `reload-cache`: load the cached agent image into the
// runtime whatever is loaded already. Without a cache it fails: ecsd downloads no agent.
func reloadCache(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	f, err := parseReloadFlags(args, stdout)
	if err != nil {
		return err
	}
	log, closeLog := newLogger(env, stderr)
	defer closeLog()
	if st, why := readCacheStatus(f.cacheDir); st == statusUncached {
		return fmt.Errorf("no cached agent image in %s (%s); ecsd downloads none: copy the image's docker-archive (make image: out/image/ecs-agent-<arch>.tar) to %s and write 1 to %s",
			f.cacheDir, why, filepath.Join(f.cacheDir, cacheTarball), filepath.Join(f.cacheDir, cacheStateFile))
	}
	cfg, err := loadConfig(ctx, env, log)
	if err != nil {
		return err
	}
	rt, err := openImageRuntime(ctx, cfg, f.namespace, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	names, err := loadCache(ctx, rt, f.cacheDir, log)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return nil
}

// agentFromImage makes sure the image is loaded, copies its binaries to f.depsDir and
// returns the agent's path there.
func agentFromImage(ctx context.Context, cfg *config.Config, f imageFlags, log logr.Logger) (string, error) {
	image := cfg.AgentImage
	rt, err := openImageRuntime(ctx, cfg, f.namespace, log)
	if err != nil {
		return "", err
	}
	defer rt.Close()
	_, inspectErr := rt.InspectImage(ctx, image)
	present := inspectErr == nil
	status, why := readCacheStatus(f.cacheDir)
	switch {
	case status == statusReloadNeeded, status == statusCached && !present:
		if _, err := loadCache(ctx, rt, f.cacheDir, log); err != nil {
			return "", err
		}
		_, inspectErr = rt.InspectImage(ctx, image)
		present = inspectErr == nil
		if !present {
			log.Info("the cached tarball does not hold ECSD_AGENT_IMAGE; pulling it", "image", image)
		}
	case status == statusUncached && !present:
		log.Info("no cached agent image", "dir", f.cacheDir, "reason", why)
	}
	if !present {
		began := time.Now()
		log.Info("pulling the agent image", "image", image, "namespace", f.namespace)
		info, err := rt.PullImage(ctx, image, nil)
		if err != nil {
			return "", fmt.Errorf("ECSD_AGENT_IMAGE=%s: %w", image, err)
		}
		log.Info("pulled the agent image", "image", image, "digest", info.Digest, "took", time.Since(began).Round(time.Millisecond).String())
	}
	copied, err := rt.CopyImageFiles(ctx, image, imageBinDir, f.depsDir)
	if err != nil {
		return "", fmt.Errorf("ECSD_AGENT_IMAGE=%s: %w", image, err)
	}
	agent := filepath.Join(f.depsDir, agentName)
	if _, err := os.Stat(agent); err != nil {
		return "", terminalf("ECSD_AGENT_IMAGE=%s has no %s/%s: %w", image, imageBinDir, agentName, err)
	}
	log.Info("starting the agent from its image", "image", image, "path", agent, "updated", copied)
	return agent, nil
}
