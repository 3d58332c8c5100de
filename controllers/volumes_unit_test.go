package controllers

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

// TestTaskVolumes: each kind of volume becomes the host directory and mount it should, and
// every failure is a clear error that stops the container.
func TestTaskVolumes(t *testing.T) {
	efsOpts := []string{"nfsvers=4.1", "rsize=1048576", "wsize=1048576", "hard", "timeo=600", "retrans=2", "noresvport"}
	for _, tc := range []struct {
		name    string
		vol     api.Volume
		opts    VolumeOptions
		mounter *fake.Volumes
		// wantDir is relative to the data dir; wantMount is the mount made there.
		wantDir   string
		wantMount *runtime.VolumeMount
		wantErr   error
		wantMsg   string
	}{
		{name: "host path", vol: api.Volume{Name: "h", Type: "host", HostSourcePath: "/srv"}, wantDir: "/srv"},
		{name: "task directory", vol: api.Volume{Name: "h", Type: "host"}, wantDir: "tasks/t1/volumes/h"},
		{name: "task-scoped docker volume without options", vol: api.Volume{Name: "d", Type: "docker", Scope: "task"}, wantDir: "tasks/t1/volumes/d"},
		{name: "EFS by DNS name", vol: api.Volume{Name: "e", Type: "efs", EFS: &api.EFSVolume{FileSystemID: "fs-12345678", RootDirectory: "/app"}},
			opts:    VolumeOptions{Region: "eu-west-1"},
			wantDir: "tasks/t1/volumes/e", wantMount: &runtime.VolumeMount{Type: "nfs4", Device: "fs-12345678.efs.eu-west-1.amazonaws.com:/app", Options: efsOpts}},
		{name: "EFS through the address override", vol: api.Volume{Name: "e", Type: "efs", EFS: &api.EFSVolume{FileSystemID: "fs-12345678"}},
			opts:    VolumeOptions{EFSAddresses: map[string]string{"fs-12345678": "10.99.0.2"}},
			wantDir: "tasks/t1/volumes/e", wantMount: &runtime.VolumeMount{Type: "nfs4", Device: "10.99.0.2:/", Options: efsOpts}},
		{name: "EFS with transit encryption", vol: api.Volume{Name: "e", Type: "efs", EFS: &api.EFSVolume{FileSystemID: "fs-12345678", TransitEncryption: true, TransitEncryptionPort: 20111}},
			opts:    VolumeOptions{Region: "us-east-1", EFSAddresses: map[string]string{"fs-12345678": "10.99.0.2"}, EFSCAFile: "/etc/ca.pem"},
			wantDir: "tasks/t1/volumes/e", wantMount: &runtime.VolumeMount{Type: "nfs4", Device: "10.99.0.2:/", Options: efsOpts,
				TLS: &runtime.TLSTunnel{LocalPort: 20111, Connect: "10.99.0.2:2049", VerifyName: "fs-12345678.efs.us-east-1.amazonaws.com", CAFile: "/etc/ca.pem"}}},
		{name: "EFS without a region", vol: api.Volume{Name: "e", Type: "efs", EFS: &api.EFSVolume{FileSystemID: "fs-12345678"}},
			wantErr: errVolumeUnavailable, wantMsg: "no AWS region"},
		{name: "EFS where the kernel has no NFS", vol: api.Volume{Name: "e", Type: "efs", EFS: &api.EFSVolume{FileSystemID: "fs-12345678"}},
			opts:    VolumeOptions{Region: "us-east-1"},
			mounter: &fake.Volumes{Unsupported: map[string]error{"nfs4": runtime.ErrMountUnsupported}},
			wantErr: runtime.ErrMountUnsupported, wantMsg: "volume e: mount not supported"},
		{name: "EFS mount failing", vol: api.Volume{Name: "e", Type: "efs", EFS: &api.EFSVolume{FileSystemID: "fs-12345678"}},
			opts:    VolumeOptions{Region: "us-east-1"},
			mounter: &fake.Volumes{MountErr: errors.New("mount.nfs: Connection refused")},
			wantErr: errVolumeUnavailable, wantMsg: "volume e: mount.nfs: Connection refused"},
		{name: "EFS server never answering", vol: api.Volume{Name: "e", Type: "efs", EFS: &api.EFSVolume{FileSystemID: "fs-12345678"}},
			opts:    VolumeOptions{Region: "us-east-1", MountTimeout: 20 * time.Millisecond},
			mounter: &fake.Volumes{Hang: true},
			wantErr: context.DeadlineExceeded, wantMsg: "volume e: mount"},
		{name: "EFS access point", vol: api.Volume{Name: "e", Type: "efs", EFS: &api.EFSVolume{FileSystemID: "fs-12345678", AccessPointID: "fsap-1", TransitEncryption: true}},
			opts: VolumeOptions{Region: "us-east-1"}, wantErr: errInvalidDefinition, wantMsg: "access points"},
		{name: "local NFS volume, Docker's addr= form", vol: api.Volume{Name: "n", Type: "docker", Scope: "task",
			DriverOpts: map[string]string{"type": "nfs", "o": "addr=10.99.0.2,nfsvers=4.1,rw", "device": ":/export"}},
			wantDir: "tasks/t1/volumes/n", wantMount: &runtime.VolumeMount{Type: "nfs", Device: "10.99.0.2:/export", Options: []string{"addr=10.99.0.2", "nfsvers=4.1", "rw"}}},
		{name: "local NFS volume without addr", vol: api.Volume{Name: "n", Type: "docker", Scope: "task",
			DriverOpts: map[string]string{"type": "nfs", "device": ":/export"}}, wantErr: errInvalidDefinition, wantMsg: "needs addr="},
		{name: "local tmpfs volume", vol: api.Volume{Name: "m", Type: "docker", Scope: "task",
			DriverOpts: map[string]string{"type": "tmpfs", "o": "size=1m", "device": "tmpfs"}},
			wantDir: "tasks/t1/volumes/m", wantMount: &runtime.VolumeMount{Type: "tmpfs", Device: "tmpfs", Options: []string{"size=1m"}}},
		{name: "shared volume autoprovisioned", vol: api.Volume{Name: "s", Type: "docker", Scope: "shared", Autoprovision: true},
			wantDir: "volumes/s/_data"},
		{name: "shared volume missing", vol: api.Volume{Name: "s", Type: "docker", Scope: "shared"},
			wantErr: errVolumeUnavailable, wantMsg: "volume s: the shared volume does not exist on this instance and autoprovision is false"},
		{name: "shared local volume mounted under volumes/", vol: api.Volume{Name: "s", Type: "docker", Scope: "shared", Autoprovision: true,
			DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "/srv/x"}},
			wantDir: "volumes/s/_data", wantMount: &runtime.VolumeMount{Type: "none", Device: "/srv/x", Options: []string{"bind"}}},
		{name: "no mounter", vol: api.Volume{Name: "e", Type: "efs", EFS: &api.EFSVolume{FileSystemID: "fs-12345678"}},
			opts: VolumeOptions{Region: "us-east-1"}, mounter: nil, wantErr: errVolumeUnavailable, wantMsg: "mounts no file systems"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			var m runtime.VolumeMounter = tc.mounter
			if tc.mounter == nil && tc.name != "no mounter" {
				tc.mounter = &fake.Volumes{}
				m = tc.mounter
			}
			if tc.name == "no mounter" {
				m = nil
			}
			v := NewTaskVolumes(m, dataDir, tc.opts, testutil.Logger(t))
			task := unitTask("app")
			task.Name = "t1"
			task.Spec.Volumes = []api.Volume{tc.vol}
			dir, err := v.Source(context.Background(), task, &task.Spec.Volumes[0])
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("err = %v, want %v saying %q", err, tc.wantErr, tc.wantMsg)
				}
				if tc.mounter != nil && len(tc.mounter.Mounts()) != 0 {
					t.Fatalf("a failed volume left mounts: %v", tc.mounter.Mounts())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.wantDir
			if !filepath.IsAbs(want) {
				want = filepath.Join(dataDir, want)
			}
			if dir != want {
				t.Fatalf("dir %s, want %s", dir, want)
			}
			got := tc.mounter.Mounts()
			if tc.wantMount == nil {
				if len(got) != 0 {
					t.Fatalf("mounts %v, want none", got)
				}
				return
			}
			if !reflect.DeepEqual(got[dir], *tc.wantMount) {
				t.Fatalf("mount %+v, want %+v", got[dir], *tc.wantMount)
			}
			// Idempotent: a second container of the task adopts the mount.
			if _, err := v.Source(context.Background(), task, &task.Spec.Volumes[0]); err != nil {
				t.Fatal(err)
			}
			if n := tc.mounter.Made(dir); n != 1 {
				t.Fatalf("mount made %d times, want once", n)
			}
			// Release unmounts task mounts and keeps shared ones.
			if err := v.Release(context.Background(), task); err != nil {
				t.Fatal(err)
			}
			_, still := tc.mounter.Mounts()[dir]
			if shared := tc.vol.Scope == "shared"; still != shared {
				t.Fatalf("after release mounted=%v, want %v", still, shared)
			}
			if err := v.Release(context.Background(), task); err != nil {
				t.Fatalf("second release: %v", err)
			}
		})
	}
}

// TestSharedVolumeMatch: a shared volume is reused by name and driver; with
// ECS_SHARED_VOLUME_MATCH_FULL_CONFIG its options and labels must match too.
func TestSharedVolumeMatch(t *testing.T) {
	first := api.Volume{Name: "s", Type: "docker", Scope: "shared", Autoprovision: true, Labels: map[string]string{"a": "1"}}
	other := first
	other.Labels = map[string]string{"a": "2"}
	other.Autoprovision = false
	for _, tc := range []struct {
		name    string
		full    bool
		wantMsg string
	}{
		{name: "name only", full: false},
		{name: "full config", full: true, wantMsg: "its labels differ (ECS_SHARED_VOLUME_MATCH_FULL_CONFIG=true)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			v := NewTaskVolumes(&fake.Volumes{}, dataDir, VolumeOptions{SharedMatchFullConfig: tc.full}, testutil.Logger(t))
			t1, t2 := unitTask("app"), unitTask("app")
			t1.Name, t2.Name = "t1", "t2"
			if _, err := v.Source(context.Background(), t1, &first); err != nil {
				t.Fatal(err)
			}
			// The first task is cleaned up; the volume stays for the next.
			if err := v.Release(context.Background(), t1); err != nil {
				t.Fatal(err)
			}
			dir, err := v.Source(context.Background(), t2, &other)
			if tc.wantMsg != "" {
				if !errors.Is(err, errVolumeUnavailable) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("err = %v, want %q", err, tc.wantMsg)
				}
				return
			}
			if err != nil || dir != api.SharedVolumePath(dataDir, "s") {
				t.Fatalf("dir %s err %v", dir, err)
			}
		})
	}
}
