#!/bin/sh
# Starts the ticker in the background; pid in process.pid, output in logs/ticker.log.
cd "$(dirname "$0")" || exit 1
if [ -f process.pid ] && kill -0 "$(cat process.pid)" 2>/dev/null; then
  echo "already running (pid $(cat process.pid))"
  exit 0
fi
mkdir -p logs
nohup ./run.sh >>logs/ticker.log 2>&1 </dev/null &
echo $! >process.pid
echo "started (pid $!)"
