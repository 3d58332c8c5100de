#!/usr/bin/env bash
# make bench: raw containerd vs ecsd launch latency, and the agent's memory, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup-test-env.sh >/dev/null
# The end-of-soak figures (soak-* lines) need the soak's images.
bash hack/soak-images.sh
go run ./hack/bench -n "${BENCH_N:-20}" -agent bin/ecs-agent "$@"
