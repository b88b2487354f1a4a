#!/usr/bin/env bash
# When a worker gives up on a result while the leader cannot be reached,
# its system_error report waits, retried, until the leader hears it;
# meanwhile the worker's own /v1/status shows it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_report_queued

ship_ports LP WP
T_LEADER=http://127.0.0.1:$LP
ship_worker w "$WP" "$T_LEADER" --upload-retries 1
ship_random "$T_DIR/a.bin" 1
t_publish "$T_DIR/out1" 81 1 "$T_DIR/a.bin"
t_check "the worker gives up" \
    t_wait 10 ship_own_state_is "http://127.0.0.1:$WP" 81 system_error
msg=$(ship_message "http://127.0.0.1:$WP" 81)
t_log "its reason: $msg"
t_check "saying why" grep -q '^Failed to upload binary 81@1: ' <<<"$msg"
sleep 2
ship_leader "$LP"
t_check "the leader hears it once back" \
    t_wait 15 t_state_is "$T_LEADER" 81 system_error
t_check "with the worker's reason" test "$(curl -s \
    "$T_LEADER/v1/status/81" | jq -r .message)" = "$msg"
t_check "from worker 1" test "$(curl -s "$T_LEADER/v1/status/81" |
    jq -r .worker_id)" = 1
exit 0
