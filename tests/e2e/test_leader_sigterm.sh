#!/usr/bin/env bash
# SIGTERM on the leader: an upload it is receiving finishes and is
# installed; a new one is answered 503 (workers retry it once the leader
# is back); the leader then exits 0 with no temporary left behind.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_sigterm

l_leader leader "$(l_port)" --shutdown-timeout 20
l_file "$T_DIR/big" 3072
l_file "$T_DIR/small" 4
(l_put 1 1 "$T_DIR/big" --limit-rate 1M >"$T_DIR/code.big") &
up=$!
receiving() { [ -n "$(ls -A "$T_DIR/store/tmp")" ]; }
t_check "the slow upload is being received" t_wait 5 receiving
kill -TERM "$PID_leader"
sleep 0.5
l_expect "a new upload while draining" 503 l_put 2 1 "$T_DIR/small"
t_check "says why" grep -q 'shutting down' "$T_DIR/body"
wait "$up"
t_check "the upload under way was installed ($(cat "$T_DIR/code.big"))" \
    [ "$(cat "$T_DIR/code.big")" = 201 ]
wait "$PID_leader"
rc=$?
T_PIDS=()
t_check "the leader exited 0 ($rc)" [ "$rc" -eq 0 ]
t_check "no temporary is left" [ -z "$(ls -A "$T_DIR/store/tmp")" ]
t_check "the binary is whole" [ "$(l_hash "$(l_binary_path 1 1 \
    "$(l_hash "$T_DIR/big")")")" = "$(l_hash "$T_DIR/big")" ]
