package main

import (
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ecsd/ecsd/hack/mkimage/internal/layer"
)

// Paths and settings of the image; README "Agent image" documents them.
const (
	// binPrefix holds ecsd's binaries. It is outside /usr, where the run line mounts the
	// host's /usr.
	binPrefix = "/ecsd/"
	// helpersDir is ECSD_HELPERS_DIR: the host directory (mounted at the same path) the
	// agent copies its helpers into, because containerd's shims run them from the host.
	helpersDir = "/var/lib/ecs/deps/ecsd"
	imagePath  = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// source is the project's address for the org.opencontainers.image.source label (the
	// module path).
	source = "https://github.com/ecsd/ecsd"
	// licence is the SPDX identifier of ecsd's licence, as the reference agent's.
	licence = "Apache-2.0"
)

// labels are the image's labels (config) and the index's annotations.
func labels(o buildOptions) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "ecsd ecs-agent",
		"org.opencontainers.image.description": "containerd-native Amazon ECS container agent",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.licenses":    licence,
	}
	if o.revision != "" {
		l["org.opencontainers.image.revision"] = o.revision
	}
	return l
}

// baseLayer is the same for every platform (one blob in a registry): the CA bundle, /tmp,
// the links into /usr and the licence.
func baseLayer(o buildOptions, caCerts, license []byte) *layer.Builder {
	b := layer.New(o.created)
	for _, d := range []string{"ecsd", "etc", "etc/ssl", "etc/ssl/certs", "proc", "sys", "dev", "run", "usr", "var"} {
		b.Dir(d, 0o755)
	}
	b.Dir("tmp", 0o1777)
	// The host's /usr, mounted read-only by the run line, brings what the agent runs on the
	// host's behalf: iptables, runc and the CNI plugins (/usr/lib/cni), with their libraries.
	// On a merged-/usr host (Debian 12, Ubuntu 22.04+, Amazon Linux 2023, Fedora) these
	// links make /sbin/iptables, /lib64/ld-linux-x86-64.so.2 and the distribution's
	// os-release (ECS_DETAILED_OS_FAMILY) resolve to the host's.
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		b.Symlink(l, "usr/"+l)
	}
	b.Symlink("etc/os-release", "../usr/lib/os-release")
	b.File("etc/ssl/certs/ca-certificates.crt", 0o644, caCerts)
	if license != nil {
		b.File("LICENSE", 0o644, license)
	}
	return b
}

// binaryLayer holds one platform's binaries.
func binaryLayer(o buildOptions, bins map[string][]byte) *layer.Builder {
	b := layer.New(o.created)
	for _, name := range binaries {
		b.File(binPrefix+name, 0o755, bins[name])
	}
	return b
}

// imageConfig is the image's run configuration.
func imageConfig(o buildOptions) v1.Config {
	return v1.Config{
		Entrypoint: []string{binPrefix + "ecs-agent"},
		// The ECS-optimized AMI's defaults (ECS_DATADIR, ECS_LOGFILE, task IAM roles, awslogs,
		// ...) as a layer below ecs.config: set as image Env they would override ecs.config,
		// since the agent's environment wins over the file.
		Cmd: []string{"--ecs-init-defaults"},
		Env: []string{imagePath, "ECSD_HELPERS_DIR=" + helpersDir},
		// Docker's HEALTHCHECK, as the reference image declares it (containerd itself runs
		// no health checks).
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", binPrefix + "ecs-agent", "--healthcheck"}},
		// The introspection API and the credentials/metadata endpoints, as the reference
		// image exposes them (the agent runs with the host's network).
		ExposedPorts: map[string]struct{}{"51678/tcp": {}, "51679/tcp": {}},
		WorkingDir:   "/",
		StopSignal:   "SIGTERM",
		Labels:       labels(o),
	}
}

// buildImage assembles one platform's image from its binaries.
func buildImage(o buildOptions, p v1.Platform, bins map[string][]byte, caCerts, license []byte) (v1.Image, error) {
	mt := layer.Format("oci")
	created := v1.Time{Time: o.created.UTC()}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, mt.Manifest), mt.Config)
	steps := []struct {
		b   *layer.Builder
		why string
	}{
		{baseLayer(o, caCerts, license), "ecsd agentimage: CA certificates, /tmp, links into the host's /usr"},
		{binaryLayer(o, bins), "ecsd agentimage: " + binPrefix + "{" + strings.Join(binaries, ",") + "}"},
	}
	for _, s := range steps {
		l, err := s.b.Layer(mt.Layer)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{Created: created, CreatedBy: s.why}}); err != nil {
			return nil, err
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Created = created
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	cfg.Config = imageConfig(o)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels(o)).(v1.Image), nil
}

// buildIndex puts the platforms' images into one OCI image index.
func buildIndex(o buildOptions, imgs []v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for i, img := range imgs {
		p := o.platforms[i]
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, labels(o)).(v1.ImageIndex), nil
}

// readInputs reads the CA bundle and the licence (nil without one).
func readInputs(o buildOptions) (caCerts, license []byte, err error) {
	if caCerts, err = os.ReadFile(o.caCerts); err != nil {
		return nil, nil, fmt.Errorf("CA certificates (-ca-certs; install Debian's ca-certificates): %w", err)
	}
	if !strings.Contains(string(caCerts), "BEGIN CERTIFICATE") {
		return nil, nil, fmt.Errorf("CA certificates %s: no PEM certificate in it", o.caCerts)
	}
	if o.license != "" {
		if license, err = os.ReadFile(o.license); err != nil {
			return nil, nil, fmt.Errorf("-license: %w", err)
		}
	}
	return caCerts, license, nil
}
