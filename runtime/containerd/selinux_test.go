package containerd

import (
	"context"
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/oci"
)

func TestSELinuxLabels(t *testing.T) {
	var s oci.Spec
	const proc, mnt = "system_u:system_r:container_t:s0:c1,c2", "system_u:object_r:container_file_t:s0:c1,c2"
	if err := withSELinuxLabels(proc, mnt)(context.Background(), nil, nil, &s); err != nil {
		t.Fatal(err)
	}
	if s.Process.SelinuxLabel != proc || s.Linux.MountLabel != mnt {
		t.Fatalf("spec labels %q %q", s.Process.SelinuxLabel, s.Linux.MountLabel)
	}
	in := []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"index=off", "lowerdir=/a:/b"}}}
	out := withMountLabel(in, mnt)
	want := []string{"index=off", "lowerdir=/a:/b", `context="` + mnt + `"`}
	if !slices.Equal(out[0].Options, want) || len(in[0].Options) != 2 {
		t.Fatalf("options %q (input now %q), want %q and the input untouched", out[0].Options, in[0].Options, want)
	}
}
