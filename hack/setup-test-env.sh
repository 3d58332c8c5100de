#!/usr/bin/env bash
# Sets up everything the ecsd tests need, idempotently (the second run takes
# a few seconds):
#   1. hack/install-deps.sh       Debian packages + containerd v2.4.2
#   2. hack/start-containerd.sh   containerd on /run/ecsd/containerd/containerd.sock
#   3. hack/start-registry.sh     registries on 127.0.0.1:5000 and :5001 (auth)
#   4. hack/build-test-images.sh  ecsd/busybox test images
#   5. hack/check-moto.sh         moto_server (the AWS emulator) is installed
# The contract is mirrored in internal/testenv. Stop with hack/stop-test-env.sh.
set -euo pipefail

HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ "$(id -u)" -ne 0 ]]; then
  echo "setup-test-env: must run as root" >&2
  exit 1
fi

out="$(mktemp /tmp/ecsd-setup.XXXXXX)"
trap 'rm -f "$out"' EXIT

# step runs one script with its output kept aside, printing a line every 15 s while it
# runs (apt and go install can take minutes) with its latest output line, and one line
# with the time it took.
step() {
  local name="$1" script="$2" start end pid tick done rc
  start=$(date +%s.%N)
  bash "$HACK/$script" >"$out" 2>&1 &
  pid=$!
  # A background command ignores SIGINT in a script: pass Ctrl-C (and TERM) on.
  trap 'kill -TERM "$pid" 2>/dev/null; exit 130' INT TERM
  while :; do
    sleep 15 &
    tick=$!
    wait -n -p done "$pid" "$tick" && rc=0 || rc=$?
    if [[ "${done:-}" == "$pid" ]]; then
      kill "$tick" 2>/dev/null || true
      break
    fi
    awk -v n="$name" -v s="$start" -v e="$(date +%s.%N)" -v l="$(tail -n 1 "$out")" \
      'BEGIN { printf "setup-test-env: %-10s still running (%.0fs) %s\n", n, e - s, l }'
  done
  trap - INT TERM
  if ((rc != 0)); then
    cat "$out" >&2
    echo "setup-test-env: $name FAILED ($script)" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  awk -v n="$name" -v s="$start" -v e="$end" 'BEGIN { printf "setup-test-env: %-10s ok (%.1fs)\n", n, e - s }'
  if [[ -n "${ECSD_SETUP_VERBOSE:-}" ]]; then sed 's/^/    /' "$out"; fi
}

step install    install-deps.sh
step containerd start-containerd.sh
step registry   start-registry.sh
step images     build-test-images.sh
step moto       check-moto.sh
