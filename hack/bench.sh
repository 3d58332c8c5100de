#!/usr/bin/env bash
# make bench: raw containerd vs ecsd launch latency, and the agent's memory, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup-test-env.sh
# The end-of-soak figures (soak-* lines) need the soak's images.
bash hack/step.sh "soak images" bash hack/soak-images.sh
bash hack/step.sh "build hack/bench" go build -o bin/bench ./hack/bench
# Each phase says when it starts and how long it took (on stderr); the results follow.
bin/bench -n "${BENCH_N:-20}" -agent bin/ecs-agent "$@"
