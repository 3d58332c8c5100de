//go:build systemd

package systemd

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// packageUnderTest is the ecsd .deb the machine installs: ECSD_SYSTEMD_TEST_DEB if set,
// else the newest amd64 .deb in dist/, which `make packages` writes (and `make
// test-systemd` runs first).
func packageUnderTest(t *testing.T, p *progress) string {
	t.Helper()
	deb := os.Getenv("ECSD_SYSTEMD_TEST_DEB")
	if deb == "" {
		repo, err := filepath.Abs("../..")
		if err != nil {
			t.Fatal(err)
		}
		debs, _ := filepath.Glob(filepath.Join(repo, "dist", "ecsd_*_amd64.deb"))
		if len(debs) == 0 {
			t.Fatalf("no ecsd_*_amd64.deb in %s: run make packages (make test-systemd does), or set ECSD_SYSTEMD_TEST_DEB",
				filepath.Join(repo, "dist"))
		}
		sort.Slice(debs, func(i, j int) bool { return modTime(debs[i]) > modTime(debs[j]) })
		deb = debs[0]
	}
	if fi, err := os.Stat(deb); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("package under test %s: %v", deb, err)
	}
	p.step("package under test: %s", deb)
	return deb
}

func modTime(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.ModTime().UnixNano()
}
