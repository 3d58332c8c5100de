#!/usr/bin/env bash
# make soak: hundreds of short tasks with image churn through a local control plane (in the
# bench process) and the agent binary, in minutes. It prints a progress line per batch and
# the agent's RSS, goroutines, checkpoint size and the disk use of images, snapshots and
# task logs once warmed up and at the end, and fails if any grew without bound (see
# hack/bench/soak.go). SOAK_TASKS (300) and SOAK_IMAGES (12) size it; extra arguments go to
# hack/bench (e.g. -soak-batch 20).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup-test-env.sh >/dev/null
bash hack/soak-images.sh
go run ./hack/bench -soak -soak-tasks "${SOAK_TASKS:-300}" -soak-images "${SOAK_IMAGES:-12}" -agent bin/ecs-agent "$@"
