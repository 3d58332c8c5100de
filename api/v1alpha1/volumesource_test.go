package v1alpha1

import "testing"

// TestVolumeSource: where each kind of volume lives on the host, as the create step mounts it
// and the metadata endpoints report it.
func TestVolumeSource(t *testing.T) {
	for _, tc := range []struct {
		v    Volume
		want string
	}{
		{Volume{Name: "h", Type: "host", HostSourcePath: "/srv"}, "/srv"},
		{Volume{Name: "h", Type: "host"}, "/d/tasks/t1/volumes/h"},
		{Volume{Name: "d", Type: "docker", Scope: "task"}, "/d/tasks/t1/volumes/d"},
		{Volume{Name: "s", Type: "docker", Scope: "shared"}, "/d/volumes/s/_data"},
		{Volume{Name: "e", Type: "efs", EFS: &EFSVolume{FileSystemID: "fs-12345678"}}, "/d/tasks/t1/volumes/e"},
	} {
		if got := VolumeSource("/d", "t1", &tc.v); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.v.Name, got, tc.want)
		}
	}
}
