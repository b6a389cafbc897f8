# Figure `start`: `jube start` of a cached image (2,000 files, ~20 MiB zip; start.sh backgrounds
# a sleep and writes process.pid) until the command returns with the pid recorded, against doing
# it by hand: `unzip -q` into a folder, then `sh start.sh`. Containers and folders are removed
# (and their sleeps killed) before each run.
# shellcheck shell=bash

figure_start() {
  local zip hand="$FIG/by-hand"
  zip=$(files_image)
  local stop_hand="[ -f $hand/process.pid ] && kill \$(cat $hand/process.pid) 2>/dev/null; rm -rf $hand"
  local medians started byhand
  medians=$(hyperfine_medians "$FIG/hyperfine.json" --warmup 2 --min-runs 15 \
    --prepare "$JUBE rm -f bench >/dev/null 2>&1; true" "$JUBE start --name bench bench/files:1.0" \
    --prepare "$stop_hand" "unzip -q $zip -d $hand && sh $hand/start.sh")
  "$JUBE" rm -f bench >/dev/null
  sh -c "$stop_hand"
  started=$(sed -n 1p <<<"$medians")
  byhand=$(sed -n 2p <<<"$medians")
  record start "$(calc "$started / $byhand")" '<=' 1.2 \
    "medians: jube start $(ms "$started"), unzip -q + sh start.sh $(ms "$byhand"); zip $(($(stat -c %s "$zip") / 1024)) KiB, 2,000 files"
}
