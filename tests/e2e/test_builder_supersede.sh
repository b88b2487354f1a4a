#!/usr/bin/env bash
# Newest version wins: a slow build overtaken by a newer version of its
# pipeline is killed with its whole process group (a background
# grandchild included), publishes nothing, leaves no marker or scratch
# dir, and the new version is built.  A pipeline removed while it
# builds is cancelled the same way.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_supersede

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
# Version 1 hangs, with a grandchild in the background; it records the
# shell's and the grandchild's pids outside OUT for the test to check.
cmd='echo "$$" >"'$T_DIR'/sh.$PIPELINE_ID.$PIPELINE_VERSION"
if [ "$PIPELINE_VERSION" = 1 ]; then
    sleep 300 &
    echo "$!" >"'$T_DIR'/gc.$PIPELINE_ID.$PIPELINE_VERSION"
    echo partial >"$PIPELINE_OUT"
    sleep 300
fi
echo "v$PIPELINE_VERSION" >"$PIPELINE_OUT"'

b_spec "$P" 5 1
b_spec "$P" 6 1
b_builder builder --pipelines "$P" --out "$OUT" --worker-id 0 --jobs 2 \
    --build-cmd "$cmd"
t_wait 10 [ -s "$T_DIR/gc.5.1" -a -s "$T_DIR/gc.6.1" ] ||
    t_fail "the slow builds did not start"
t_check "5@1 is marked as building" [ -f "$OUT/building/5@1.json" ]
t_check "the marker names the pipeline" \
    [ "$(jq -r .pipeline_id "$OUT/building/5@1.json")" = 5 ]

b_spec "$P" 5 2
b_wait_ready 5 "$OUT" 5 2
t_check "5@2 is the new version's binary" [ "$(cat "$OUT/artifacts/5@2")" = v2 ]
t_check "the overtaken shell is dead" t_wait 3 b_dead "$(cat "$T_DIR/sh.5.1")"
t_check "its grandchild is dead too" \
    t_wait 3 b_dead "$(cat "$T_DIR/gc.5.1")"
t_check "nothing published for 5@1" \
    [ ! -e "$OUT/ready/5@1.json" -a ! -e "$OUT/artifacts/5@1" ]
t_check "no marker for 5@1" [ ! -e "$OUT/building/5@1.json" ]
t_check "the cancel was logged" \
    grep -q 'msg="build cancelled" pipeline=5 version=1' "$T_DIR/builder.log"

# Removed as drop-ins are: renamed away under a dot name, then deleted.
mv "$P/6" "$P/.trash-6"
rm -rf "$P/.trash-6"
t_check "the removed pipeline's shell is dead" \
    t_wait 3 b_dead "$(cat "$T_DIR/sh.6.1")"
t_check "its grandchild is dead too" t_wait 3 b_dead "$(cat "$T_DIR/gc.6.1")"
t_check "no marker left" t_wait 3 b_empty "$OUT/building"
t_check "no scratch dir left" t_wait 3 b_no_scratch "$OUT"
t_check "nothing published for 6" [ -z "$(ls "$OUT/ready" | grep '^6@')" ]
t_check "exactly one result in ready/" [ "$(ls "$OUT/ready")" = "5@2.json" ]
t_check "no partial artifact under a final name" \
    [ "$(ls "$OUT/artifacts")" = "5@2" ]
