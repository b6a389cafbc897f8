# Figure `logs`: 50 MB of 100-byte lines through the console log's relay (`jube __jube-log`, which
# rotates by size and notes each line's time) against the same bytes through a pipe into a plain
# file, as an app's output went before (hyperfine medians).
# shellcheck shell=bash

figure_logs() {
  local input="$FIG/input" relayed="$FIG/relayed" plain="$FIG/plain.log"
  mkdir -p "$relayed"
  # (yes ends on SIGPIPE, which pipefail would take as a failure)
  head -c 50000000 < <(yes "$(printf '%099d' 0)") >"$input"
  local medians relay pipe
  medians=$(hyperfine_medians "$FIG/hyperfine.json" --warmup 2 --min-runs 10 \
    "cat $input | $JUBE __jube-log 20m 5 $relayed/console.log" \
    "cat $input | cat >$plain")
  relay=$(sed -n 1p <<<"$medians")
  pipe=$(sed -n 2p <<<"$medians")
  local files
  files=$(find "$relayed" -name 'console.log*' ! -name '*.times' | wc -l)
  [ "$files" -le 5 ] || die "the relay kept $files log files of 5"
  record logs "$(calc "$relay / $pipe")" '<=' 3 \
    "medians: 50 MB through the relay $(ms "$relay"), through cat $(ms "$pipe"); $files files kept"
}
