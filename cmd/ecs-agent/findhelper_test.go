package main

import (
	"slices"
	"testing"
)

func TestHelperCandidates(t *testing.T) {
	for _, tc := range []struct {
		exe  string
		want []string
	}{
		// The packages: the agent in /usr/bin, its helpers in /usr/libexec/ecsd.
		{"/usr/bin/ecs-agent", []string{"/usr/bin/ecsd-logger", "/usr/libexec/ecsd/ecsd-logger"}},
		// `make build`: everything in bin/.
		{"/src/ecsd/bin/ecs-agent", []string{"/src/ecsd/bin/ecsd-logger", "/usr/libexec/ecsd/ecsd-logger"}},
		// The agent installed by hand into the helpers' directory: looked at once.
		{"/usr/libexec/ecsd/ecs-agent", []string{"/usr/libexec/ecsd/ecsd-logger"}},
	} {
		if got := helperCandidates(tc.exe, "ecsd-logger"); !slices.Equal(got, tc.want) {
			t.Errorf("helperCandidates(%q) = %q, want %q", tc.exe, got, tc.want)
		}
	}
}
