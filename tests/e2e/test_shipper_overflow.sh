#!/usr/bin/env bash
# More results are published while the worker's sidecar is frozen
# (SIGSTOP) than its inotify queue holds, so events are lost and the
# queue overflows.  After SIGCONT the sidecar rescans, and every result
# is installed at the leader exactly once.
#
# To stay quick, the queue is made small (as root) for the sidecar's
# inotify instance only: the kernel copies max_queued_events when the
# instance is created, and the setting is restored right after.
#
#   SHIP_OVERFLOW_QUEUE=N|keep  queue size to give the sidecar (1024)
#   SHIP_OVERFLOW_COUNT=N       results to publish (queue size + 25%)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_overflow${SHIP_OVERFLOW_COUNT:+_$SHIP_OVERFLOW_COUNT}
ship_require_tools ship_publish

knob=/proc/sys/fs/inotify/max_queued_events
saved=$(cat $knob)
queue=${SHIP_OVERFLOW_QUEUE:-1024}
if [ "$queue" = keep ]; then
    queue=$saved
elif ! { [ "$(id -u)" -eq 0 ] && [ -w $knob ]; }; then
    t_skip "needs root to lower $knob (the full-size case is" \
        "tests/faults/test_shipper_overflow_20k.sh)"
fi
count=${SHIP_OVERFLOW_COUNT:-$((queue + queue / 4))}
[ "$count" -gt "$queue" ] || t_fail "$count results cannot overflow $queue"
t_log "queue=$queue publishing $count"

restore() { [ "$(cat $knob)" = "$saved" ] || echo "$saved" >$knob; }
trap 'restore; t_cleanup' EXIT

ship_ports LP WP
ship_leader "$LP"
[ "$queue" = "$saved" ] || echo "$queue" >$knob
ship_worker w "$WP" "$T_LEADER" --upload-concurrency 8
restore

kill -STOP "$PID_w"
"$SHIP_TOOLS/ship_publish" "$T_DIR/out1" 1 "$count" ||
    t_fail "cannot publish"
t_log "published $count while stopped"
kill -CONT "$PID_w"

created='binrelay_installs_total{result="created"}'
t_check "all $count installed" \
    t_wait 240 ship_metric_test "$T_LEADER" "$created" -ge "$count"
t_check "the sidecar saw the overflow" \
    grep -q 'msg="rescanned" why="inotify queue overflow"' "$T_DIR/w.log"
t_check "none installed twice" \
    ship_metric_test "$T_LEADER" "$created" -eq "$count"
t_check "the worker's queue is empty" t_wait 10 ship_metric_test \
    "http://127.0.0.1:$WP" binrelay_upload_queue_depth -eq 0
t_check "a rescan counted" test "$(ship_metric "http://127.0.0.1:$WP" \
    binrelay_rescans_total)" -ge 2
t_check "every manifest moved to done/" \
    test "$(find "$T_DIR/out1/ready" -name '*.json' | wc -l)" -eq 0
t_check "every artifact removed" \
    test "$(find "$T_DIR/out1/artifacts" -type f | wc -l)" -eq 0
for id in 1 $((count / 2)) $count; do
    t_check "result $id is a success" t_state_is "$T_LEADER" "$id" success
done
exit 0
