#!/usr/bin/env bash
# A build owns its working directory: whatever it does there (writing
# a file called log, removing log or pgid, emptying the directory) does
# not touch the builder's own files.  The manifest's log is what the
# build printed, and a builder SIGKILLed during such a build still
# leaves a process group record that the next builder finds.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_workdir

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
for id in 1 2 3 4 5; do b_spec "$P" $id 1; done
cmd='case $PIPELINE_ID in
1) echo "real output"; echo forged >log ;;
2) echo before; rm -f log; echo after ;;
3) { echo one; echo two; } >log 2>&1; echo three ;;
4) echo kept; rm -rf ./* ./.[!.]* pgid log ;;
5) rm -f pgid log; sleep 300 & echo $! >"'$T_DIR'/gc.pid"; sleep 300 ;;
esac
echo ok >"$PIPELINE_OUT"'

b_builder first --pipelines "$P" --out "$OUT" --worker-id 0 --jobs 5 \
    --build-cmd "$cmd"
for id in 1 2 3 4; do b_wait_ready 10 "$OUT" $id 1; done
log_is() { [ "$(b_field "$OUT" "$1" 1 log)" = "$2" ]; }
t_check "writing log in the cwd forges nothing" log_is 1 "real output"
t_check "removing log in the cwd loses nothing" log_is 2 $'before\nafter'
t_check "a build's own log file is its business" log_is 3 three
t_check "emptying the cwd loses nothing" log_is 4 kept
for id in 1 2 3 4; do
    t_check "$id@1 succeeded" [ "$(b_field "$OUT" $id 1 state)" = success ]
done

t_wait 5 [ -s "$T_DIR/gc.pid" ] || t_fail "build 5 did not start"
gc=$(cat "$T_DIR/gc.pid")
kill -KILL "$PID_first"
wait "$PID_first" 2>/dev/null
t_check "the grandchild outlived the builder" kill -0 "$gc"
b_builder second --pipelines "$P" --out "$OUT" --worker-id 0 \
    --build-cmd 'echo ok >"$PIPELINE_OUT"'
t_check "the next builder killed it, rm -f pgid notwithstanding" \
    t_wait 5 b_dead "$gc"
b_wait_ready 10 "$OUT" 5 1
t_check "the cleanup was logged" \
    grep -q 'msg="cleaned up after a previous builder" killed_groups=1' \
    "$T_DIR/second.log"
