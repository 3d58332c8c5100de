package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// pkgVersion is the version a package carries: Upstream is the same string in both formats
// (dpkg and rpm order "~" before anything, even the end, and "+" after), Revision is the
// Debian revision and the rpm Release.
type pkgVersion struct {
	Upstream string
	Revision string
}

// Deb is the Version field of the .deb: upstream-revision.
func (v pkgVersion) Deb() string { return v.Upstream + "-" + v.Revision }

// RPM is version-release, as rpm -q prints it.
func (v pkgVersion) RPM() string { return v.Upstream + "-" + v.Revision }

// semverRE is the part of semver the Makefile's VERSION may use: MAJOR.MINOR.PATCH with an
// optional pre-release and build metadata (a leading "v" is tolerated).
var semverRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$`)

// describeRE parses `git describe --tags --long --dirty --always` when a tag was found:
// <tag>-<commits since>-g<hash>[-dirty].
var describeRE = regexp.MustCompile(`^(.+)-(\d+)-g([0-9a-f]+)(-dirty)?$`)

// gitState is what git says about the tree the packages are built from; zero when the
// source is not a git checkout.
type gitState struct {
	// Describe is `git describe --tags --long --dirty --always --match 'v[0-9]*'`.
	Describe string
	// Commits is `git rev-list --count HEAD`, used when no tag is reachable.
	Commits int
}

// packageVersion maps the agent's version (internal/version, the Makefile's VERSION) and
// the git state to a version dpkg and rpm both accept and order correctly:
//
//   - 1.2.3 from a commit tagged v1.2.3 is 1.2.3-1;
//   - a pre-release 1.3.0-rc.1 becomes 1.3.0~rc.1, which sorts before 1.3.0 in both;
//   - a build N commits after the tag v<version> (or, with no such tag, from the N-th commit
//     of the history) is <version>+git<N>.g<hash>, after <version> and before the next one;
//   - a tree with uncommitted changes adds ".dirty".
//
// It refuses a version that is not semver, and a tag that disagrees with it (a release
// tagged v1.2.3 must be built with VERSION=1.2.3).
func packageVersion(version string, g gitState) (pkgVersion, error) {
	m := semverRE.FindStringSubmatch(version)
	if m == nil {
		return pkgVersion{}, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]", version)
	}
	base := m[1] + "." + m[2] + "." + m[3]
	up := base
	if m[4] != "" {
		// "-" is the revision separator in both formats; "~" sorts before the release.
		up += "~" + strings.ReplaceAll(m[4], "-", ".")
	}
	var local []string
	if m[5] != "" {
		local = append(local, strings.ReplaceAll(m[5], "-", "."))
	}
	if g.Describe != "" {
		dirty := strings.HasSuffix(g.Describe, "-dirty")
		if d := describeRE.FindStringSubmatch(g.Describe); d != nil {
			tag := d[1]
			if tm := semverRE.FindStringSubmatch(tag); tm == nil || strings.TrimPrefix(tag, "v") != strings.TrimPrefix(version, "v") {
				return pkgVersion{}, fmt.Errorf("git describe says the nearest tag is %s but VERSION is %s: build with VERSION=%s or tag the release", tag, version, strings.TrimPrefix(tag, "v"))
			}
			if n, _ := strconv.Atoi(d[2]); n > 0 {
				local = append(local, "git"+d[2], "g"+d[3])
			}
		} else {
			// No tag: describe is the abbreviated hash alone (plus -dirty).
			hash := strings.TrimSuffix(g.Describe, "-dirty")
			if !regexp.MustCompile(`^[0-9a-f]{4,}$`).MatchString(hash) {
				return pkgVersion{}, fmt.Errorf("cannot read git describe output %q", g.Describe)
			}
			local = append(local, "git"+strconv.Itoa(g.Commits), "g"+hash)
		}
		if dirty {
			local = append(local, "dirty")
		}
	}
	if len(local) > 0 {
		up += "+" + strings.Join(local, ".")
	}
	return pkgVersion{Upstream: up, Revision: "1"}, nil
}
