# Figure `unpack`: jube's unpacking alone (jube::container::install::unpack, through the bench
# helper) against Info-ZIP `unzip -q`, on the 2,000-file image zip (hyperfine medians).
# shellcheck shell=bash

figure_unpack() {
  local zip out="$FIG/out"
  zip=$(files_image)
  local medians jube unzip
  medians=$(hyperfine_medians "$FIG/hyperfine.json" -N --warmup 2 --min-runs 15 --prepare "rm -rf $out" \
    "$HELPER unpack $zip $out" "unzip -q $zip -d $out")
  rm -rf "$out"
  jube=$(sed -n 1p <<<"$medians")
  unzip=$(sed -n 2p <<<"$medians")
  record unpack "$(calc "$unzip / $jube")" '>=' 1.0 \
    "medians: jube unpack $(ms "$jube"), unzip -q $(ms "$unzip"); 2,000 files"
}
