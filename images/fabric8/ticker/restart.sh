#!/bin/sh
# Stops the ticker (killing it if need be), then starts it again.
cd "$(dirname "$0")" || exit 1
./stop.sh || ./kill.sh
exec ./start.sh
