# Sourced by start.sh and run.sh: find_java sets FABRIC8_JAVA to a Java runtime of version 11 or
# later (JAVA_HOME first, then the PATH), or says what is missing and returns 1.

java_hint="install Java 11 or later (for example 'apt-get install openjdk-17-jre-headless', 'brew install openjdk@17', or https://adoptium.net) and put java on the PATH or set JAVA_HOME"

find_java() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    FABRIC8_JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    FABRIC8_JAVA=java
  else
    echo "fabric8/java: no Java runtime found: $java_hint" >&2
    return 1
  fi
  # `java -version` prints `openjdk version "17.0.2"`, or `"1.8.0_292"` for Java 8 and older.
  java_version=$("$FABRIC8_JAVA" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)
  java_major=${java_version%%.*}
  if [ "$java_major" = 1 ]; then
    java_major=${java_version#1.}
    java_major=${java_major%%.*}
  fi
  case "$java_major" in
    '' | *[!0-9]*) return 0 ;; # an unknown format: let java itself decide
  esac
  if [ "$java_major" -lt 11 ]; then
    echo "fabric8/java: $FABRIC8_JAVA is Java $java_version, too old for this image: $java_hint" >&2
    return 1
  fi
  export FABRIC8_JAVA
}
