package tcs

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// FilesystemUsage returns an Options.InstanceMetrics function that reports how full the
// file systems holding rootPath and dataPath are, in percent; an empty path is left out.
// It is opt-in because the reference agent's instance metrics are not settled for EC2
// instances (spec §11).
func FilesystemUsage(rootPath, dataPath string) func(context.Context) (*InstanceMetrics, error) {
	return func(context.Context) (*InstanceMetrics, error) {
		var s InstanceStorageMetrics
		for _, fs := range []struct {
			path string
			dst  **float64
		}{{rootPath, &s.RootFilesystem}, {dataPath, &s.DataFilesystem}} {
			if fs.path == "" {
				continue
			}
			p, err := usedPercent(fs.path)
			if err != nil {
				return nil, err
			}
			*fs.dst = &p
		}
		return &InstanceMetrics{Storage: &s}, nil
	}
}

// usedPercent is df's Use%: used blocks over the blocks an unprivileged user could have.
func usedPercent(path string) (float64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	used := st.Blocks - st.Bfree
	total := used + st.Bavail
	if total == 0 {
		return 0, nil
	}
	return 100 * float64(used) / float64(total), nil
}
