package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations of the OCI layout's index.json entry: the tag (OCI's convention) and the
// full name containerd's import gives the image.
const (
	annotationRefName        = "org.opencontainers.image.ref.name"
	annotationContainerdName = "io.containerd.image.name"
)

// build compiles the binaries, assembles one image per platform and the index, and writes
// the OCI layout and the docker-archives.
func build(o buildOptions, p *progress) error {
	caCerts, license, err := readInputs(o)
	if err != nil {
		return err
	}
	var names []string
	for _, plat := range o.platforms {
		names = append(names, platformString(plat))
	}
	p.printf("building %s %s for %s", o.name, o.version, strings.Join(names, ", "))
	var imgs []v1.Image
	for _, plat := range o.platforms {
		dir := binDir(o.out, plat)
		if !o.prebuilt {
			if err := goBuild(o, plat, dir, p); err != nil {
				return err
			}
		}
		bins, err := readBinaries(dir, plat)
		if err != nil {
			return err
		}
		var size int64
		for _, b := range bins {
			size += int64(len(b))
		}
		p.printf("%s: %d static binaries, %s; compressing the layers", platformString(plat), len(bins), mib(size))
		img, err := buildImage(o, plat, bins, caCerts, license)
		if err != nil {
			return fmt.Errorf("%s: %w", platformString(plat), err)
		}
		// Digest computes (and caches) the compressed layers: the long part of the build.
		var d v1.Hash
		if err := p.during(platformString(plat)+": compressing", func() (err error) { d, err = img.Digest(); return err }); err != nil {
			return fmt.Errorf("%s: %w", platformString(plat), err)
		}
		p.printf("%s: image %s (%s compressed)", platformString(plat), d, mib(compressedSize(img)))
		imgs = append(imgs, img)
	}
	idx, err := buildIndex(o, imgs)
	if err != nil {
		return err
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		return err
	}

	dir := filepath.Join(o.out, "oci")
	if err := writeLayout(dir, idx, o); err != nil {
		return err
	}
	p.printf("OCI layout %s: index %s, tag %s, platforms %s", dir, idxDigest, o.version, strings.Join(names, ", "))
	for i, img := range imgs {
		path := filepath.Join(o.out, "ecs-agent-"+o.platforms[i].Architecture+".tar")
		tags, err := writeArchive(path, img, o)
		if err != nil {
			return err
		}
		p.printf("docker-archive %s (%s): %s", path, names[i], strings.Join(tags, ", "))
	}
	p.printf("done: %s %s, platforms %s", o.name, o.version, strings.Join(names, ", "))
	return nil
}

func compressedSize(img v1.Image) int64 {
	m, err := img.Manifest()
	if err != nil {
		return 0
	}
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// writeLayout writes the index as an OCI image layout at dir, replacing what was there: it
// is written next to it and renamed, so an interrupted build leaves the old layout whole.
func writeLayout(dir string, idx v1.ImageIndex, o buildOptions) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	lp, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	full, err := name.NewTag(o.name + ":" + o.version)
	if err != nil {
		return fmt.Errorf("-name/-version: %w", err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		annotationRefName:        o.version,
		annotationContainerdName: containerdName(full),
	})); err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// writeArchive writes one platform's image as a docker-archive tagged <name>:<version> and
// <name>:latest (what `ctr images import` and ecs-init reload-cache load).
func writeArchive(path string, img v1.Image, o buildOptions) ([]string, error) {
	refs := map[name.Reference]v1.Image{}
	var tags []string
	for _, t := range []string{o.version, "latest"} {
		tag, err := name.NewTag(o.name + ":" + t)
		if err != nil {
			return nil, fmt.Errorf("-name/-version: %w", err)
		}
		refs[tag] = img
		tags = append(tags, tag.String())
	}
	tmp := path + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("docker-archive %s: %w", path, err)
	}
	return tags, os.Rename(tmp, path)
}

// containerdName is a tag's fully qualified name as containerd spells it: Docker Hub is
// docker.io (go-containerregistry says index.docker.io).
func containerdName(t name.Tag) string {
	reg := t.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + t.RepositoryStr() + ":" + t.TagStr()
}
