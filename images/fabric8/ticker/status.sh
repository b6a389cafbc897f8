#!/bin/sh
# Exit 0 while the ticker runs, 3 when it does not.
cd "$(dirname "$0")" || exit 1
if [ -f process.pid ] && kill -0 "$(cat process.pid)" 2>/dev/null; then
  echo "running (pid $(cat process.pid))"
  exit 0
fi
echo "not running"
exit 3
