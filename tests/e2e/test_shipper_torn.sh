#!/usr/bin/env bash
# Only a manifest renamed into ready/ starts an upload.  A manifest
# written in place under a dot name, a manifest not yet renamed to its
# final name, and an artifact still being written are never uploaded,
# not even by the periodic rescan; once renamed, each is shipped whole.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_torn

ship_ports LP WP
ship_leader "$LP"
ship_worker w "$WP" "$T_LEADER" --reconcile-interval 1
out=$T_DIR/out1
manifest() {
    printf '{"pipeline_id":"%s","version":1,"state":"success",%s}\n' \
        "$1" "\"artifact\":\"artifacts/$1@1\",\"log\":\"\""
}

# A complete artifact whose manifest is written in place, dot-named.
ship_random "$T_DIR/a.bin" 1
cp "$T_DIR/a.bin" "$out/artifacts/51@1"
manifest 51 >"$out/ready/.51@1.json"
# A manifest written in ready/ under a temporary name.
ship_random "$T_DIR/b.bin" 1
cp "$T_DIR/b.bin" "$out/artifacts/52@1"
manifest 52 >"$out/ready/52@1.json.tmp"
# An artifact still being written, in the artifacts/ folder itself.
head -c 300000 /dev/urandom >"$T_DIR/c.bin"
head -c 100000 "$T_DIR/c.bin" >"$out/artifacts/53@1"

sleep 2.5
t_check "two reconcile scans have run" \
    test "$(grep -c 'msg="rescanned" why="reconcile"' "$T_DIR/w.log")" -ge 2
for id in 51 52 53; do
    t_check "$id not uploaded" test "$(t_status "$T_LEADER" $id)" = none
done
t_check "no upload attempt at all" ship_metric_test "$T_LEADER" \
    binrelay_install_bytes_total -eq 0
t_check "the worker ignores them" \
    test "$(curl -s "http://127.0.0.1:$WP/v1/status" | jq '.pipelines|length')" -eq 0

tail -c +100001 "$T_DIR/c.bin" >>"$out/artifacts/53@1"
mv "$out/ready/52@1.json.tmp" "$out/ready/52@1.json"
manifest 53 >"$out/tmp/.m53"
mv "$out/tmp/.m53" "$out/ready/53@1.json"
for id in 52 53; do
    t_check "$id installed once renamed" \
        t_wait 10 t_state_is "$T_LEADER" $id success
    t_check "$id installed once" test "$(ship_installs $id)" -eq 1
done
t_check "52 whole" test "$(ship_leader_hash 52 1)" = "$(ship_hash "$T_DIR/b.bin")"
t_check "53 whole" test "$(ship_leader_hash 53 1)" = "$(ship_hash "$T_DIR/c.bin")"
t_check "51 still not uploaded" test "$(t_status "$T_LEADER" 51)" = none
exit 0
