#!/usr/bin/env bash
# Runs the app in the foreground (exec: the JVM takes this shell's pid).
cd "$(dirname "$0")" || exit 1
. ./env.sh
APP_BASE="${APP_BASE:-$(pwd)}"

if [ -n "${JUBE_COMMAND:-}" ]; then
  # A Kubernetes `command` replaces the image's own start command.
  # shellcheck disable=SC2086
  exec $JUBE_COMMAND ${JUBE_ARGS:-}
fi

if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA="$JAVA_HOME/bin/java"
elif command -v java >/dev/null 2>&1; then
  JAVA=java
else
  echo "fabric8/java: no Java runtime found: install Java 11 or later (for example 'apt-get install openjdk-17-jre-headless', 'brew install openjdk@17', or https://adoptium.net) and put java on the PATH or set JAVA_HOME" >&2
  exit 1
fi

classpath=""
for jar in "$APP_BASE"/lib/*.jar "$APP_BASE"/maven/*.jar; do
  [ -f "$jar" ] && classpath="${classpath:+$classpath:}$jar"
done

agent=""
if [ -f "$APP_BASE/jolokia/jolokia-agent.jar" ]; then
  agent="-javaagent:$APP_BASE/jolokia/jolokia-agent.jar=host=127.0.0.1,port=${JOLOKIA_PORT}"
fi

# shellcheck disable=SC2086
if [ -n "$JAVA_MAIN_CLASS" ]; then
  exec "$JAVA" $agent $JAVA_OPTIONS -cp "$classpath" "$JAVA_MAIN_CLASS" $JAVA_ARGS ${JUBE_ARGS:-}
elif [ -n "$classpath" ] && [ "${classpath#*:}" = "$classpath" ]; then
  exec "$JAVA" $agent $JAVA_OPTIONS -jar "$classpath" $JAVA_ARGS ${JUBE_ARGS:-}
elif [ -n "$classpath" ]; then
  echo "fabric8/java: several jars in lib/ or maven/ and no JAVA_MAIN_CLASS: set JAVA_MAIN_CLASS (or MAIN) to the class to run" >&2
  exit 1
else
  # No app of the user's: the demo, a single-file Java program that needs no build step.
  exec "$JAVA" $agent $JAVA_OPTIONS "$APP_BASE/demo/Hello.java" $JAVA_ARGS ${JUBE_ARGS:-}
fi
