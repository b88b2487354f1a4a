#!/usr/bin/env bash
# An artifact changes while it is being uploaded: rewritten in place,
# replaced by a rename, or published again with a new manifest.  The
# worker notices each time and ships it anew, so that the leader
# installs the final content, and only that.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_rewrite
ship_require_tools ship_proxy

ship_ports LP PP WP
ship_leader "$LP"
# Three uploads of 32 MiB sharing 24 MiB/s: about four seconds each.
ship_proxy proxy "$PP" "$LP" --rate $((24 * 1024 * 1024))
ship_worker w "$WP" "http://127.0.0.1:$PP" --upload-concurrency 3
for f in a a2 b b2 c c2; do ship_random "$T_DIR/$f.bin" 32; done
out=$T_DIR/out1
t_publish "$out" 1 1 "$T_DIR/a.bin"
t_publish "$out" 2 1 "$T_DIR/b.bin"
t_publish "$out" 3 1 "$T_DIR/c.bin"

t_check "the three uploads are under way" \
    t_wait 20 ship_active_is "http://127.0.0.1:$WP" 3
sleep 0.5
dd if="$T_DIR/a2.bin" of="$out/artifacts/1@1" conv=notrunc bs=1M \
    status=none
cp "$T_DIR/b2.bin" "$out/tmp/.b2"
mv "$out/tmp/.b2" "$out/artifacts/2@1"
t_publish "$out" 3 1 "$T_DIR/c2.bin"
t_log "rewrote 1 in place, replaced 2, published 3 again"

settled() {
    test -f "$out/done/1@1.json" -a -f "$out/done/2@1.json" \
        -a -f "$out/done/3@1.json" -a ! -e "$out/ready/3@1.json"
}
t_check "all three recorded by the worker" t_wait 40 settled
t_check "1 is the rewritten content" \
    test "$(ship_leader_hash 1 1)" = "$(ship_hash "$T_DIR/a2.bin")"
t_check "2 is the replacing file" \
    test "$(ship_leader_hash 2 1)" = "$(ship_hash "$T_DIR/b2.bin")"
t_check "3 is the content published again" \
    test "$(ship_leader_hash 3 1)" = "$(ship_hash "$T_DIR/c2.bin")"
# The check before the body's last byte keeps a stale file from ever
# being installed, even for a moment.
for id in 1 2 3; do
    t_check "$id is a success" t_state_is "$T_LEADER" $id success
    t_check "$id was installed once, with the final content" \
        test "$(ship_installs $id)" -eq 1
done
t_check "the changes were counted" ship_metric_test "http://127.0.0.1:$WP" \
    'binrelay_uploads_total{result="changed"}' -ge 2
exit 0
