# Figure `rollout`: a rolling update (maxSurge 25%) of a Deployment of 20 fabric8/ticker pods to a
# new template, from `jube apply` until `jube rollout status` reports it done, against what a user
# would do without one: delete the Deployment and its pods, apply it again and wait for the same
# status. One daemon runs throughout (its start is not counted); the two alternate, and each side
# is the median of BENCH_RUNS_ROLLOUT (5) runs.
# shellcheck shell=bash

figure_rollout() {
  local image=fabric8/ticker:1.0.2 n=${BENCH_ROLLOUT_REPLICAS:-20} runs=${BENCH_RUNS_ROLLOUT:-5}
  "$JUBE" pull "$image" >/dev/null 2>"$FIG/pull.log" || die "jube pull $image failed: $(cat "$FIG/pull.log")"
  export JUBE_DAEMON_LISTEN=127.0.0.1:0
  start_daemon "$JUBE_HOME" >/dev/null
  trap '"$JUBE" daemon stop --stop-pods >/dev/null 2>&1 || true' EXIT
  ticker_deployment "$image" "$n" 0 >"$FIG/deploy.yaml"
  quietly apply -f "$FIG/deploy.yaml" >/dev/null
  quietly rollout status deploy/ticker --timeout 120 >/dev/null
  local rolls=() recreates=() i t0
  for i in $(seq "$runs"); do
    ticker_deployment "$image" "$n" "$i" >"$FIG/deploy.yaml"
    t0=$(now)
    quietly apply -f "$FIG/deploy.yaml"
    quietly rollout status deploy/ticker --timeout 120
    rolls+=("$(calc "$(now) - $t0")")
    t0=$(now)
    quietly delete deploy ticker
    quietly apply -f "$FIG/deploy.yaml"
    quietly rollout status deploy/ticker --timeout 120
    recreates+=("$(calc "$(now) - $t0")")
    log "run $i: rolling update $(ms "${rolls[-1]}"), delete and re-create $(ms "${recreates[-1]}")"
  done
  "$JUBE" daemon stop --stop-pods >/dev/null 2>&1
  trap - EXIT
  local r c
  r=$(median "${rolls[@]}")
  c=$(median "${recreates[@]}")
  record rollout "$(calc "$r / $c")" '<=' 1.5 \
    "median of $runs: rolling update of $n pods $(ms "$r"), delete and re-create them $(ms "$c")"
}

# `jube ARGS...`, quiet, or the figure dies with its error.
quietly() {
  "$JUBE" "$@" >"$FIG/out" 2>"$FIG/err" || die "jube $* failed: $(cat "$FIG/err")"
}

# A Deployment of $2 tickers of image $1 whose template carries REVISION=$3.
ticker_deployment() {
  cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: ticker}
spec:
  replicas: $2
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%}
  selector: {matchLabels: {app: ticker}}
  template:
    metadata: {labels: {app: ticker}}
    spec:
      containers:
      - name: ticker
        image: $1
        env: [{name: REVISION, value: "$3"}]
YAML
}
