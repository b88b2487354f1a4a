#!/usr/bin/env bash
# A proxy between worker and leader flips one bit of the upload body.
# Once: the leader refuses it (422), the worker hashes again and retries,
# and the leader ends with the intact binary.  Always: the retries stay
# within --upload-retries, back off, and end as system_error with a
# "Failed to upload binary" reason, at the leader and on the worker.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_corrupt
ship_require_tools ship_proxy

ship_ports LP PP WP
ship_leader "$LP"

t_log "corrupt once"
ship_proxy proxy1 "$PP" "$LP" --corrupt once
ship_worker w1 "$WP" "http://127.0.0.1:$PP"
ship_random "$T_DIR/a.bin" 5
t_publish "$T_DIR/out1" 1 1 "$T_DIR/a.bin"
t_check "result 1 installed" t_wait 20 t_state_is "$T_LEADER" 1 success
t_check "the proxy corrupted exactly one upload" \
    test "$(grep -c '^corrupted' "$T_DIR/proxy1.log")" -eq 1
t_check "the leader refused it with 422" \
    test "$(ship_refusals 1 422)" -eq 1
t_check "the installed binary is intact" \
    test "$(ship_leader_hash 1 1)" = "$(ship_hash "$T_DIR/a.bin")"
t_check "installed once" test "$(ship_installs 1)" -eq 1
t_check "one retry counted" test "$(ship_metric "http://127.0.0.1:$WP" \
    'binrelay_uploads_total{result="retry"}')" -eq 1
kill "$PID_w1" "$PID_proxy1"
wait "$PID_w1"

t_log "corrupt always"
ship_ports PP
ship_proxy proxy2 "$PP" "$LP" --corrupt always
ship_worker w2 "$WP" "http://127.0.0.1:$PP" --upload-retries 3
ship_random "$T_DIR/b.bin" 1
start=$(date +%s%N)
t_publish "$T_DIR/out1" 2 1 "$T_DIR/b.bin"
t_check "result 2 is a system_error at the leader" \
    t_wait 30 t_state_is "$T_LEADER" 2 system_error
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
msg=$(curl -s "$T_LEADER/v1/status/2" | jq -r .message)
t_log "leader message: $msg"
t_check "the leader's message says why" \
    grep -q '^Failed to upload binary 2@1: leader answered 422' <<<"$msg"
t_check "the worker's own status says so too" \
    t_wait 5 ship_own_state_is "http://127.0.0.1:$WP" 2 system_error
t_check "with the reason" grep -q '^Failed to upload binary 2@1: .*422' \
    <<<"$(ship_message "http://127.0.0.1:$WP" 2)"
sleep 1
t_check "exactly 4 attempts (1 + 3 retries) reached the leader" \
    test "$(ship_refusals 2 422)" -eq 4
t_check "the proxy corrupted those 4 and no report" \
    test "$(grep -c '^corrupted' "$T_DIR/proxy2.log")" -eq 4
# Delays of 100, 200 and 400 ms, each at least 75% of itself.
t_check "the retries backed off (${elapsed_ms} ms >= 525)" \
    test "$elapsed_ms" -ge 525
t_check "nothing partial left in the store" \
    test -z "$(find "$T_DIR/store" -name '.tmp-*' -type f)"
t_check "failed upload counted" test "$(ship_metric "http://127.0.0.1:$WP" \
    'binrelay_uploads_total{result="failed"}')" -eq 1
exit 0
