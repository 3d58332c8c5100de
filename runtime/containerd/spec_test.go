package containerd

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ecsd/ecsd/runtime"
)

func TestResolveArgs(t *testing.T) {
	img := struct{ ep, cmd []string }{[]string{"/entry"}, []string{"default"}}
	tests := []struct {
		name            string
		imgEP, imgCmd   []string
		entrypoint, cmd []string
		want            []string
		wantErr         bool
	}{
		{name: "image defaults", imgEP: img.ep, imgCmd: img.cmd, want: []string{"/entry", "default"}},
		{name: "command replaces cmd", imgEP: img.ep, imgCmd: img.cmd, cmd: []string{"x"}, want: []string{"/entry", "x"}},
		{name: "entrypoint drops image cmd", imgEP: img.ep, imgCmd: img.cmd, entrypoint: []string{"/other"}, want: []string{"/other"}},
		{name: "entrypoint and command", imgEP: img.ep, imgCmd: img.cmd, entrypoint: []string{"/other"}, cmd: []string{"a", "b"}, want: []string{"/other", "a", "b"}},
		{name: "empty entrypoint resets", imgEP: img.ep, imgCmd: img.cmd, entrypoint: []string{}, cmd: []string{"sh"}, want: []string{"sh"}},
		{name: "cmd only image", imgCmd: []string{"sh"}, want: []string{"sh"}},
		{name: "nothing to run", wantErr: true},
		{name: "entrypoint emptied and no command", imgEP: img.ep, imgCmd: img.cmd, entrypoint: []string{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveArgs(tt.imgEP, tt.imgCmd, tt.entrypoint, tt.cmd)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want invalid argument", err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("resolveArgs = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// The image's slices must never be modified through the result.
	ep := make([]string, 1, 4)
	ep[0] = "/e"
	got, _ := resolveArgs(ep, nil, nil, []string{"x"})
	got[0] = "changed"
	if ep[0] != "/e" {
		t.Fatal("resolveArgs aliased the image entrypoint")
	}
}

func TestNormalizeCap(t *testing.T) {
	for in, want := range map[string]string{
		"NET_ADMIN": "CAP_NET_ADMIN", "CAP_NET_ADMIN": "CAP_NET_ADMIN", "net_raw": "CAP_NET_RAW",
		"ALL": "ALL", "all": "ALL", " sys_time ": "CAP_SYS_TIME",
	} {
		if got := normalizeCap(in); got != want {
			t.Errorf("normalizeCap(%q) = %q, want %q", in, got, want)
		}
	}
}

func applyCaps(t *testing.T, add, drop []string) []string {
	t.Helper()
	s := &oci.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: []string{"CAP_CHOWN", "CAP_NET_RAW"}, Effective: []string{"CAP_CHOWN", "CAP_NET_RAW"},
		Permitted: []string{"CAP_CHOWN", "CAP_NET_RAW"},
	}}}
	if err := withCapabilities(add, drop)(context.Background(), nil, nil, s); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Process.Capabilities.Bounding, s.Process.Capabilities.Effective) {
		t.Fatalf("bounding %v != effective %v", s.Process.Capabilities.Bounding, s.Process.Capabilities.Effective)
	}
	return s.Process.Capabilities.Effective
}

func TestWithCapabilities(t *testing.T) {
	if got := applyCaps(t, []string{"NET_ADMIN"}, []string{"net_raw"}); !slices.Equal(got, []string{"CAP_CHOWN", "CAP_NET_ADMIN"}) {
		t.Errorf("add/drop = %v", got)
	}
	if got := applyCaps(t, []string{"SYS_TIME"}, []string{"ALL"}); !slices.Equal(got, []string{"CAP_SYS_TIME"}) {
		t.Errorf("drop ALL + add = %v", got)
	}
	got := applyCaps(t, []string{"ALL"}, []string{"CAP_CHOWN"})
	if slices.Contains(got, "CAP_CHOWN") || !slices.Contains(got, "CAP_SYS_ADMIN") || !slices.Contains(got, "CAP_NET_RAW") {
		t.Errorf("add ALL - CHOWN = %v", got)
	}
}

func TestRlimitType(t *testing.T) {
	for in, want := range map[string]string{"nofile": "RLIMIT_NOFILE", "NPROC": "RLIMIT_NPROC", "RLIMIT_CORE": "RLIMIT_CORE", "memlock": "RLIMIT_MEMLOCK"} {
		if got, err := rlimitType(in); err != nil || got != want {
			t.Errorf("rlimitType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := rlimitType("bogus"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("rlimitType(bogus) err = %v", err)
	}
}

func TestSpecMounts(t *testing.T) {
	got, err := specMounts([]runtime.Mount{
		{Type: "bind", Source: "/host", Destination: "/data"},
		{Source: "/host", Destination: "/ro", Options: []string{"ro"}},
		{Type: "tmpfs", Destination: "/scratch", Options: []string{"size=1m"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []specs.Mount{
		{Type: "bind", Source: "/host", Destination: "/data", Options: []string{"rbind", "rw"}},
		{Type: "bind", Source: "/host", Destination: "/ro", Options: []string{"rbind", "ro"}},
		{Type: "tmpfs", Source: "tmpfs", Destination: "/scratch", Options: []string{"nosuid", "nodev", "size=1m"}},
	}
	for i := range want {
		if got[i].Type != want[i].Type || got[i].Source != want[i].Source ||
			got[i].Destination != want[i].Destination || !slices.Equal(got[i].Options, want[i].Options) {
			t.Errorf("mount %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []runtime.Mount{
		{Type: "bind", Destination: "/x"},
		{Type: "bind", Source: "/h", Destination: "rel"},
		{Type: "nfs", Source: "h:/", Destination: "/x"},
	} {
		if _, err := specMounts([]runtime.Mount{bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("specMounts(%+v) err = %v, want invalid argument", bad, err)
		}
	}
}

func TestMemoryAndSysctlOpts(t *testing.T) {
	s := &oci.Spec{}
	if err := withMemoryReservation(1<<20)(context.Background(), nil, nil, s); err != nil {
		t.Fatal(err)
	}
	if err := withSysctls(map[string]string{"kernel.shmmax": "1"})(context.Background(), nil, nil, s); err != nil {
		t.Fatal(err)
	}
	if *s.Linux.Resources.Memory.Reservation != 1<<20 || s.Linux.Sysctl["kernel.shmmax"] != "1" {
		t.Fatalf("spec = %+v", s.Linux)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	b.Write([]byte("abc"))
	b.Write([]byte("defgh"))
	if got := b.String(); got != "abcdefgh" {
		t.Fatalf("got %q", got)
	}
	b.Write([]byte("ij"))
	if got := b.String(); got != "cdefghij" {
		t.Fatalf("got %q", got)
	}
	b.Write([]byte(strings.Repeat("x", 20) + "end"))
	if got := b.String(); got != "xxxxxend" {
		t.Fatalf("got %q", got)
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                        "docker.io/library/busybox:latest",
		"127.0.0.1:5000/ecsd/busybox":    "127.0.0.1:5000/ecsd/busybox:latest",
		"127.0.0.1:5000/ecsd/busybox:v2": "127.0.0.1:5000/ecsd/busybox:v2",
	} {
		if got, err := NormalizeRef(in); err != nil || got != want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeRef("busybox:bad tag!"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("invalid ref err = %v", err)
	}
	if !sameRegistry("docker.io", "registry-1.docker.io") || sameRegistry("127.0.0.1:5001", "127.0.0.1:5000") {
		t.Error("sameRegistry")
	}
}

func TestDefaultEnv(t *testing.T) {
	region := []string{"AWS_REGION=us-west-2", "AWS_DEFAULT_REGION=us-west-2"}
	for _, tc := range []struct {
		name       string
		image, env []string
		want       int
	}{
		{"nothing set", []string{"PATH=/bin"}, []string{"A=1"}, 2},
		{"image sets one", []string{"AWS_DEFAULT_REGION=eu-west-1"}, nil, 0},
		{"definition sets one", nil, []string{"AWS_REGION=eu-west-1"}, 0},
		{"empty value still counts", nil, []string{"AWS_REGION="}, 0},
		{"prefix of another key", nil, []string{"AWS_REGIONX=1"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := defaultEnv(region, tc.image, tc.env); len(got) != tc.want {
				t.Fatalf("defaultEnv = %v, want %d entries", got, tc.want)
			}
		})
	}
}
