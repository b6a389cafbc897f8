#!/bin/sh
# Environment of the fabric8/java image, sourced by every script. jube inserts its own lines
# (APP_BASE, HTTP_PORT, JOLOKIA_PORT, -e variables) just before the first export below.

# Options for the JVM, such as -Xmx256m.
export JAVA_OPTIONS="${JAVA_OPTIONS:-}"
# The main class; MAIN is accepted too. Empty: the single jar's Main-Class, or the demo.
export JAVA_MAIN_CLASS="${JAVA_MAIN_CLASS:-${MAIN:-}}"
# Arguments for the main class.
export JAVA_ARGS="${JAVA_ARGS:-}"
# The ports when the image runs without jube.
export HTTP_PORT="${HTTP_PORT:-8080}"
export JOLOKIA_PORT="${JOLOKIA_PORT:-8778}"
# Seconds stop.sh waits for the JVM to exit after SIGTERM.
export STOP_TIMEOUT="${STOP_TIMEOUT:-10}"
