#!/usr/bin/env bash
# A representative run under Valgrind memcheck: a leader and a worker
# sidecar and both builders build, ship and install a few pipelines,
# including a compile error and a rejected upload, then stop on SIGTERM.
# Every daemon must end with no memory error and no leak.
. "$(dirname "$0")/../lib.sh"
t_init valgrind_fleet
command -v valgrind >/dev/null || t_skip "valgrind is not installed"
# Valgrind and AddressSanitizer each replace the allocator: not both.
grep -qa __asan_init "$BIN/sidecar" &&
    t_skip "the daemons are built with AddressSanitizer (make test-asan)"

VG=(valgrind --quiet --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
    --track-fds=no)
P=$T_DIR/pipelines
mkdir -p "$P"
port=$(t_port 2)
leader=http://127.0.0.1:$port

t_start leader "${VG[@]}" "$BIN/sidecar" --listen "127.0.0.1:$port" \
    --watch "$T_DIR/out0" --worker-id 0 --workers 2 --store "$T_DIR/store" \
    --token-file "$T_DIR/token" --pipelines "$P"
t_start worker "${VG[@]}" "$BIN/sidecar" --listen "127.0.0.1:$((port + 1))" \
    --watch "$T_DIR/out1" --worker-id 1 --workers 2 --leader "$leader" \
    --token-file "$T_DIR/token" --upload-retry-delay-ms 100
for k in 0 1; do
    t_start "builder$k" "${VG[@]}" "$BIN/builder" --pipelines "$P" \
        --out "$T_DIR/out$k" --worker-id "$k" --workers 2
done
t_wait 60 t_http_ok "$leader/healthz" || t_fail "leader did not start"

for id in 1 2 3 4; do
    t_pipeline "$P" "$id" 1
done
t_pipeline "$P" 5 1 'int main(void) { return missing; }'
for id in 1 2 3 4; do
    t_check "pipeline $id installed" t_wait 120 t_state_is "$leader" "$id" success
done
t_check "pipeline 5 failed to compile" \
    t_wait 60 t_state_is "$leader" 5 compile_error
curl -s -o /dev/null "$leader/v1/status" "$leader/metrics" \
    "$leader/cluster_healthz" "$leader/v1/binaries/1/latest"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary x \
    -H 'Authorization: Bearer wrong' "$leader/v1/binaries/9/1")
[ "$code" = 401 ] || t_fail "a wrong token got $code"

for name in builder0 builder1 worker leader; do
    pid_var=PID_$name
    kill -TERM "${!pid_var}"
    wait "${!pid_var}"
    rc=$?
    [ "$rc" -eq 0 ] || t_fail "$name exited $rc under valgrind (99: errors)"
    t_log "ok: $name clean under valgrind"
done
