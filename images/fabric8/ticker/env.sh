#!/bin/sh
# Environment of the fabric8/ticker image. jube inserts its lines just before the first export.
# Seconds between two lines.
export TICK_INTERVAL="${TICK_INTERVAL:-1}"
# What each line says.
export TICK_MESSAGE="${TICK_MESSAGE:-tick}"
