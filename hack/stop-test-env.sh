#!/usr/bin/env bash
# Stops what hack/start-containerd.sh and hack/start-registry.sh started,
# by pid file only. Data (images, registry storage) is kept; running
# containers' shims are left alone (containerd reconnects to them on start).
set -euo pipefail

RUN_DIR=/run/ecsd

stop_pidfile() { # NAME PIDFILE EXPECTED_COMM EXPECTED_ARG
  local name="$1" pidfile="$2" comm="$3" arg="$4" pid
  if [[ ! -f "$pidfile" ]]; then
    echo "stop-test-env: $name not running (no $pidfile)"
    return 0
  fi
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  # Only a process that is what we started (pids get reused after a crash).
  if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null || [[ "$(cat /proc/"$pid"/comm 2>/dev/null)" != "$comm" ]] ||
    [[ "$(tr '\0' ' ' 2>/dev/null </proc/"$pid"/cmdline)" != *"$arg"* ]]; then
    echo "stop-test-env: $name not running (stale $pidfile)"
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop-test-env: $name (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  echo "stop-test-env: stopped $name (pid $pid)"
}

stop_pidfile registry-5001 "$RUN_DIR/registry-5001.pid" docker-registry /etc/ecsd/registry/registry-5001.yml
stop_pidfile registry-5000 "$RUN_DIR/registry-5000.pid" docker-registry /etc/ecsd/registry/registry-5000.yml
stop_pidfile containerd "$RUN_DIR/containerd.pid" containerd /etc/ecsd/containerd/config.toml
