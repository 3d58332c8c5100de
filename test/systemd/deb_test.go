//go:build systemd

package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
)

// packageUnderTest is the ecsd .deb the machine installs: ECSD_SYSTEMD_TEST_DEB if set,
// else the newest amd64 .deb in dist/ (`make packages`), else a throwaway package this
// test assembles from bin/ (`make build`) and packaging/systemd/ecs.service.
//
// TODO(i16): drop the throwaway once `make packages` is merged.
func packageUnderTest(t *testing.T, p *progress) string {
	t.Helper()
	if d := os.Getenv("ECSD_SYSTEMD_TEST_DEB"); d != "" {
		p.step("package under test: %s (ECSD_SYSTEMD_TEST_DEB)", d)
		return d
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(repo, "dist", "*amd64*.deb"))
	if len(debs) > 0 {
		sort.Slice(debs, func(i, j int) bool { return modTime(debs[i]) > modTime(debs[j]) })
		p.step("package under test: %s", debs[0])
		return debs[0]
	}
	stage := filepath.Join(t.TempDir(), "stage")
	install := func(src, dst string, mode os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("throwaway package: %v (run make build first)", err)
		}
		full := filepath.Join(stage, dst)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []string{"ecs-agent", "ecs-init", "ecsd-logger", "ecsd-logger-awslogs", "ecsd-init"} {
		install(filepath.Join(repo, "bin", b), "usr/libexec/ecsd/"+b, 0o755)
	}
	install(filepath.Join(repo, "packaging/systemd/ecs.service"), "lib/systemd/system/ecs.service", 0o644)
	control := "Package: ecsd\nVersion: 0.0.0~boottest\nArchitecture: amd64\nMaintainer: ecsd boot test <root@localhost>\n" +
		"Depends: containerd, runc, iptables, containernetworking-plugins\nDescription: ecsd (throwaway package of the boot test)\n"
	postinst := "#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then systemctl daemon-reload; fi\n"
	if err := os.MkdirAll(filepath.Join(stage, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stage, "DEBIAN/control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stage, "DEBIAN/postinst"), []byte(postinst), 0o755); err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(t.TempDir(), "ecsd_0.0.0~boottest_amd64.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", stage, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	p.step("package under test: throwaway %s from bin/", deb)
	return deb
}

func modTime(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.ModTime().UnixNano()
}
