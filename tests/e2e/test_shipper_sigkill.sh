#!/usr/bin/env bash
# The worker's sidecar is killed (SIGKILL) in the middle of a large,
# throttled upload and started again: the restarted sidecar ships the
# result again, and the leader installs it exactly once, intact, with
# state success.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_sigkill
ship_require_tools ship_proxy

ship_ports LP PP WP
ship_leader "$LP"
# 200 MiB at 40 MiB/s: five seconds in flight.
ship_proxy proxy "$PP" "$LP" --rate $((40 * 1024 * 1024))
ship_worker w1 "$WP" "http://127.0.0.1:$PP"
ship_random "$T_DIR/big.bin" 200
t_publish "$T_DIR/out1" 7 1 "$T_DIR/big.bin"

t_check "the upload is under way" \
    t_wait 20 ship_active_is "http://127.0.0.1:$WP" 1
sleep 1
kill -KILL "$PID_w1"
wait "$PID_w1" 2>/dev/null
t_log "worker killed mid-upload"
t_check "nothing installed: it was killed in the middle" \
    test "$(t_status "$T_LEADER" 7)" != success
t_check "the manifest is still in ready/" test -f "$T_DIR/out1/ready/7@1.json"

ship_worker w2 "$WP" "$T_LEADER"
t_check "installed after the restart" \
    t_wait 30 t_state_is "$T_LEADER" 7 success
t_check "the worker recorded it" t_wait 10 test -f "$T_DIR/out1/done/7@1.json"
t_check "installed exactly once (log)" test "$(ship_installs 7)" -eq 1
t_check "installed exactly once (metrics)" ship_metric_test "$T_LEADER" \
    'binrelay_installs_total{result="created"}' -eq 1
t_check "the installed binary is intact" \
    test "$(ship_leader_hash 7 1)" = "$(ship_hash "$T_DIR/big.bin")"
# The torn upload's temporary at the leader is not checked for: the
# leader drops it when it notices the vanished client, which takes its
# connection timeout (60 s).
exit 0
