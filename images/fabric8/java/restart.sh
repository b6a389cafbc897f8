#!/usr/bin/env bash
# Stops the app, killing it if it will not stop, then starts it again.
cd "$(dirname "$0")" || exit 1
./stop.sh || ./kill.sh
exec ./start.sh
