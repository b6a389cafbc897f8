#!/bin/sh
# Kills the ticker at once.
cd "$(dirname "$0")" || exit 1
[ -f process.pid ] || exit 0
pid=$(cat process.pid)
# Paused, so it starts no new sleep, and its pending sleep killed first: killed after the
# ticker, it would be left running on its own.
kill -STOP "$pid" 2>/dev/null
! command -v pkill >/dev/null || pkill -KILL -P "$pid" 2>/dev/null
kill -KILL "$pid" 2>/dev/null
rm -f process.pid
exit 0
