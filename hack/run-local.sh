#!/usr/bin/env bash
# Runs the agent in local mode against the project's containerd, with the sample tasks in
# config/samples. Ctrl-C stops the agent; task containers keep running, as with the real
# agent, and are adopted by the next start.
set -euo pipefail
cd "$(dirname "$0")/.."
export ECSD_CONTAINERD_ADDRESS="${ECSD_CONTAINERD_ADDRESS:-/run/ecsd/containerd/containerd.sock}"
export ECSD_CONTAINERD_NAMESPACE="${ECSD_CONTAINERD_NAMESPACE:-ecs-local}"
export ECS_DATADIR="${ECS_DATADIR:-/var/lib/ecsd/local}"
export ECS_CLUSTER="${ECS_CLUSTER:-default}"
export ECS_LOGLEVEL="${ECS_LOGLEVEL:-info}"
# Local mode never talks to AWS; keep the SDK away from the instance metadata service too.
export AWS_EC2_METADATA_DISABLED=true
exec ./bin/ecs-agent --local --run "${SAMPLES:-config/samples}" "$@"
