//go:build cgroupv2

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// umlKernel is Debian's user-mode-linux: a Linux kernel that runs as a user process, so a
// test can boot a machine with its own cgroup hierarchy on a host it must not change.
const umlKernel = "linux.uml"

// cgroupV2Packages are the packages whose `cgroupv2`-tagged tests need a real unified
// hierarchy: runtime/cgroups (task limits, OOM kill, pids, CPU throttling, refusals) and
// runtime/containerd (container stats and the OOM verdict from the cgroup v2 files).
var cgroupV2Packages = []string{"github.com/ecsd/ecsd/runtime/cgroups", "github.com/ecsd/ecsd/runtime/containerd"}

// TestCgroupV2TaskLimits runs the task cgroup code on cgroup v2. This machine boots cgroup
// v1 (hybrid: /sys/fs/cgroup/unified is a v2 mount with no cpu, memory or pids controller,
// all bound to v1) and a test must not remount the host's hierarchies, and there is no KVM.
// So the test boots User-Mode Linux (hack/cgroupv2-test.sh installs it) with the host's
// root file system read-only over hostfs and an init that mounts cgroup2 on /sys/fs/cgroup
// (cpu, io, memory and pids available) and runs the packages' cgroupv2 test binaries, built
// here. Each binary's verdict comes back on the UML console.
func TestCgroupV2TaskLimits(t *testing.T) {
	kernel, err := exec.LookPath(umlKernel)
	if err != nil {
		t.Fatalf("%s not found: the cgroup v2 tests boot User-Mode Linux; run hack/cgroupv2-test.sh (it installs Debian's user-mode-linux) or apt-get install user-mode-linux", umlKernel)
	}
	dir := t.TempDir()
	var bins, want []string
	for _, pkg := range cgroupV2Packages {
		bin := filepath.Join(dir, filepath.Base(pkg)+".test")
		build := exec.Command("go", "test", "-c", "-tags", "cgroupv2", "-o", bin, pkg)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s cgroupv2 tests: %v\n%s", pkg, err, out)
		}
		bins = append(bins, bin)
		// The tests each binary must pass, listed here on the host (listing runs none).
		list, err := exec.Command(bin, "-test.list", "CgroupV2").Output()
		if err != nil {
			t.Fatalf("list %s: %v", bin, err)
		}
		want = append(want, strings.Fields(string(list))...)
	}
	if len(want) == 0 {
		t.Fatal("no TestCgroupV2* tests in the cgroupv2 test binaries")
	}
	out := bootUML(t, kernel, dir, bins)

	// Every binary must have run to its end and passed, and have run at least one test.
	for _, bin := range bins {
		name := filepath.Base(bin)
		m := regexp.MustCompile(`(?m)^ECSD-CGV2-RESULT ` + regexp.QuoteMeta(name) + ` (\d+)$`).FindStringSubmatch(out)
		switch {
		case m == nil:
			t.Errorf("%s: no result on the UML console (did the kernel boot and run init?)", name)
		case m[1] != "0":
			t.Errorf("%s exited %s inside UML", name, m[1])
		}
	}
	failed := regexp.MustCompile(`(?m)^--- FAIL: (\w+)`).FindAllStringSubmatch(out, -1)
	for _, f := range failed {
		t.Errorf("failed on cgroup v2: %s", f[1])
	}
	for _, name := range want {
		if !regexp.MustCompile(`(?m)^--- PASS: ` + name + ` `).MatchString(out) {
			t.Errorf("%s did not pass inside UML", name)
		}
	}
	if t.Failed() {
		t.Logf("UML console:\n%s", out)
	}
	t.Logf("passed on a real cgroup v2 hierarchy (UML kernel %s): %s", kernelRelease(out), strings.Join(want, ", "))
}

// TestCgroupV2UMLBootFailureIsClear: a UML that cannot boot the init (here: an init that
// does not exist) ends the run with the console saying so, and the test's parser reports
// no result rather than a pass.
func TestCgroupV2UMLBootFailureIsClear(t *testing.T) {
	kernel, err := exec.LookPath(umlKernel)
	if err != nil {
		t.Fatalf("%s not found: run hack/cgroupv2-test.sh", umlKernel)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kernel, "mem=64M", "rootfstype=hostfs", "hostfs=/", "ro", "quiet",
		"init="+filepath.Join(t.TempDir(), "no-such-init"), "con=null", "con0=null,fd:1")
	cmd.Dir = t.TempDir()
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("UML with a missing init did not stop within a minute:\n%s", out)
	}
	if strings.Contains(string(out), "ECSD-CGV2-RESULT") {
		t.Fatalf("a result from a UML that ran no tests:\n%s", out)
	}
	if !strings.Contains(string(out), "no-such-init") {
		t.Fatalf("the console does not name the init that failed:\n%s", out)
	}
}

// bootUML boots User-Mode Linux with the host's root read-only, cgroup v2 on
// /sys/fs/cgroup, and an init that runs each binary's TestCgroupV2* tests, printing
// "ECSD-CGV2-RESULT <binary> <exit code>" after each, then powers off. It returns the
// console, and logs its lines as they come so a slow boot shows progress.
func bootUML(t *testing.T, kernel, dir string, bins []string) string {
	t.Helper()
	var script strings.Builder
	script.WriteString(`#!/bin/sh
# init of the cgroup v2 test machine (User-Mode Linux, hostfs root read-only)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mkdir -p /run/tmp
export TMPDIR=/run/tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup || echo "ECSD-CGV2: cannot mount cgroup2"
echo "ECSD-CGV2: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
cd /run/tmp
`)
	for _, bin := range bins {
		fmt.Fprintf(&script, "%s -test.run CgroupV2 -test.v 2>&1\necho \"ECSD-CGV2-RESULT %s $?\"\n", bin, filepath.Base(bin))
	}
	script.WriteString("poweroff -f\n")
	initPath := filepath.Join(dir, "init.sh")
	if err := os.WriteFile(initPath, []byte(script.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	// Two minutes: a boot takes about 5 s and the tests about 20 s on a 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kernel, "mem=384M", "rootfstype=hostfs", "hostfs=/", "ro", "quiet",
		"init="+initPath, "con=null", "con0=null,fd:1")
	// UML keeps its memory in a file under TMPDIR; the directory is the test's.
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start User-Mode Linux (%s): %v", kernel, err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if strings.HasPrefix(line, "ECSD-CGV2") || strings.HasPrefix(line, "--- ") {
			t.Logf("[uml %5.1fs] %s", time.Since(start).Seconds(), line)
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("User-Mode Linux did not power off within 2 minutes (killed); console so far:\n%s", out.String())
	}
	if err != nil && !strings.Contains(out.String(), "ECSD-CGV2-RESULT") {
		t.Fatalf("User-Mode Linux failed to start or run the tests: %v; console:\n%s", err, out.String())
	}
	return out.String()
}

// kernelRelease is the UML kernel's release as the init printed it.
func kernelRelease(console string) string {
	if m := regexp.MustCompile(`ECSD-CGV2: kernel ([^\s,]+)`).FindStringSubmatch(console); m != nil {
		return m[1]
	}
	return "?"
}
