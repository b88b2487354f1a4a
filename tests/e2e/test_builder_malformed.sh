#!/usr/bin/env bash
# Bad pipelines never crash the builder and are never built.  Each is
# logged once, however often the directory is rescanned, and again
# only when what is wrong with it changes.  A directory whose name is
# no id is reported by worker 0 alone, its bytes that are no UTF-8 as
# \xNN; names starting with '.' are not pipelines at all.  A
# pipeline.json that still names a positive version (junk after its
# object) gets a compile_error under it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_malformed

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
bad() { mkdir -p "$P/$1"; printf '%s\n' "$2" >"$P/$1/pipeline.json"; }
bad 20 '{"version": 1,'
bad 21 '{"name": "no version"}'
bad 22 '{"version": 0}'
bad 23 '{"version": "3"}'
bad 24 '{"version": 4} and then some junk'
bad 26 '[1, 2]'
mkdir -p "$P/27"
bad 'a b' '{"version": 1}'
bad 12a '{"version": 1}'
bad ..x '{"version": 1}'
bad $'\xff' '{"version": 1}'
bad $'caf\xc3\xa9' '{"version": 1}'
bad .hidden '{"version": 1}'
printf 'not a pipeline\n' >"$P/README.md"
b_spec "$P" 25 1

built=$T_DIR/built
cmd='echo "$PIPELINE_ID" >>"'$built'"; echo ok >"$PIPELINE_OUT"'
# Worker 0 and worker 1 of 2: a bad name is reported by worker 0 only.
b_builder w0 --pipelines "$P" --out "$T_DIR/out0" --worker-id 0 \
    --workers 2 --rescan-interval 1 --build-cmd "$cmd"
b_builder w1 --pipelines "$P" --out "$T_DIR/out1" --worker-id 1 \
    --workers 2 --rescan-interval 1 --build-cmd "$cmd"
b_wait_ready 10 "$T_DIR/out1" 25 1
b_wait_ready 10 "$T_DIR/out0" 24 4
# Long enough for the bad files to settle and several rescans to pass.
sleep 4

log0=$T_DIR/w0.log log1=$T_DIR/w1.log
once() { [ "$(cat "$log0" "$log1" | b_count /dev/stdin "$1")" = 1 ]; }
for id in 20 21 22 23 24 26 27; do
    t_check "pipeline $id was logged once" once "pipeline=$id reason="
done
t_check "'a b' was logged once" once 'name="a b"'
t_check "'12a' was logged once" once 'name="12a"'
t_check 'a byte that is no UTF-8 is logged as \xff' \
    grep -qF 'msg="bad pipeline: not a valid id, never built" name="\xff"' \
    "$log0"
t_check "UTF-8 is logged as it is" grep -qF $'name="caf\xc3\xa9"' "$log0"
t_check "no raw byte that is no UTF-8 in the logs" \
    [ "$(cat "$log0" "$log1" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 &&
        echo valid)" = valid ]
t_check "the reason is given" \
    grep -q 'pipeline=21 reason="pipeline.json has no \\"version\\""' "$log1"
t_check "dot names were never reported" \
    [ "$(cat "$log0" "$log1" | grep -cE 'name="\.')" = 0 ]
t_check "a plain file is no bad pipeline" \
    [ "$(cat "$log0" "$log1" | grep -c README)" = 0 ]
t_check "only the good pipeline was built" [ "$(cat "$built")" = 25 ]
t_check "24@4 is a compile_error" \
    [ "$(b_field "$T_DIR/out0" 24 4 state)" = compile_error ]
t_check "its log says why" \
    b_log_has "$T_DIR/out0" 24 4 '^invalid pipeline.json: '
t_check "no other result" \
    [ "$(ls "$T_DIR/out0/ready" "$T_DIR/out1/ready" | grep -c json)" = 2 ]
t_check "both builders are alive" kill -0 "$PID_w0" "$PID_w1"

# What is wrong changes: logged again.  Fixed: built.
bad 21 '{"version": -1}'
bad 20 '{"version": 1}'
b_wait_ready 5 "$T_DIR/out0" 20 1
logged_twice() { [ "$(b_count "$log1" 'pipeline=21 reason=')" = 2 ]; }
t_wait 5 logged_twice ||
    t_fail "a changed problem was not logged again"
t_check "the fixed one was logged as valid" \
    grep -q 'msg="pipeline.json is valid again" pipeline=20' "$log0"
