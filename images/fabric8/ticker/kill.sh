#!/bin/sh
# Kills the ticker at once.
cd "$(dirname "$0")" || exit 1
[ -f process.pid ] || exit 0
kill -KILL "$(cat process.pid)" 2>/dev/null
rm -f process.pid
exit 0
