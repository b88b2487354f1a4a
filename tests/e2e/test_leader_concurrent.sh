#!/usr/bin/env bash
# Uploads that race: eight identical uploads of one version end with one
# binary installed (one 201, the rest 200) and one consistent status;
# two different versions at once end with the newer one recorded,
# whichever finished first; a status report racing an upload of the
# same version never hides the success.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_concurrent

l_leader leader "$(l_port)"
l_file "$T_DIR/a" 8192
A=$(l_hash "$T_DIR/a")

race() {
    local i
    for i in 1 2 3 4 5 6 7 8; do
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -X PUT \
            -T "$T_DIR/a" -H "Authorization: Bearer $T_TOKEN" \
            -H "X-Content-Xxh128: $A" -H "X-Worker-Id: $i" \
            "$L_URL/v1/binaries/$1/$2" &
    done
    wait
}
codes=$(race 11 1 | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
t_log "eight identical uploads: $codes"
t_check "exactly one 201, seven 200" [ "$codes" = "200:7 201:1 " ]
t_check "one binary in the store" \
    [ "$(ls "$T_DIR/store/binaries")" = "11@1.$A" ]
t_check "its status is success with the hash" \
    [ "$(l_field 11 state) $(l_field 11 xxh128)" = "success $A" ]
t_check "the store is consistent" l_store_ok

l_file "$T_DIR/b" 8192
B=$(l_hash "$T_DIR/b")
l_put 12 2 "$T_DIR/b" >"$T_DIR/code2" &
p2=$!
l_put 12 1 "$T_DIR/a" >"$T_DIR/code1" &
wait "$p2" $!
t_log "v1 answered $(cat "$T_DIR/code1"), v2 $(cat "$T_DIR/code2")"
t_check "version 2 is installed" [ "$(cat "$T_DIR/code2")" = 201 ]
t_check "version 1 was installed first or refused as older" \
    grep -Eq '^(201|409)$' "$T_DIR/code1"
t_check "version 2 is what the status says" \
    [ "$(l_field 12 version) $(l_field 12 xxh128)" = "2 $B" ]

report() {
    curl -s -o /dev/null --max-time 10 -X PUT \
        -H "Authorization: Bearer $T_TOKEN" \
        -d '{"state":"uploading","worker_id":1,"message":"late"}' \
        "$L_URL/v1/status/13/1"
}
l_put 13 1 "$T_DIR/a" >/dev/null &
p1=$!
report &
p2=$!
report
wait "$p1" "$p2"
t_check "a late 'uploading' report does not hide the success" \
    [ "$(l_field 13 state)" = success ]
t_check "the store is consistent at the end" l_store_ok
