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
# The ECS-optimized AMI's defaults, as under ecs-init (see README "ecs-init defaults"):
# awslogs with the execution role, task IAM roles. AWS_ENDPOINT_URL[_<SERVICE>] in the
# environment point awslogs, secrets and S3 environment files at any AWS-compatible endpoint.
export ECS_AVAILABLE_LOGGING_DRIVERS="${ECS_AVAILABLE_LOGGING_DRIVERS:-[\"json-file\",\"awslogs\",\"none\"]}"
export ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE="${ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE:-true}"
export ECS_ENABLE_TASK_IAM_ROLE="${ECS_ENABLE_TASK_IAM_ROLE:-true}"
export ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST="${ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST:-true}"
# There is no instance here: keep the SDK away from the instance metadata service.
export AWS_EC2_METADATA_DISABLED=true
exec ./bin/ecs-agent --local --run "${SAMPLES:-config/samples}" "$@"
