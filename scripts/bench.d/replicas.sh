# Figure `replicas`: `jube apply` of a ReplicationController with `replicas: 50` of fabric8/ticker
# to a daemon that already runs (its start is not counted) until the API shows all 50 pods
# Running, against 50 `jube start fabric8/ticker` run in parallel until all have returned (each
# returns once its pid is recorded). The image is cached first; the two alternate, and each side
# is the median of BENCH_RUNS_REPLICAS (5) runs.
# shellcheck shell=bash

figure_replicas() {
  local image=fabric8/ticker:1.0.2 n=${BENCH_REPLICAS:-50} runs=${BENCH_RUNS_REPLICAS:-5}
  "$JUBE" pull "$image" >/dev/null 2>"$FIG/pull.log" || die "jube pull $image failed: $(cat "$FIG/pull.log")"
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
  export JUBE_DAEMON_LISTEN=127.0.0.1:0
  local starts=() applies=() i
  for i in $(seq "$runs"); do
    starts+=("$(parallel_starts "$FIG/home-starts-$i" "$image" "$n")")
    applies+=("$(apply_replicas "$FIG/home-apply-$i" "$n")")
    log "run $i: $n parallel jube start $(ms "${starts[-1]}"), apply $(ms "${applies[-1]}")"
  done
  local s a
  s=$(median "${starts[@]}")
  a=$(median "${applies[@]}")
  rm -rf "$FIG"/home-starts-* "$FIG"/home-apply-*
  record replicas "$(calc "$a / $s")" '<=' 1.5 \
    "median of $runs: apply to $n pods Running $(ms "$a") (daemon already running), $n parallel jube start $(ms "$s")"
}

# Seconds that $3 parallel `jube start $2` take in JUBE_HOME $1; kills the containers after.
parallel_starts() {
  local home=$1 image=$2 n=$3 t0 took running
  mkdir -p "$home"
  t0=$(now)
  # shellcheck disable=SC2016
  seq "$n" | JUBE_HOME=$home xargs -P"$n" -I{} sh -c '"$JUBE" start "$1" >/dev/null' _ "$image"
  took=$(calc "$(now) - $t0")
  running=$(JUBE_HOME=$home "$JUBE" ps -q | wc -l)
  [ "$running" -eq "$n" ] || die "$n parallel jube start left $running running"
  # Killed, not removed: on ext4 without a journal, creating files right after thousands were
  # deleted is slow (recently deleted inodes are skipped), which would tax whichever side ran next.
  # shellcheck disable=SC2046
  JUBE_HOME=$home "$JUBE" kill $(JUBE_HOME=$home "$JUBE" ps -q) >/dev/null
  echo "$took"
}

# Waits until the API at $1 lists $2 pods Running.
wait_running() {
  local addr=$1 n=$2 count=0 tries=1200
  # Polled cheaply (the API filters, grep counts): on two cores a jq per poll slowed the daemon.
  while :; do
    count=$(curl -sf "http://$addr/api/v1/namespaces/default/pods?fieldSelector=status.phase%3DRunning" \
      | grep -o '"phase":"Running"' | wc -l)
    [ "$count" -lt "$n" ] || break
    tries=$((tries - 1))
    ((tries > 0)) || die "only $count of $n pods Running after a minute"
    sleep 0.05
  done
}

# Seconds from `jube apply` of the RC to a running daemon in a fresh JUBE_HOME $1 until $2 pods
# are Running; stops the daemon and its pods after.
apply_replicas() {
  local home=$1 n=$2 t0 took addr
  addr=$(start_daemon "$home")
  export JUBE_HOME=$home
  trap '"$JUBE" daemon stop --stop-pods >/dev/null 2>&1 || true' EXIT
  t0=$(now)
  "$JUBE" apply -f "$FIG/ticker.yaml" >/dev/null 2>"$home/apply.log" || die "jube apply failed: $(cat "$home/apply.log")"
  wait_running "$addr" "$n"
  took=$(calc "$(now) - $t0")
  "$JUBE" daemon stop --stop-pods >/dev/null 2>&1
  trap - EXIT
  echo "$took"
}
