#!/usr/bin/env bash
# SIGTERM and SIGINT: the builder stops promptly with status 0.  The
# running build's process group is stopped, nothing of it is
# published, and its building/ marker is removed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_sigterm

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
cmd='sleep 300 &
echo "$!" >"'$T_DIR'/gc.$PIPELINE_ID"
echo partial >"$PIPELINE_OUT"
sleep 300'

# stop_with SIGNAL ID: one builder, one slow build, one signal.
stop_with() {
    local sig=$1 id=$2 start rc gc
    b_spec "$P" "$id" 1
    b_builder "b$id" --pipelines "$P" --out "$OUT" --worker-id 0 \
        --build-cmd "$cmd"
    t_wait 10 [ -s "$T_DIR/gc.$id" ] || t_fail "the build did not start"
    t_check "$id@1 is marked as building" [ -f "$OUT/building/$id@1.json" ]
    gc=$(cat "$T_DIR/gc.$id")
    start=$(date +%s%N)
    kill -"$sig" "$T_PID"
    wait "$T_PID"
    rc=$?
    t_check "exit status 0 after SIG$sig (got $rc)" [ "$rc" = 0 ]
    t_check "stopped within 3 s" \
        [ $((($(date +%s%N) - start) / 1000000)) -lt 3000 ]
    t_check "the build's grandchild is gone" t_wait 2 b_dead "$gc"
    t_check "nothing published for $id" \
        [ ! -e "$OUT/ready/$id@1.json" -a ! -e "$OUT/artifacts/$id@1" ]
    t_check "the marker was removed" b_empty "$OUT/building"
    t_check "the scratch dir was removed" b_no_scratch "$OUT"
    rm -rf "$P/$id"
}

stop_with TERM 1
stop_with INT 2
