# Figure `replicas`: `jube apply` of a ReplicationController with `replicas: 50` of fabric8/ticker
# (a fresh JUBE_HOME, so apply starts the daemon) until the API shows all 50 pods Running, against
# 50 `jube start fabric8/ticker` run in parallel until all have returned (each returns once its pid
# is recorded). The image is cached first for both.
# shellcheck shell=bash

figure_replicas() {
  local image=fabric8/ticker:1.0.1 n=${BENCH_REPLICAS:-50}
  "$JUBE" pull "$image" >/dev/null
  local starts_home="$FIG/home-starts" t0 starts
  mkdir -p "$starts_home"
  t0=$(now)
  # shellcheck disable=SC2016
  seq "$n" | JUBE_HOME=$starts_home xargs -P"$n" -I{} sh -c '"$JUBE" start "$1" >/dev/null' _ "$image"
  starts=$(calc "$(now) - $t0")
  local running
  running=$(JUBE_HOME=$starts_home "$JUBE" ps -q | wc -l)
  [ "$running" -eq "$n" ] || die "$n parallel jube start left $running running"
  # shellcheck disable=SC2046
  JUBE_HOME=$starts_home "$JUBE" rm -f $(JUBE_HOME=$starts_home "$JUBE" ps -aq) >/dev/null

  export JUBE_DAEMON_LISTEN=127.0.0.1:0
  trap '"$JUBE" daemon stop --stop-pods >/dev/null 2>&1 || true' EXIT
  cat >"$FIG/ticker.yaml" <<YAML
apiVersion: v1
kind: ReplicationController
metadata: {name: ticker}
spec:
  replicas: $n
  selector: {app: ticker}
  template:
    metadata: {labels: {app: ticker}}
    spec:
      containers:
      - name: ticker
        image: $image
YAML
  local addr count=0 applied tries=1200
  t0=$(now)
  "$JUBE" apply -f "$FIG/ticker.yaml" >/dev/null
  addr=$(cat "$JUBE_HOME/daemon.addr")
  while :; do
    count=$(curl -sf "http://$addr/api/v1/namespaces/default/pods" \
      | jq '[.items[] | select(.status.phase == "Running")] | length')
    [ "$count" -lt "$n" ] || break
    tries=$((tries - 1))
    ((tries > 0)) || die "only $count of $n pods Running after a minute (see $JUBE_HOME/daemon.log)"
    sleep 0.05
  done
  applied=$(calc "$(now) - $t0")
  "$JUBE" daemon stop --stop-pods >/dev/null
  trap - EXIT
  record replicas "$(calc "$applied / $starts")" '<=' 1.5 \
    "apply to $n Running $(ms "$applied") (daemon start included), $n parallel jube start $(ms "$starts")"
}
