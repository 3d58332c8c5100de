#!/usr/bin/env bash
# Checks that moto_server (the AWS emulator the tests use as CloudWatch Logs, SSM, Secrets
# Manager, S3 and STS) is installed; the tests start their own servers on loopback.
set -euo pipefail
export PATH="$PATH:${HOME:-/root}/.pyenv/shims"
bin="${ECSD_TEST_MOTO:-$(command -v moto_server || true)}"
if [[ -z "$bin" ]]; then
  echo "moto_server not found on PATH or in ~/.pyenv/shims: install moto[server] 5.2.1 (pip install 'moto[server]==5.2.1') or set ECSD_TEST_MOTO" >&2
  exit 1
fi
"$bin" --help >/dev/null 2>&1 || { echo "$bin does not run" >&2; exit 1; }
echo "moto_server: $bin"
