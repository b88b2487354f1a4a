#!/usr/bin/env bash
# A pipeline.json with junk after a valid object is a compile_error at
# the version it names; fixed at that same version, it is built, and
# the leader's status goes from compile_error to success.  The same
# holds when the builder is restarted in between (the report then is
# in done/, acknowledged by the leader), and a file still bad after a
# restart is neither reported again nor built.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_invalid_fixed

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
port=$(t_port)
L=http://127.0.0.1:$port
t_sidecar leader "$port" --watch "$OUT" --worker-id 0 --store "$T_DIR/store" \
    --token-file "$T_DIR/token"
junk() {
    mkdir -p "$P/$1"
    printf '{"version": %s} x\n' "$2" >"$P/$1/.pipeline.json"
    mv "$P/$1/.pipeline.json" "$P/$1/pipeline.json"
}
cmd='echo "built $PIPELINE_ID" >"$PIPELINE_OUT"'
for id in 5 6 7; do junk $id 1; done
b_builder first --pipelines "$P" --out "$OUT" --worker-id 0 --build-cmd "$cmd"

for id in 5 6 7; do
    t_check "$id is a compile_error at the leader" \
        t_wait 15 t_state_is "$L" $id compile_error
done
says_why() {
    curl -s "$L/v1/status/5" | jq -r .message | grep -q '^invalid pipeline.json: '
}
t_check "its message says why" says_why

b_spec "$P" 5 1
t_check "5 fixed at version 1 is built: success" \
    t_wait 15 t_state_is "$L" 5 success
t_check "at version 1" [ "$(curl -s "$L/v1/status/5" | jq .version)" = 1 ]
t_check "the binary is the build's" \
    [ "$(curl -s "$L/v1/binaries/5/1")" = "built 5" ]
t_check "the builder said so" \
    grep -q 'msg="pipeline.json is valid again" pipeline=5 version=1' \
    "$T_DIR/first.log"

acked() { [ -f "$OUT/done/$1@1.json" ]; }
t_check "6's report was acknowledged into done/" t_wait 10 acked 6
kill -TERM "$PID_first"
wait "$PID_first"
b_spec "$P" 6 1
b_builder second --pipelines "$P" --out "$OUT" --worker-id 0 --build-cmd "$cmd"
t_check "after a restart, 6 fixed at version 1 is built: success" \
    t_wait 15 t_state_is "$L" 6 success
t_check "the binary is the build's" \
    [ "$(curl -s "$L/v1/binaries/6/1")" = "built 6" ]
sleep 2
t_check "7, still bad, was reported once and never built" \
    [ "$(cat "$T_DIR/first.log" "$T_DIR/second.log" |
        grep -c 'msg="published" pipeline=7 ')" = 1 ]
t_check "7 is still a compile_error" t_state_is "$L" 7 compile_error
t_check "5 was not built again by the second builder" \
    [ "$(grep -c 'msg="build started" pipeline=5 ' "$T_DIR/second.log")" = 0 ]
