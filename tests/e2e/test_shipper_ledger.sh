#!/usr/bin/env bash
# The ledger (OUT/done/) keeps a restarted sidecar from shipping again
# what the leader acknowledged; it is only a cache, since the leader
# answers an identical re-upload with 200.  Acknowledged artifacts leave
# the volume, but for the newest --keep-uploaded.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_ledger

ship_ports LP WP
ship_leader "$LP"
out=$T_DIR/out1
ship_worker w1 "$WP" "$T_LEADER"
for id in 41 42 43; do
    ship_random "$T_DIR/$id.bin" 1
    t_publish "$out" $id 1 "$T_DIR/$id.bin"
done
recorded() { test -f "$out/done/$1@1.json" -a ! -e "$out/ready/$1@1.json"; }
for id in 41 42 43; do
    t_check "$id recorded in the ledger" t_wait 10 recorded $id
    t_check "$id installed" t_state_is "$T_LEADER" $id success
done
t_check "acknowledged artifacts removed (--keep-uploaded 0)" \
    t_wait 5 test -z "$(ls -A "$out/artifacts")"

t_log "restart"
kill -TERM "$PID_w1"
wait "$PID_w1" || t_fail "the sidecar did not exit 0 on SIGTERM"
ship_worker w2 "$WP" "$T_LEADER" --keep-uploaded 2
sleep 1.5
t_check "the restarted sidecar found nothing to ship" \
    grep -q 'msg="rescanned" why="start" results=0 ' "$T_DIR/w2.log"
t_check "and shipped nothing again" \
    ship_not grep -q 'msg="binary shipped"' "$T_DIR/w2.log"
t_check "three installs in all" ship_metric_test "$T_LEADER" \
    'binrelay_installs_total{result="created"}' -eq 3
t_check "none identical: nothing was uploaded twice" ship_metric_test \
    "$T_LEADER" 'binrelay_installs_total{result="identical"}' -eq 0

t_log "a lost record: shipped again, answered 200, recorded"
for id in 44 45 46 47; do
    ship_random "$T_DIR/$id.bin" 1
    t_publish "$out" $id 1 "$T_DIR/$id.bin"
    t_check "$id recorded" t_wait 10 recorded $id
done
mv "$out/done/47@1.json" "$out/tmp/.lost"
mv "$out/tmp/.lost" "$out/ready/47@1.json"
t_check "47 recorded again" t_wait 10 recorded 47
t_check "the leader answered 200" \
    grep -q 'msg="binary shipped" pipeline=47 version=1 code=200' \
    "$T_DIR/w2.log"
t_check "one identical upload" ship_metric_test "$T_LEADER" \
    'binrelay_installs_total{result="identical"}' -eq 1
t_check "47 installed once" test "$(ship_installs 47)" -eq 1
t_check "the newest two artifacts kept (--keep-uploaded 2)" \
    test "$(ls "$out/artifacts" | tr '\n' ' ')" = "46@1 47@1 "

t_log "restart with --keep-uploaded 1"
kill -TERM "$PID_w2"
wait "$PID_w2" || t_fail "the sidecar did not exit 0 on SIGTERM"
ship_worker w3 "$WP" "$T_LEADER" --keep-uploaded 1
t_check "the older one removed at start" \
    test "$(ls "$out/artifacts" | tr '\n' ' ')" = "47@1 "
exit 0
