# Figure `ps`: `jube ps` with 200 running containers against `jube ps` with 1 (hyperfine medians).
# The containers are made with `jube create` (4 at a time) from a small image with one port,
# then started, so that ps checks 200 live processes.
# shellcheck shell=bash

figure_ps() {
  local image="$FIG/image"
  mkdir -p "$image"
  "$HELPER" image-dir "$image" 0
  "$JUBE" build "$image" -t bench/small:1.0 >/dev/null 2>"$FIG/build.log" \
    || die "jube build failed: $(cat "$FIG/build.log")"
  local one="$FIG/home-one" many="$FIG/home-many"
  JUBE_HOME=$one "$JUBE" create bench/small:1.0 >"$FIG/one.ids"
  # shellcheck disable=SC2016
  seq 200 | JUBE_HOME=$many xargs -P4 -I{} sh -c '"$JUBE" create bench/small:1.0 | tail -n1' >"$FIG/many.ids"
  [ "$(wc -l <"$FIG/many.ids")" -eq 200 ] || die "200 jube create gave $(wc -l <"$FIG/many.ids") IDs"
  JUBE_HOME=$one "$JUBE" start "$(tail -n1 "$FIG/one.ids")" >/dev/null
  log "created 200 containers; starting them"
  xargs -P4 -n25 env JUBE_HOME="$many" "$JUBE" start <"$FIG/many.ids" >/dev/null
  local listed
  listed=$(JUBE_HOME=$many "$JUBE" ps -q | wc -l)
  [ "$listed" -eq 200 ] || die "jube ps lists $listed running containers of 200"
  local medians m1 m200
  medians=$(hyperfine_medians "$FIG/hyperfine.json" -N --warmup 3 --min-runs 20 \
    "env JUBE_HOME=$one $JUBE ps" "env JUBE_HOME=$many $JUBE ps")
  m1=$(sed -n 1p <<<"$medians")
  m200=$(sed -n 2p <<<"$medians")
  xargs -P4 -n25 env JUBE_HOME="$many" "$JUBE" rm -f <"$FIG/many.ids" >/dev/null
  JUBE_HOME=$one "$JUBE" rm -f "$(tail -n1 "$FIG/one.ids")" >/dev/null
  record ps "$(calc "$m200 / $m1")" '<=' 3 "medians: jube ps with 200 running $(ms "$m200"), with 1 $(ms "$m1")"
}
