#!/usr/bin/env bash
# Exit 0 while the app runs, 3 when it does not (LSB).
cd "$(dirname "$0")" || exit 1
if [ -f process.pid ] && kill -0 "$(cat process.pid)" 2>/dev/null; then
  echo "running (pid $(cat process.pid))"
  exit 0
fi
echo "not running"
exit 3
