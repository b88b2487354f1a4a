#!/usr/bin/env bash
# A builder SIGKILLed in the middle of a build, then started again:
# nothing partial was ever published, the next builder kills what the
# dead one left running and empties tmp/, does not rebuild versions
# already in ready/ or done/, and builds the interrupted one again.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_restart
cd "$T_DIR" || exit 1

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
touch "$T_DIR/slow-once"
# Pipeline 3 hangs the first time, after writing half its output, with
# a grandchild in the background; every run is counted in runs.
cmd='echo "$PIPELINE_ID" >>"'$T_DIR'/runs"
if [ "$PIPELINE_ID" = 3 ] && rm "'$T_DIR'/slow-once" 2>/dev/null; then
    sleep 300 &
    echo "$!" >"'$T_DIR'/gc.pid"
    echo partial >"$PIPELINE_OUT"
    sleep 300
fi
echo "built $PIPELINE_ID" >"$PIPELINE_OUT"'
for id in 1 2 3 4; do b_spec "$P" $id 1; done

b_builder first --pipelines "$P" --out "$OUT" --worker-id 0 --jobs 4 \
    --build-cmd "$cmd"
for id in 1 2 4; do b_wait_ready 10 "$OUT" $id 1; done
t_wait 5 [ -s "$T_DIR/gc.pid" ] || t_fail "the slow build did not start"
t_check "3@1 is marked as building" [ -f "$OUT/building/3@1.json" ]
# The sidecar moves acknowledged results to done/; that counts too.
mkdir -p "$OUT/done"
mv "$OUT/ready/2@1.json" "$OUT/done/"

kill -KILL "$PID_first"
wait "$PID_first" 2>/dev/null
gc=$(cat "$T_DIR/gc.pid")
t_check "the grandchild outlived the builder" kill -0 "$gc"
t_check "nothing published for 3" \
    [ ! -e "$OUT/ready/3@1.json" -a ! -e "$OUT/artifacts/3@1" ]
t_check "the dead builder left its scratch dir" \
    [ "$(b_scratch_dirs "$OUT")" = 1 ]

b_builder second --pipelines "$P" --out "$OUT" --worker-id 0 --jobs 4 \
    --build-cmd "$cmd"
b_wait_ready 10 "$OUT" 3 1
"$BIN/builder" --pipelines "$P" --out "$OUT" --worker-id 0 >third.log 2>&1
rc=$?
refused() { [ "$rc" = 2 ] && grep -q 'another builder is using' third.log; }
t_check "a second builder on the same OUT is refused (exit $rc)" refused
t_check "the leftover grandchild was killed" t_wait 3 b_dead "$gc"
t_check "3@1 is the complete binary" \
    [ "$(cat "$OUT/artifacts/3@1")" = "built 3" ]
t_check "3 ran twice, the others once" \
    [ "$(sort "$T_DIR/runs" | tr '\n' ' ')" = "1 2 3 3 4 " ]
t_check "the cleanup was logged" \
    grep -q 'msg="cleaned up after a previous builder" killed_groups=1' \
    "$T_DIR/second.log"
t_check "no marker left" t_wait 3 b_empty "$OUT/building"
t_check "no scratch dir left" b_no_scratch "$OUT"
t_check "no temporary under a final name" \
    [ -z "$(ls -A "$OUT/ready" "$OUT/artifacts" | grep '^\.')" ]
