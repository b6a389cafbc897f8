#!/usr/bin/env bash
# Asks the app to stop (SIGTERM) and waits up to STOP_TIMEOUT seconds; exits 1 if it still runs.
cd "$(dirname "$0")" || exit 1
. ./env.sh
[ -f process.pid ] || { echo "not running (no process.pid)"; exit 0; }
pid=$(cat process.pid)
kill -0 "$pid" 2>/dev/null || { echo "not running"; rm -f process.pid; exit 0; }
kill -TERM "$pid"
waited=0
while kill -0 "$pid" 2>/dev/null; do
  if [ "$waited" -ge $((STOP_TIMEOUT * 10)) ]; then
    echo "still running after ${STOP_TIMEOUT}s; use kill.sh"
    exit 1
  fi
  sleep 0.1
  waited=$((waited + 1))
done
rm -f process.pid
echo "stopped"
