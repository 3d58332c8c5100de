// Package layer writes deterministic image layers: tar streams built from a list of
// entries (not a directory on disk) with fixed owners and mtimes, sorted by name, so the
// same inputs give the same bytes, digests and manifests run to run. mkimage (the test
// images) and agentimage (the agent image) share it.
package layer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type entry struct {
	hdr  tar.Header
	data []byte
}

// Builder collects a layer's entries; parent directories are added implicitly (0755).
type Builder struct {
	mtime   time.Time
	entries map[string]*entry
}

// New returns an empty Builder whose entries all carry mtime.
func New(mtime time.Time) *Builder {
	return &Builder{mtime: mtime, entries: map[string]*entry{}}
}

// CleanName turns a container path into a tar entry name: no leading slash, cleaned.
func CleanName(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func (b *Builder) add(name string, typ byte, mode int64, linkname string, data []byte) {
	name = CleanName(name)
	if name == "" {
		return
	}
	if dir := path.Dir(name); dir != "." {
		if _, ok := b.entries[dir+"/"]; !ok {
			b.Dir(dir, 0o755)
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
	b.entries[hdr.Name] = &entry{hdr: hdr, data: data}
}

// Dir adds a directory.
func (b *Builder) Dir(name string, mode int64) { b.add(name, tar.TypeDir, mode, "", nil) }

// File adds a regular file holding data.
func (b *Builder) File(name string, mode int64, data []byte) {
	b.add(name, tar.TypeReg, mode, "", data)
}

// Symlink adds a symbolic link to target.
func (b *Builder) Symlink(name, target string) { b.add(name, tar.TypeSymlink, 0o777, target, nil) }

// Tar returns the layer's tar stream, entries sorted by name.
func (b *Builder) Tar() ([]byte, error) {
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
			return nil, fmt.Errorf("tar header %s: %w", n, err)
		}
		if len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				return nil, fmt.Errorf("tar data %s: %w", n, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return tbuf.Bytes(), nil
}

// Layer returns the entries as a gzip-compressed layer of media type mt;
// go-containerregistry compresses it (gzip without name or timestamp) and computes both
// digests.
func (b *Builder) Layer(mt types.MediaType) (v1.Layer, error) {
	tarBytes, err := b.Tar()
	if err != nil {
		return nil, err
	}
	return FromTar(tarBytes, mt)
}

// FromTar wraps a tar stream as a gzip-compressed layer of media type mt. The stream is
// compressed once, here (gzip without name or timestamp, so the bytes are reproducible),
// and the layer serves those bytes: writing it to a registry, a layout and an archive does
// not compress it again.
func FromTar(tarBytes []byte, mt types.MediaType) (v1.Layer, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarBytes); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(mt))
}

// MediaTypes are the manifest, config and layer media types of one format.
type MediaTypes struct{ Manifest, Config, Layer types.MediaType }

// Format returns the media types of "oci" or "docker".
func Format(format string) MediaTypes {
	if format == "docker" {
		return MediaTypes{types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer}
	}
	return MediaTypes{types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer}
}
