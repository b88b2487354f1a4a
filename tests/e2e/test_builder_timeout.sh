#!/usr/bin/env bash
# --build-timeout: a build past it is killed with its whole process
# group, a background grandchild included, and its result is a
# compile_error whose log says so after the build's own output.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_timeout

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
cmd='echo "compiling the slow one"
sleep 300 &
echo "$!" >"'$T_DIR'/gc.pid"
sleep 300'

b_spec "$P" 9 1
start=$(date +%s)
b_builder builder --pipelines "$P" --out "$OUT" --worker-id 0 \
    --build-timeout 2 --build-cmd "$cmd"
b_wait_ready 10 "$OUT" 9 1
took=$(($(date +%s) - start))

t_check "it took about the timeout ($took s)" [ "$took" -ge 2 -a "$took" -le 6 ]
t_check "the result is a compile_error" \
    [ "$(b_field "$OUT" 9 1 state)" = compile_error ]
t_check "the log says it timed out" \
    b_log_has "$OUT" 9 1 '^build timed out after 2 s$'
t_check "the log keeps the build's own output" \
    b_log_has "$OUT" 9 1 '^compiling the slow one$'
t_check "the grandchild is dead" t_wait 3 b_dead "$(cat "$T_DIR/gc.pid")"
t_check "no artifact" [ -z "$(ls "$OUT/artifacts")" ]
t_check "no marker left" [ -z "$(ls -A "$OUT/building")" ]
t_check "no scratch dir left" [ "$(b_scratch_dirs "$OUT")" = 0 ]
t_check "the timeout was logged" grep -q 'msg="build timed out"' \
    "$T_DIR/builder.log"
