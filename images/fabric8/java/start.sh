#!/usr/bin/env bash
# Starts the app in the background; its pid goes to process.pid and its output to logs/.
cd "$(dirname "$0")" || exit 1
. ./env.sh

if [ -f process.pid ] && kill -0 "$(cat process.pid)" 2>/dev/null; then
  echo "already running (pid $(cat process.pid))"
  exit 0
fi
if [ -z "${JUBE_COMMAND:-}" ] && ! { [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; } && ! command -v java >/dev/null 2>&1; then
  echo "fabric8/java: no Java runtime found: install Java 11 or later (for example 'apt-get install openjdk-17-jre-headless', 'brew install openjdk@17', or https://adoptium.net) and put java on the PATH or set JAVA_HOME" >&2
  exit 1
fi
mkdir -p logs
nohup ./run.sh >>logs/app.log 2>&1 </dev/null &
echo $! >process.pid
echo "started (pid $!), logging to logs/app.log"
