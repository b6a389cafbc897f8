# Helpers shared by scripts/bench and its figures (sourced, not run).
# shellcheck shell=bash
export LC_ALL=C

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

# Installs what the figures drive, with apt-get, when it is missing.
install_tools() {
  local need=()
  [ -x /usr/sbin/nginx ] || need+=(nginx)
  [ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
  command -v hyperfine >/dev/null || need+=(hyperfine)
  command -v wrk >/dev/null || need+=(wrk)
  command -v curl >/dev/null || need+=(curl)
  command -v unzip >/dev/null || need+=(unzip)
  command -v jq >/dev/null || need+=(jq)
  [ -x /usr/bin/time ] || need+=(time)
  command -v mvn >/dev/null || need+=(maven)
  [ -d /usr/share/maven-repo/org/apache/maven/plugins/maven-dependency-plugin ] \
    || need+=(libmaven-dependency-plugin-java junit4)
  ((${#need[@]})) || return 0
  log "installing ${need[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
}

# A fresh environment for figure $1 (number $2): its own folder, JUBE_HOME, local repository,
# empty settings.xml, user home and port range; no inherited JUBE_* variable.
figure_env() {
  local name=$1 n=$2 var
  for var in $(compgen -e); do
    case $var in JUBE_*) unset "$var" ;; esac
  done
  export FIG="$WORK/$name"
  mkdir -p "$FIG/home" "$FIG/repo" "$FIG/user"
  echo '<settings/>' >"$FIG/settings.xml"
  export HOME="$FIG/user" JUBE_HOME="$FIG/home" JUBE_LOCAL_REPO="$FIG/repo"
  export JUBE_MAVEN_SETTINGS="$FIG/settings.xml" JUBE_MAVEN_CENTRAL=off
  export JUBE_PORT_START=$((20000 + n * 1000)) JUBE_PORT_END=$((20000 + n * 1000 + 999))
}

# Starts a daemon in JUBE_HOME $1 and waits until its API answers; prints its address.
start_daemon() {
  local home=$1 tries=600
  mkdir -p "$home"
  JUBE_HOME=$home "$JUBE" daemon >/dev/null 2>"$home/daemon.err" &
  remember_pid $!
  until [ -s "$home/daemon.addr" ] && curl -sf "http://$(cat "$home/daemon.addr")/version" >/dev/null; do
    tries=$((tries - 1))
    ((tries > 0)) || die "the daemon in $home did not answer in 30 s: $(cat "$home/daemon.err")"
    sleep 0.05
  done
  cat "$home/daemon.addr"
}

# Registers a background process for the final cleanup (figures also stop their own).
remember_pid() { echo "$1" >>"$WORK/pids"; }

cleanup() {
  local pid
  if [ -f "$WORK/pids" ]; then
    while read -r pid; do
      kill "$pid" 2>/dev/null || true
    done <"$WORK/pids"
  fi
  # Containers the figures left (on error): their JUBE_HOMEs are all under $WORK.
  local home
  for home in "$WORK"/*/home*; do
    [ -d "$home/containers" ] || continue
    JUBE_HOME=$home "$JUBE" daemon stop --stop-pods >/dev/null 2>&1 || true
    local ids
    ids=$(JUBE_HOME=$home "$JUBE" ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$ids" ] || JUBE_HOME=$home "$JUBE" rm -f $ids >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}

# A free TCP port on 127.0.0.1 at or above $1.
free_port() {
  local p=$1
  while (: </dev/tcp/127.0.0.1/"$p") 2>/dev/null; do
    p=$((p + 1))
  done
  echo "$p"
}

# Waits until 127.0.0.1:$1 accepts connections (at most $2 seconds, default 10).
wait_port() {
  local port=$1 tries=$((${2:-10} * 20))
  while ! (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null; do
    tries=$((tries - 1))
    ((tries > 0)) || die "nothing listens on 127.0.0.1:$port"
    sleep 0.05
  done
}

now() { echo "$EPOCHREALTIME"; }
# Arithmetic on decimals: calc 'expression'.
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }
# The smallest of the numbers given.
least() { printf '%s\n' "$@" | sort -g | head -n1; }
# The median of its arguments (the lower middle one of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Seconds, milliseconds with 1 decimal.
ms() { awk "BEGIN { printf \"%.1f ms\", $1 * 1000 }"; }

# Runs hyperfine on the commands given, JSON to $1; then prints the medians, one a line.
hyperfine_medians() {
  local json=$1
  shift
  hyperfine --style none --export-json "$json" "$@" >"$json.log" 2>&1 \
    || die "hyperfine failed: $(tail -n 20 "$json.log")"
  jq -r '.results[].median' "$json"
}

# record NAME RATIO OP TARGET RAW: OP is >=, <=, < or >; appends a line to the results.
record() {
  local name=$1 ratio=$2 op=$3 target=$4 raw=${5:-} verdict
  if [ "$op" = FAIL ]; then
    verdict=FAIL op=""
  elif awk "BEGIN { exit !($ratio $op $target) }"; then
    verdict=PASS
  else
    verdict=FAIL
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$ratio" "$op${op:+ }$target" "$verdict" "$raw" >>"$RESULTS"
  log "$name: $ratio ($op${op:+ }$target) $verdict  $raw"
}

print_table() {
  local failed=0 name ratio target verdict raw
  echo
  echo "jube bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  while IFS=$'\t' read -r name ratio target verdict raw; do
    printf '%-22s %-9s (%s) %s  %s\n' "$name:" "$ratio" "$target" "$verdict" "$raw"
    [ "$verdict" = PASS ] || failed=1
  done <"$RESULTS"
  return "$failed"
}

# Runs nginx in the background with state in $1, NGINX_WORKERS workers (default 1), the
# main-context lines $3 (say a load_module, which must come before any block) and the blocks on
# stdin; waits until 127.0.0.1:$2 answers.
run_nginx() {
  local dir=$1 port=$2 main=${3:-} user=""
  mkdir -p "$dir/tmp"
  # Workers of a root master run as nobody, who cannot enter mktemp's private folders.
  [ "$(id -u)" -ne 0 ] || user="user root;"
  {
    printf '%s\n' "$user" "$main" "worker_processes ${NGINX_WORKERS:-1};" "daemon off;" "pid $dir/nginx.pid;" \
      "error_log $dir/error.log;" "events { worker_connections 1024; }"
    cat
  } >"$dir/nginx.conf"
  /usr/sbin/nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" &
  NGINX_PID=$!
  remember_pid "$NGINX_PID"
  wait_port "$port"
}

# Serves folder $1 on 127.0.0.1:$2 with nginx (sendfile, no access log) in the background; state
# in $3. Waits until it answers.
start_nginx() {
  local root=$1 port=$2 dir=$3
  run_nginx "$dir" "$port" <<CONF
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server { listen 127.0.0.1:$port; root $root; }
}
CONF
}

# Builds the 2,000-file image bench/files:1.0 into the figure's local repository with
# `jube build`; prints the zip's path.
files_image() {
  "$HELPER" image-dir "$FIG/image" 2000
  "$JUBE" build "$FIG/image" -t bench/files:1.0 >/dev/null 2>"$FIG/build.log" \
    || die "jube build failed: $(cat "$FIG/build.log")"
  echo "$JUBE_LOCAL_REPO/io/fabric8/jube/images/bench/files/1.0/files-1.0-image.zip"
}
