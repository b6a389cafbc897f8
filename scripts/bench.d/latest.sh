# Figure `latest`: `jube pull bench/many` resolves the newest of 2,000 versions (listed in random
# order) from metadata cached by a first pull, against `jube pull bench/many:<that version>`,
# both with the zip already cached (hyperfine medians, same run).
# shellcheck shell=bash

figure_latest() {
  local www="$FIG/www" dir=io/fabric8/jube/images/bench/many newest=1.19.99
  mkdir -p "$www/$dir/$newest"
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<metadata><groupId>io.fabric8.jube.images.bench</groupId><artifactId>many</artifactId>'
    echo '<versioning><latest>1.0.0</latest><release>1.0.0</release><versions>'
    for i in $(seq 0 1999); do echo "1.$((i / 100)).$((i % 100))"; done | shuf \
      | sed 's|.*|<version>&</version>|'
    echo '</versions><lastUpdated>20240101000000</lastUpdated></versioning></metadata>'
  } >"$www/$dir/maven-metadata.xml"
  local zip="$www/$dir/$newest/many-$newest-image.zip"
  "$HELPER" big-zip "$zip" 1
  sha1sum "$zip" | cut -d' ' -f1 >"$zip.sha1"
  local port
  port=$(free_port "$JUBE_PORT_START")
  start_nginx "$www" "$port" "$FIG/nginx"
  export JUBE_REMOTE_MAVEN_REPOS="http://127.0.0.1:$port/@id=bench"

  "$JUBE" pull bench/many >"$FIG/first.out" 2>"$FIG/pull.log" || die "jube pull failed: $(cat "$FIG/pull.log")"
  grep -q "$newest" "$FIG/first.out" || die "jube pull bench/many did not pick $newest: $(cat "$FIG/first.out")"
  local medians latest concrete
  medians=$(hyperfine_medians "$FIG/hyperfine.json" -N --warmup 3 --min-runs 30 \
    "$JUBE pull bench/many" "$JUBE pull bench/many:$newest")
  latest=$(sed -n 1p <<<"$medians")
  concrete=$(sed -n 2p <<<"$medians")
  record latest "$(calc "$latest / $concrete")" '<=' 2 \
    "medians: pull latest of 2,000 versions (cached metadata) $(ms "$latest"), pull $newest (cached) $(ms "$concrete")"
}
