#!/bin/sh
# Logs a numbered line every TICK_INTERVAL seconds, in the foreground, until stopped.
cd "$(dirname "$0")" || exit 1
. ./env.sh
if [ -n "${JUBE_COMMAND:-}" ]; then
  # shellcheck disable=SC2086
  exec $JUBE_COMMAND ${JUBE_ARGS:-}
fi
sleeper=""
# The pending sleep goes too, so that nothing of the ticker outlives it.
trap 'kill "$sleeper" 2>/dev/null; echo "ticker stopping after $n lines"; exit 0' TERM INT
n=0
echo "ticker started (every ${TICK_INTERVAL}s)"
while :; do
  n=$((n + 1))
  echo "$TICK_MESSAGE $n${JUBE_ARGS:+ $JUBE_ARGS}"
  sleep "$TICK_INTERVAL" &
  sleeper=$!
  wait "$sleeper"
done
