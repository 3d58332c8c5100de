package localplane

import (
	"math"
	"strconv"
	"strings"
)

// parseTaskCPU parses a task-level cpu string: CPU units ("256") or vCPUs ("0.25 vCPU").
// An empty string is 0 (no task-level limit).
func parseTaskCPU(s string) (int64, bool) {
	return parseUnits(s, []string{"vcpu"}, 1024)
}

// parseTaskMemory parses a task-level memory string: MiB ("512") or GB ("0.5 GB"), where
// ECS's GB is 1024 MiB.
func parseTaskMemory(s string) (int64, bool) {
	return parseUnits(s, []string{"gb"}, 1024)
}

// parseUnits parses "<n>" as a whole count, or "<x> <suffix>" as x*scale; case and spaces
// around the suffix do not matter.
func parseUnits(s string, suffixes []string, scale float64) (int64, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, true
	}
	for _, suf := range suffixes {
		if v, ok := strings.CutSuffix(s, suf); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f <= 0 || math.IsInf(f, 0) || f*scale > math.MaxInt32 {
				return 0, false
			}
			return int64(math.Round(f * scale)), true
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
