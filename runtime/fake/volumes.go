package fake

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"sync"

	"github.com/ecsd/ecsd/runtime"
)

// Volumes is an in-memory runtime.VolumeMounter: mounts are remembered, not made. MountErr
// fails every mount (as a server that does not answer); Unsupported makes Supports refuse
// the listed file system types; Calls counts Mount calls per target, so tests can see that
// a mount made before is adopted, not made again. Hang makes a mount wait for its context
// (a server that never answers).
type Volumes struct {
	MountErr    error
	Unsupported map[string]error
	Hang        bool

	mu     sync.Mutex
	mounts map[string]runtime.VolumeMount
	calls  map[string]int
	made   map[string]int
}

var _ runtime.VolumeMounter = (*Volumes)(nil)

// Mount records m at target; the same m again is success, another one an error.
func (v *Volumes) Mount(ctx context.Context, target string, m runtime.VolumeMount) error {
	if v.Hang {
		<-ctx.Done()
		return fmt.Errorf("mount %s: %w", target, ctx.Err())
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.calls == nil {
		v.calls, v.made, v.mounts = map[string]int{}, map[string]int{}, map[string]runtime.VolumeMount{}
	}
	v.calls[target]++
	if old, ok := v.mounts[target]; ok {
		if !reflect.DeepEqual(old, m) {
			return fmt.Errorf("%s already holds another mount (%s %s)", target, old.Type, old.Device)
		}
		return nil
	}
	if v.MountErr != nil {
		return v.MountErr
	}
	v.mounts[target] = m
	v.made[target]++
	return nil
}

// Unmount forgets the mount at target.
func (v *Volumes) Unmount(_ context.Context, target string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.mounts, target)
	return nil
}

// Supports refuses the types in Unsupported.
func (v *Volumes) Supports(fsType string, _ bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.Unsupported[fsType]
}

// Mounts returns what is mounted now, by target.
func (v *Volumes) Mounts() map[string]runtime.VolumeMount {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.mounts)
}

// Made is how many times a mount was really made at target (adoptions not counted).
func (v *Volumes) Made(target string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.made[target]
}
