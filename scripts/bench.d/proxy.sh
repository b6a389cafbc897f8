# Figure `proxy`: HTTP throughput (wrk, keep-alive) through a service's proxy against straight to
# its pod's port. The pod runs nginx (one worker) serving a 4 KiB file, so that the proxy, not the
# app, is what differs. wrk runs alternate between the two; the best of BENCH_RUNS (3) each.
# shellcheck shell=bash

figure_proxy() {
  local image="$FIG/image" runs=${BENCH_RUNS_PROXY:-3} secs=${BENCH_WRK_SECONDS:-4}
  mkdir -p "$image/www"
  head -c 4096 /dev/urandom | base64 -w 76 | head -c 4096 >"$image/www/index.html"
  echo HTTP=8080 >"$image/ports.properties"
  cat >"$image/run.sh" <<'SH'
#!/bin/sh
# nginx in the foreground on HTTP_PORT, serving www/.
cd "$(dirname "$0")" || exit 1
user=""
[ "$(id -u)" -ne 0 ] || user="user root;"
mkdir -p tmp
cat >nginx.conf <<CONF
$user
worker_processes 1;
daemon off;
pid $PWD/nginx.pid;
error_log $PWD/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $PWD/tmp/body;
  proxy_temp_path $PWD/tmp/proxy;
  fastcgi_temp_path $PWD/tmp/fastcgi;
  uwsgi_temp_path $PWD/tmp/uwsgi;
  scgi_temp_path $PWD/tmp/scgi;
  server { listen 127.0.0.1:$HTTP_PORT; root $PWD/www; }
}
CONF
exec /usr/sbin/nginx -e "$PWD/error.log" -p "$PWD" -c "$PWD/nginx.conf"
SH
  "$JUBE" build "$image" -t bench/web:1.0 >/dev/null 2>"$FIG/build.log" \
    || die "jube build failed: $(cat "$FIG/build.log")"
  export JUBE_DAEMON_LISTEN=127.0.0.1:0
  trap '"$JUBE" daemon stop --stop-pods >/dev/null 2>&1 || true' EXIT
  local svc_port
  svc_port=$(free_port $((JUBE_PORT_END - 99)))
  cat >"$FIG/web.yaml" <<YAML
apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 1
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: bench/web:1.0
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: $svc_port, targetPort: http}]
YAML
  "$JUBE" apply -f "$FIG/web.yaml" >/dev/null 2>"$FIG/apply.log" || die "jube apply failed: $(cat "$FIG/apply.log")"
  local proxy="" proxy_port="" pod_port="" tries=400
  while :; do
    # The service listens on its own address (its ClusterIP), as its status says.
    proxy=$("$JUBE" get svc web -o json \
      | jq -r '.status.loadBalancer.ingress[0] | select(.ports) | "\(.ip):\(.ports[0].port)"')
    proxy_port=${proxy##*:}
    [ -z "$proxy" ] || ! curl -sf -o /dev/null "http://$proxy/index.html" || break
    tries=$((tries - 1))
    ((tries > 0)) || die "the service web never answered (daemon log: $JUBE_HOME/daemon.log)"
    sleep 0.05
  done
  pod_port=$("$JUBE" port "$("$JUBE" ps -q | head -n1)" | awk '{ print $NF }')
  [ "$pod_port" != "$proxy_port" ] || die "the proxy and the pod share port $pod_port"
  curl -sf -o /dev/null "http://127.0.0.1:$pod_port/index.html" || die "the pod does not answer on $pod_port"

  # The peer: nginx's own TCP proxy (stream module, a worker per core) in front of the same pod.
  local ref_port
  ref_port=$(free_port $((svc_port + 1)))
  start_stream_proxy "$ref_port" "$pod_port" "$FIG/stream"

  local direct=() proxied=() reference=()
  for _ in $(seq "$runs"); do
    direct+=("$(wrk_rps "127.0.0.1:$pod_port" "$secs")")
    proxied+=("$(wrk_rps "$proxy" "$secs")")
    reference+=("$(wrk_rps "127.0.0.1:$ref_port" "$secs")")
  done
  kill "$NGINX_PID" 2>/dev/null || true
  local d p r
  d=$(printf '%s\n' "${direct[@]}" | sort -g | tail -n1)
  p=$(printf '%s\n' "${proxied[@]}" | sort -g | tail -n1)
  r=$(printf '%s\n' "${reference[@]}" | sort -g | tail -n1)
  "$JUBE" daemon stop --stop-pods >/dev/null 2>&1
  trap - EXIT
  record proxy "$(calc "$p / $d")" '>=' 0.8 \
    "best of $runs wrk runs (${secs}s, 1 thread, 16 connections, 4 KiB): via the service $p req/s, to the pod $d req/s"
  record proxy-vs-nginx "$(calc "$p / $r")" '>=' 1.2 \
    "via the service $p req/s, via nginx's stream proxy (worker_processes auto) $r req/s, same runs"
}

# nginx's stream (TCP) proxy on 127.0.0.1:$1 to 127.0.0.1:$2, a worker per core, state in $3.
start_stream_proxy() {
  local port=$1 backend=$2 dir=$3
  NGINX_WORKERS=auto run_nginx "$dir" "$port" "load_module /usr/lib/nginx/modules/ngx_stream_module.so;" <<CONF
stream { server { listen 127.0.0.1:$port; proxy_pass 127.0.0.1:$backend; tcp_nodelay on; } }
CONF
}

# Requests per second wrk reaches against $1 (host:port) in $2 seconds.
wrk_rps() {
  wrk -t1 -c16 -d"$2"s "http://$1/index.html" | awk '/^Requests\/sec:/ { print $2 }'
}
