#!/usr/bin/env bash
# Answers that no retry can change are final at once: a wrong token
# (401) is not retried, and neither is a full store (507, tested as
# root on a small tmpfs).  Each ends as system_error after exactly one
# attempt.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_final

ship_ports LP WP
ship_leader "$LP"

t_log "401: a worker with the wrong token"
printf 'not-the-token\n' >"$T_DIR/wrong"
t_sidecar w "$WP" --watch "$T_DIR/out1" --worker-id 1 --workers 2 \
    --leader "$T_LEADER" --token-file "$T_DIR/wrong" \
    --upload-retry-delay-ms 50 --upload-retries 5
ship_random "$T_DIR/a.bin" 1
t_publish "$T_DIR/out1" 31 1 "$T_DIR/a.bin"
t_check "it gives up" \
    t_wait 10 ship_own_state_is "http://127.0.0.1:$WP" 31 system_error
t_check "saying so" grep -q '^Failed to upload binary 31@1: .*401' \
    <<<"$(ship_message "http://127.0.0.1:$WP" 31)"
sleep 1
t_check "one upload reached the leader" test "$(ship_refusals 31 401)" -eq 1
# The upload, then the report of its failure (refused too, and final).
t_check "two requests refused for their token in all" \
    ship_metric_test "$T_LEADER" binrelay_auth_failures_total -eq 2
t_check "no retry" ship_metric_test "http://127.0.0.1:$WP" \
    'binrelay_uploads_total{result="retry"}' -eq 0
kill "$PID_w"
wait "$PID_w"

if [ "$(id -u)" -ne 0 ]; then
    t_log "507 part skipped: needs root to mount a small tmpfs"
    exit 0
fi
t_log "507: a leader whose store is full"
kill "$PID_leader"
wait "$PID_leader"
rm -rf "$T_DIR/store"
mkdir -p "$T_DIR/store"
mount -t tmpfs -o size=24m tmpfs "$T_DIR/store" ||
    t_skip "cannot mount a tmpfs"
trap 't_cleanup; umount "$T_DIR/store"' EXIT
ship_leader "$LP"
ship_worker w2 "$WP" "$T_LEADER" --upload-retry-delay-ms 50
# 30 MiB do not fit in 24.
ship_random "$T_DIR/b.bin" 30
t_publish "$T_DIR/out1" 32 1 "$T_DIR/b.bin"
t_check "the leader records the failure" \
    t_wait 10 t_state_is "$T_LEADER" 32 system_error
t_check "with the reason" grep -q '^Failed to upload binary 32@1: .*507' \
    <<<"$(curl -s "$T_LEADER/v1/status/32" | jq -r .message)"
t_check "the worker shows it too" \
    ship_own_state_is "http://127.0.0.1:$WP" 32 system_error
sleep 1
t_check "one attempt reached the leader" test "$(ship_refusals 32 507)" -eq 1
t_check "no retry" ship_metric_test "http://127.0.0.1:$WP" \
    'binrelay_uploads_total{result="retry"}' -eq 0
exit 0
