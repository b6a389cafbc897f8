#!/bin/sh
# Stops the ticker (SIGTERM) and waits up to 10 seconds for it.
cd "$(dirname "$0")" || exit 1
[ -f process.pid ] || exit 0
pid=$(cat process.pid)
kill -TERM "$pid" 2>/dev/null || { rm -f process.pid; exit 0; }
i=0
while kill -0 "$pid" 2>/dev/null; do
  [ "$i" -ge 100 ] && { echo "still running after 10s"; exit 1; }
  sleep 0.1
  i=$((i + 1))
done
rm -f process.pid
echo "stopped"
