#!/usr/bin/env bash
# A busy leader's answers are retried as it asks: a 429 with Retry-After
# waits the seconds it names, not the (much shorter) retry delay; 5xx
# without it back off from --upload-retry-delay-ms.  A proxy started by
# the test gives those answers in the leader's place.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_retry_after
ship_require_tools ship_proxy

ship_ports LP PP WP
ship_leader "$LP"

t_log "429 with Retry-After: 2"
ship_proxy proxy1 "$PP" "$LP" --fail 1 --fail-code 429 --retry-after 2
ship_worker w1 "$WP" "http://127.0.0.1:$PP"
ship_random "$T_DIR/a.bin" 1
start=$(date +%s%N)
t_publish "$T_DIR/out1" 71 1 "$T_DIR/a.bin"
t_check "installed" t_wait 10 t_state_is "$T_LEADER" 71 success
ms=$((($(date +%s%N) - start) / 1000000))
t_log "installed after $ms ms"
t_check "refused once" test "$(grep -c '^refused' "$T_DIR/proxy1.log")" -eq 1
t_check "the retry waited the 2 s asked for" test "$ms" -ge 2000
t_check "and not much more" test "$ms" -lt 4000
kill "$PID_w1" "$PID_proxy1"
wait "$PID_w1"

t_log "503 three times, no Retry-After"
ship_ports PP
ship_proxy proxy2 "$PP" "$LP" --fail 3 --fail-code 503
ship_worker w2 "$WP" "http://127.0.0.1:$PP"
ship_random "$T_DIR/b.bin" 1
start=$(date +%s%N)
t_publish "$T_DIR/out1" 72 1 "$T_DIR/b.bin"
t_check "installed" t_wait 10 t_state_is "$T_LEADER" 72 success
ms=$((($(date +%s%N) - start) / 1000000))
t_log "installed after $ms ms"
t_check "refused three times" \
    test "$(grep -c '^refused' "$T_DIR/proxy2.log")" -eq 3
# 100, 200 and 400 ms, each within 25%.
t_check "after backing off (525 ms at least)" test "$ms" -ge 525
t_check "three retries counted" ship_metric_test "http://127.0.0.1:$WP" \
    'binrelay_uploads_total{result="retry"}' -eq 3
t_check "the binary is intact" \
    test "$(ship_leader_hash 72 1)" = "$(ship_hash "$T_DIR/b.bin")"
exit 0
