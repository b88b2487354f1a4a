#!/usr/bin/env bash
# A pipelines directory mounted from a ConfigMap: the data sits in a
# timestamped "..2026_..." directory, "..data" points at it, and each
# top-level name is a symlink through "..data".  The kubelet updates it
# by writing a new timestamped directory and swapping "..data" with a
# rename.  Names starting with '.' are never pipelines.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_configmap_swap

C=$T_DIR/cm OUT=$T_DIR/out
mkdir -p "$C/..2026_12_03_1"
b_spec "$C/..2026_12_03_1" 21 1 payload one
ln -s ..2026_12_03_1 "$C/..data"
ln -s ..data/21 "$C/21"

# update DIR: "..data" now points at DIR, as the kubelet swaps it.
update() {
    ln -s "$1" "$C/..data_tmp"
    mv -T "$C/..data_tmp" "$C/..data"
}

b_builder builder --pipelines "$C" --out "$OUT" --worker-id 0 \
    --rescan-interval 3600 --build-cmd 'cp "$PIPELINE_SRC/payload" "$PIPELINE_OUT"'
b_wait_ready 10 "$OUT" 21 1

mkdir -p "$C/..2026_12_03_2"
b_spec "$C/..2026_12_03_2" 21 2 payload two
b_spec "$C/..2026_12_03_2" 22 1 payload new
update ..2026_12_03_2
b_wait_ready 3 "$OUT" 21 2
t_check "21@2 holds the new data" [ "$(cat "$OUT/artifacts/21@2")" = two ]
rm -rf "$C/..2026_12_03_1"

# A new key gets its top-level symlink after the swap.
ln -s ..data/22 "$C/22"
b_wait_ready 3 "$OUT" 22 1

mkdir -p "$C/..2026_12_03_3"
cp -a "$C/..2026_12_03_2/." "$C/..2026_12_03_3/"
b_spec "$C/..2026_12_03_3" 22 2 payload newer
update ..2026_12_03_3
rm -rf "$C/..2026_12_03_2"
b_wait_ready 3 "$OUT" 22 2

t_check "nothing under a dot name was taken for a pipeline" \
    [ "$(ls "$OUT/ready" | sort | tr '\n' ' ')" = "21@1.json 21@2.json 22@1.json 22@2.json " ]
t_check "no dot name was reported as a bad pipeline" \
    [ "$(b_count "$T_DIR/builder.log" 'bad pipeline')" = 0 ]
