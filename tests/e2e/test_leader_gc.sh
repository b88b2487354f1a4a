#!/usr/bin/env bash
# The store keeps the newest --keep-versions binaries of each pipeline
# and removes older ones once a newer status is durable; a restart with
# a smaller --keep-versions trims to it.  A binary of the same version
# with other content replaces the old one without ever overwriting it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_gc

PORT=$(l_port)
l_leader leader "$PORT" --keep-versions 3
for v in 1 2 3 4 5; do
    l_file "$T_DIR/v$v" 16
    l_expect "version $v" 201 l_put 9 "$v" "$T_DIR/v$v"
done
l_file "$T_DIR/other" 16
l_expect "another pipeline" 201 l_put 10 1 "$T_DIR/other"

kept() { ls "$T_DIR/store/binaries" | sed -n 's/^9@\([0-9]*\)\..*/\1/p' |
    sort -n | tr '\n' ' '; }
t_check "versions 3, 4, 5 are kept ($(kept))" [ "$(kept)" = "3 4 5 " ]
l_expect "version 2 is gone" 404 l_curl "$L_URL/v1/binaries/9/2"
l_expect "version 3 is served" 200 l_curl "$L_URL/v1/binaries/9/3"
t_check "intact" cmp -s "$T_DIR/body" "$T_DIR/v3"
t_check "the other pipeline is untouched" \
    [ -f "$(l_binary_path 10 1 "$(l_hash "$T_DIR/other")")" ]

l_file "$T_DIR/v5b" 16
l_expect "version 5 again, other bytes" 201 l_put 9 5 "$T_DIR/v5b"
t_check "still 3, 4, 5 ($(kept))" [ "$(kept)" = "3 4 5 " ]
t_check "the old version 5 is gone" \
    [ ! -e "$(l_binary_path 9 5 "$(l_hash "$T_DIR/v5")")" ]
l_expect "latest serves the new bytes" 200 l_curl \
    "$L_URL/v1/binaries/9/latest"
t_check "intact" cmp -s "$T_DIR/body" "$T_DIR/v5b"

kill -TERM "$PID_leader"
wait "$PID_leader"
l_leader leader "$PORT" --keep-versions 1
t_check "after a restart with --keep-versions 1: only 5 ($(kept))" \
    [ "$(kept)" = "5 " ]
l_expect "version 4 is gone" 404 l_curl "$L_URL/v1/binaries/9/4"
t_check "the store is consistent" l_store_ok
kill -KILL "$PID_leader"
wait "$PID_leader" 2>/dev/null
l_leader leader "$PORT" --keep-versions 1
t_check "and stays so after another restart ($(kept))" [ "$(kept)" = "5 " ]
l_expect "latest is still served" 200 l_curl "$L_URL/v1/binaries/9/latest"
