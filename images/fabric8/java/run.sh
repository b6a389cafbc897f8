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

# start.sh found Java already when it started this script.
if [ -z "${FABRIC8_JAVA:-}" ]; then
  . ./bin/find-java.sh
  find_java || exit 1
fi
JAVA="$FABRIC8_JAVA"

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
