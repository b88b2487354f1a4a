#!/usr/bin/env bash
# SIGTERM and SIGINT: the builder stops promptly with status 0.  The
# running build's process group is stopped, nothing of it is
# published, and its building/ marker is removed.  A build that ignores
# SIGTERM is killed once --stop-timeout has passed.
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

# A build that ignores SIGTERM, grandchild included.
cmd='trap "" TERM
sh -c "trap \"\" TERM; sleep 300" &
echo "$!" >"'$T_DIR'/gc.$PIPELINE_ID"
sleep 300'
b_spec "$P" 3 1
b_builder b3 --pipelines "$P" --out "$OUT" --worker-id 0 --stop-timeout 1 \
    --build-cmd "$cmd"
t_wait 10 [ -s "$T_DIR/gc.3" ] || t_fail "the build did not start"
sleep 0.2
gc=$(cat "$T_DIR/gc.3")
start=$(date +%s%N)
kill -TERM "$T_PID"
sleep 0.5
t_check "the builder waits for a build that ignores SIGTERM" kill -0 "$T_PID"
t_check "which is still alive" kill -0 "$gc"
wait "$T_PID"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
t_check "exit status 0 (got $rc)" [ "$rc" = 0 ]
t_check "SIGKILL came after the 1 s stop timeout ($ms ms)" \
    [ "$ms" -ge 900 -a "$ms" -lt 3000 ]
t_check "the build's grandchild is gone" t_wait 2 b_dead "$gc"
t_check "nothing published" [ -z "$(ls "$OUT/ready")" ]
t_check "the marker was removed" b_empty "$OUT/building"
