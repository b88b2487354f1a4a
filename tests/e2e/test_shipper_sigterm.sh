#!/usr/bin/env bash
# SIGTERM during an upload: the sidecar finishes it when it can within
# --shutdown-timeout, and otherwise abandons it when the bound passes
# (the result stays in ready/ for the next start).  Either way it exits
# 0, and nothing partial is installed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_sigterm
ship_require_tools ship_proxy

ship_ports LP PP WP
ship_leader "$LP"
ship_proxy proxy "$PP" "$LP" --rate $((10 * 1024 * 1024))

# exit_ms PID: waits for PID; sets rc to its status, ms to the wait.
exit_ms() {
    local start=$(date +%s%N)
    wait "$1"
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
}

t_log "an upload too long for the bound: abandoned"
ship_random "$T_DIR/big.bin" 100
t_sidecar w1 "$WP" --watch "$T_DIR/out1" --worker-id 1 --workers 2 \
    --leader "http://127.0.0.1:$PP" --token-file "$T_DIR/token" \
    --shutdown-timeout 2
t_publish "$T_DIR/out1" 61 1 "$T_DIR/big.bin"
t_check "the upload is under way" \
    t_wait 10 ship_active_is "http://127.0.0.1:$WP" 1
kill -TERM "$PID_w1"
exit_ms "$PID_w1"
t_log "exit $rc after $ms ms"
t_check "exit status 0" test "$rc" -eq 0
t_check "within the bound (2 s, plus a poll)" test "$ms" -le 3500
t_check "having waited for it first" test "$ms" -ge 1500
t_check "it says so" grep -q 'msg="upload abandoned at shutdown' \
    "$T_DIR/w1.log"
t_check "nothing installed" test "$(t_status "$T_LEADER" 61)" != success
t_check "the result waits in ready/" test -f "$T_DIR/out1/ready/61@1.json"

t_log "an upload that ends within the bound: finished"
ship_random "$T_DIR/small.bin" 15
t_sidecar w2 "$WP" --watch "$T_DIR/out2" --worker-id 1 --workers 2 \
    --leader "http://127.0.0.1:$PP" --token-file "$T_DIR/token" \
    --shutdown-timeout 20
t_publish "$T_DIR/out2" 62 1 "$T_DIR/small.bin"
t_check "the upload is under way" \
    t_wait 10 ship_active_is "http://127.0.0.1:$WP" 1
kill -TERM "$PID_w2"
exit_ms "$PID_w2"
t_log "exit $rc after $ms ms"
t_check "exit status 0" test "$rc" -eq 0
t_check "installed before exiting" t_state_is "$T_LEADER" 62 success
t_check "intact" \
    test "$(ship_leader_hash 62 1)" = "$(ship_hash "$T_DIR/small.bin")"
t_check "and recorded" test -f "$T_DIR/out2/done/62@1.json"
exit 0
