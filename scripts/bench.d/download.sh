# Figures `download`, `download-maven` and `memory`: a 512 MiB image zip of random bytes from
# nginx (sendfile) on loopback. jube pulls a concrete version into an empty local repository
# (zip and checksum only), curl -o fetches the same URL, interleaved, best of BENCH_RUNS (5) each;
# GNU time gives jube's peak RSS. Maven's dependency:get fetches it too (plugins cached, the
# artifact not), best of 3.
# shellcheck shell=bash

figure_download() {
  local mib=${BENCH_DOWNLOAD_MIB:-512} runs=${BENCH_RUNS:-5}
  local www="$FIG/www" rel=io/fabric8/jube/images/bench/big/1.0
  local zip="$www/$rel/big-1.0-image.zip"
  mkdir -p "$www/$rel"
  log "writing a $mib MiB image zip"
  "$HELPER" big-zip "$zip" "$mib"
  sha1sum "$zip" | cut -d' ' -f1 >"$zip.sha1"
  cat >"$www/$rel/big-1.0.pom" <<'POM'
<project><modelVersion>4.0.0</modelVersion><groupId>io.fabric8.jube.images.bench</groupId>
<artifactId>big</artifactId><version>1.0</version><packaging>pom</packaging></project>
POM
  sha1sum "$www/$rel/big-1.0.pom" | cut -d' ' -f1 >"$www/$rel/big-1.0.pom.sha1"
  local bytes port url
  bytes=$(stat -c %s "$zip")
  port=$(free_port "$JUBE_PORT_START")
  start_nginx "$www" "$port" "$FIG/nginx"
  url="http://127.0.0.1:$port"
  export JUBE_REMOTE_MAVEN_REPOS="$url/@id=bench"

  # What the server gives when nobody writes to disk: it must be well above both readers.
  local t0 ceiling=()
  for _ in 1 2 3; do
    t0=$(now)
    curl -sf -o /dev/null "$url/$rel/big-1.0-image.zip"
    ceiling+=("$(calc "$(now) - $t0")")
  done

  local curl_times=() jube_times=() rss=() t
  for i in $(seq "$runs"); do
    rm -f "$FIG/curl.zip"
    t0=$(now)
    /usr/bin/time -f %M -o "$FIG/curl.rss" curl -sf -o "$FIG/curl.zip" "$url/$rel/big-1.0-image.zip"
    curl_times+=("$(calc "$(now) - $t0")")
    rm -f "$FIG/curl.zip"

    rm -rf "$JUBE_LOCAL_REPO" && mkdir -p "$JUBE_LOCAL_REPO"
    t0=$(now)
    /usr/bin/time -f %M -o "$FIG/jube.rss" "$JUBE" pull bench/big:1.0 >/dev/null 2>"$FIG/pull.log" \
      || die "jube pull failed: $(cat "$FIG/pull.log")"
    t=$(calc "$(now) - $t0")
    jube_times+=("$t")
    rss+=("$(cat "$FIG/jube.rss")")
    cmp -s "$zip" "$JUBE_LOCAL_REPO/$rel/big-1.0-image.zip" || die "jube's copy differs from the served zip"
    log "run $i: curl $(ms "${curl_times[-1]}"), jube $(ms "$t"), jube max RSS ${rss[-1]} KiB"
  done
  rm -rf "$JUBE_LOCAL_REPO"

  local mvn_times=()
  maven_settings "$url" >"$FIG/maven-settings.xml"
  # One untimed run brings the plugin into Maven's local repository.
  maven_get
  for _ in 1 2 3; do
    rm -rf "$FIG/m2/io"
    t0=$(now)
    maven_get
    mvn_times+=("$(calc "$(now) - $t0")")
  done
  cmp -s "$zip" "$FIG/m2/$rel/big-1.0-image.zip" || die "Maven's copy differs from the served zip"

  local curl_best jube_best mvn_best ceiling_best peak
  curl_best=$(least "${curl_times[@]}")
  jube_best=$(least "${jube_times[@]}")
  mvn_best=$(least "${mvn_times[@]}")
  ceiling_best=$(least "${ceiling[@]}")
  peak=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n1)
  mibs() { calc "$bytes / 1048576 / $1"; }
  record download "$(calc "$curl_best / $jube_best")" '>=' 0.9 \
    "best of $runs: jube $(mibs "$jube_best") MiB/s, curl -o $(mibs "$curl_best") MiB/s (nginx to /dev/null $(mibs "$ceiling_best") MiB/s)"
  record download-vs-maven "$(calc "$mvn_best / $jube_best")" '>=' 3 \
    "best of 3: mvn dependency:get $(mibs "$mvn_best") MiB/s ($(ms "$mvn_best")), jube $(ms "$jube_best")"
  record memory "$(calc "$peak / 1024")" '<' 64 "jube pull's max RSS in MiB (GNU time), worst of $runs; curl's $(($(cat "$FIG/curl.rss") / 1024)) MiB"
}

# settings.xml for Maven as /work/shared/TESTING.md describes it: plugins from Debian's file
# repository, the artifact from repository `bench` at $1.
maven_settings() {
  cat <<XML
<settings>
  <localRepository>$FIG/m2</localRepository>
  <mirrors><mirror><id>deb</id><mirrorOf>*,!bench</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors>
  <profiles><profile><id>p</id><repositories><repository><id>bench</id><url>$1/</url></repository></repositories></profile></profiles>
  <activeProfiles><activeProfile>p</activeProfile></activeProfiles>
</settings>
XML
}

maven_get() {
  MAVEN_OPTS="-Duser.home=$HOME" mvn -q -B -Dstyle.color=never -s "$FIG/maven-settings.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get \
    -Dartifact=io.fabric8.jube.images.bench:big:1.0:zip:image -Dtransitive=false >"$FIG/mvn.log" 2>&1 \
    || die "mvn dependency:get failed: $(tail -n 20 "$FIG/mvn.log")"
}
