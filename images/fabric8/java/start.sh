#!/usr/bin/env bash
# Starts the app in the background; its pid goes to process.pid and its output to logs/.
cd "$(dirname "$0")" || exit 1
. ./env.sh

if [ -f process.pid ] && kill -0 "$(cat process.pid)" 2>/dev/null; then
  echo "already running (pid $(cat process.pid))"
  exit 0
fi
# Checked here, so that a missing or old Java fails the start instead of the app in the background.
if [ -z "${JUBE_COMMAND:-}" ]; then
  . ./bin/find-java.sh
  find_java || exit 1
fi
mkdir -p logs
nohup ./run.sh >>logs/app.log 2>&1 </dev/null &
echo $! >process.pid
echo "started (pid $!), logging to logs/app.log"
