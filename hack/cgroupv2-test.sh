#!/usr/bin/env bash
# cgroupv2-test.sh: runs the task cgroup tests on a real cgroup v2 hierarchy (make
# test-cgroupv2). This project's machines boot cgroup v1 (hybrid) and the tests must not
# remount the host's hierarchies; there is no KVM either. So the tests boot User-Mode Linux
# (Debian's user-mode-linux: a kernel that runs as a process) with cgroup v2 mounted, through
# test/e2e TestCgroupV2*. This script installs UML if it is missing (idempotent) and runs
# them, saying what it does as it goes. Root (test/e2e needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
say() { echo "==> cgroupv2 [$(($(date +%s) - start))s] $*"; }

if [[ $(id -u) != 0 ]]; then
  echo "cgroupv2-test.sh: run as root (test/e2e runs as root)" >&2
  exit 1
fi
if command -v linux.uml >/dev/null; then
  say "user-mode-linux present: $(dpkg-query -W -f '${Version}' user-mode-linux 2>/dev/null || echo '?')"
else
  say "installing Debian's user-mode-linux (apt-get)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends user-mode-linux >/tmp/ecsd-uml-install.log 2>&1; then
    say "apt-get install failed; refreshing the package lists once"
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends user-mode-linux
  fi
  say "installed user-mode-linux $(dpkg-query -W -f '${Version}' user-mode-linux)"
fi
say "host: $(stat -fc %T /sys/fs/cgroup) on /sys/fs/cgroup (cgroup2fs is v2; tmpfs is v1 or hybrid); the tests run on v2 inside UML"
say "building the agent and the cgroupv2 test binaries, booting UML, running TestCgroupV2* (about a minute)"
set +e
go test -count=1 -timeout 5m -tags cgroupv2 -v -run 'CgroupV2' ./test/e2e/ 2>&1 |
  grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|\[uml|cgroupv2_test.go|UML'
rc=${PIPESTATUS[0]}
set -e
if ((rc == 0)); then
  say "PASS"
else
  say "FAILED (exit $rc); rerun with: go test -count=1 -tags cgroupv2 -v -run CgroupV2 ./test/e2e/"
fi
exit "$rc"
