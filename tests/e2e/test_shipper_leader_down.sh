#!/usr/bin/env bash
# The leader is down for 20 seconds while a worker has results to ship:
# a binary and a compile error.  The worker retries with growing delays
# and both reach the leader once it is back.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_leader_down

ship_ports LP WP
T_LEADER=http://127.0.0.1:$LP
# 120 ms doubling: attempts near 0.1, 0.4, 0.8, 1.8, 3.7, 7.6, 15 and
# 31 s, so the one after the leader's return comes within seconds.
ship_worker w "$WP" "$T_LEADER" --upload-retry-delay-ms 120
ship_random "$T_DIR/a.bin" 3
t_publish "$T_DIR/out1" 11 1 "$T_DIR/a.bin"
mkdir -p "$T_DIR/out1/tmp"
printf '{"pipeline_id":"12","version":2,"state":"compile_error",%s}\n' \
    '"log":"main.c:1: error: expected ;"' >"$T_DIR/out1/tmp/.m12"
mv "$T_DIR/out1/tmp/.m12" "$T_DIR/out1/ready/12@2.json"

sleep 20
t_check "the worker kept the binary waiting" \
    ship_own_state_is "http://127.0.0.1:$WP" 11 uploading
retries=$(ship_metric "http://127.0.0.1:$WP" \
    'binrelay_uploads_total{result="retry"}')
t_log "retries while the leader was down: $retries"
# Two results, each with about 7 attempts in 20 s: backoff, not a storm.
t_check "it retried with backoff" test "$retries" -ge 8 -a "$retries" -le 20

ship_leader "$LP"
t_log "leader up"
t_check "the binary is installed" t_wait 30 t_state_is "$T_LEADER" 11 success
t_check "the compile error is reported" \
    t_wait 30 t_state_is "$T_LEADER" 12 compile_error
t_check "with its log" test "$(curl -s "$T_LEADER/v1/status/12" |
    jq -r .message)" = "main.c:1: error: expected ;"
t_check "the binary is intact" \
    test "$(ship_leader_hash 11 1)" = "$(ship_hash "$T_DIR/a.bin")"
t_check "both recorded in the ledger" t_wait 5 test -f \
    "$T_DIR/out1/done/11@1.json" -a -f "$T_DIR/out1/done/12@2.json"
exit 0
