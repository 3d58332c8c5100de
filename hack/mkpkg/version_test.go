package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestPackageVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		git     gitState
		want    string // the Debian version
		wantErr string
	}{
		{"0.1.0", gitState{}, "0.1.0-1", ""},
		{"v0.1.0", gitState{}, "0.1.0-1", ""},
		{"0.1.0", gitState{Describe: "v0.1.0-0-g0df0b30"}, "0.1.0-1", ""},
		{"0.1.0", gitState{Describe: "v0.1.0-0-g0df0b30-dirty"}, "0.1.0+dirty-1", ""},
		{"0.1.0", gitState{Describe: "v0.1.0-5-g0df0b30"}, "0.1.0+git5.g0df0b30-1", ""},
		{"0.1.0", gitState{Describe: "0df0b30", Commits: 286}, "0.1.0+git286.g0df0b30-1", ""},
		{"0.1.0", gitState{Describe: "0df0b30-dirty", Commits: 286}, "0.1.0+git286.g0df0b30.dirty-1", ""},
		{"1.3.0-rc.1", gitState{}, "1.3.0~rc.1-1", ""},
		{"1.3.0-rc-1", gitState{}, "1.3.0~rc.1-1", ""},
		{"1.3.0+fips", gitState{}, "1.3.0+fips-1", ""},
		{"1.3.0-rc.1", gitState{Describe: "v1.3.0-rc.1-2-gabcdef1"}, "1.3.0~rc.1+git2.gabcdef1-1", ""},
		{"1.2", gitState{}, "", "not MAJOR.MINOR.PATCH"},
		{"1.2.3 ", gitState{}, "", "not MAJOR.MINOR.PATCH"},
		{"0.1.0", gitState{Describe: "v0.2.0-1-gabcdef1"}, "", "VERSION=0.2.0"},
		{"0.1.0", gitState{Describe: "release-1-gabcdef1"}, "", "nearest tag is release"},
		{"0.1.0", gitState{Describe: "what is this"}, "", "cannot read"},
	} {
		got, err := packageVersion(tc.version, tc.git)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("packageVersion(%q, %+v) error = %v, want one containing %q", tc.version, tc.git, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.Deb() != tc.want || got.RPM() != tc.want {
			t.Errorf("packageVersion(%q, %+v) = %q/%q, %v; want %q", tc.version, tc.git, got.Deb(), got.RPM(), err, tc.want)
		}
	}
}

// TestPackageVersionOrder checks the mapping against dpkg's and rpm's own ordering (each
// when installed): a pre-release before the release, a snapshot after its base and before
// the next.
func TestPackageVersionOrder(t *testing.T) {
	_, errDpkg := exec.LookPath("dpkg")
	_, errRPM := exec.LookPath("rpm")
	if errDpkg != nil && errRPM != nil {
		t.Skip("neither dpkg nor rpm on this machine")
	}
	v := func(version string, g gitState) string {
		t.Helper()
		p, err := packageVersion(version, g)
		if err != nil {
			t.Fatal(err)
		}
		return p.Deb()
	}
	ordered := []string{
		v("0.9.9", gitState{}),
		v("1.0.0-rc.1", gitState{}),
		v("1.0.0-rc.1", gitState{Describe: "v1.0.0-rc.1-3-gabcdef1"}),
		v("1.0.0", gitState{}),
		v("1.0.0", gitState{Describe: "v1.0.0-2-gabcdef1"}),
		v("1.0.0", gitState{Describe: "v1.0.0-10-g1234567"}),
		v("1.0.1", gitState{}),
	}
	for i := 1; i < len(ordered); i++ {
		a, b := ordered[i-1], ordered[i]
		if errDpkg == nil {
			if out, err := exec.Command("dpkg", "--compare-versions", a, "lt", b).CombinedOutput(); err != nil {
				t.Errorf("dpkg says %s is not before %s: %v %s", a, b, err, out)
			}
		}
		if errRPM == nil {
			out, err := exec.Command("rpm", "--eval", "%{lua:print(rpm.vercmp('"+a+"','"+b+"'))}").Output()
			if err != nil || strings.TrimSpace(string(out)) != "-1" {
				t.Errorf("rpm says %s is not before %s: %q %v", a, b, out, err)
			}
		}
	}
}
