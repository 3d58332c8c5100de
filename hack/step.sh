#!/usr/bin/env bash
# step.sh NAME CMD [ARG...]: runs CMD as one step of a make target, saying when it starts,
# every 15 s while it runs (a long build is otherwise silent for minutes), and how long it
# took. CMD's own output passes through; the exit status is CMD's.
set -uo pipefail
name=$1
shift
start=$(date +%s.%N)
elapsed() { awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }'; }
echo "==> $name"
"$@" &
pid=$!
# A background command ignores SIGINT in a script: pass Ctrl-C (and TERM) on.
trap 'kill -TERM "$pid" 2>/dev/null; exit 130' INT TERM
while :; do
  sleep 15 &
  tick=$!
  wait -n -p done "$pid" "$tick"
  rc=$?
  if [[ "${done:-}" == "$pid" ]]; then
    kill "$tick" 2>/dev/null
    wait "$tick" 2>/dev/null
    break
  fi
  echo "... $name: still running ($(elapsed))"
done
if ((rc != 0)); then
  echo "==> $name FAILED after $(elapsed) (exit $rc)" >&2
  exit "$rc"
fi
echo "==> $name done ($(elapsed))"
