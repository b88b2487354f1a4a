#!/usr/bin/env bash
# A worker's shared volume fills up.
#
# The volume is a 4 MiB tmpfs that this test mounts.  A build whose output
# does not fit fails; the failure reaches the leader as a compile_error
# that says why, no partial file appears under a final name, and the
# worker goes on to build and ship what fits.
. "$(dirname "$0")/../lib.sh"
t_init fault_worker_disk_full
t_require_root

OUT=$T_DIR/out1
mkdir -p "$OUT"
mount -t tmpfs -o size=4m binrelay-test "$OUT" || t_skip "cannot mount tmpfs"
trap 't_cleanup; umount -l "$OUT"' EXIT

P=$T_DIR/pipelines
mkdir -p "$P"
port=$(t_port 2)
leader=http://127.0.0.1:$port
t_sidecar leader "$port" --watch "$T_DIR/out0" --worker-id 0 --workers 2 \
    --store "$T_DIR/store" --token-file "$T_DIR/token"
t_sidecar worker $((port + 1)) --watch "$OUT" --worker-id 1 --workers 2 \
    --leader "$leader" --token-file "$T_DIR/token"
# The build writes as many bytes as pipeline.json's "size" says.
t_start builder "$BIN/builder" --pipelines "$P" --out "$OUT" \
    --worker-id 1 --workers 2 --build-cmd \
    'head -c "$(jq .size "$PIPELINE_SRC/pipeline.json")" /dev/urandom >"$PIPELINE_OUT"'

drop() {
    mkdir -p "$P/.$1"
    printf '{"version": 1, "size": %s}\n' "$2" >"$P/.$1/pipeline.json"
    mv "$P/.$1" "$P/$1"
}
drop 11 6000000
t_check "the build that does not fit is a compile_error" \
    t_wait 30 t_state_is "$leader" 11 compile_error
msg=$(curl -s "$leader/v1/status/11" | jq -r .message)
grep -qi "no space" <<<"$msg" ||
    t_fail "the message does not say the volume is full: $msg"
t_check "no artifact under a final name" [ ! -e "$OUT/artifacts/11@1" ]

drop 13 100000
t_check "a build that fits still ships" \
    t_wait 30 t_state_is "$leader" 13 success
t_check "the worker is still healthy" \
    t_http_ok "http://127.0.0.1:$((port + 1))/healthz"
t_check "its scratch space was given back" \
    [ -z "$(ls -A "$OUT/tmp" 2>/dev/null)" ]
