#!/usr/bin/env bash
# SIGKILL at any point of an install leaves the store consistent: after
# a restart no temporary is left, every status that says success names
# a binary that is there with the recorded hash and size, and the status
# is the old one or the new one, never anything else.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_crash

PORT=$(l_port)
l_dead() { ! kill -0 "$1" 2>/dev/null; }
restart() {
    kill -KILL "$PID_leader" 2>/dev/null
    wait "$PID_leader" 2>/dev/null
    l_leader leader "$PORT"
}

l_leader leader "$PORT"
l_file "$T_DIR/v1" 256
l_expect "version 1 installed" 201 l_put 5 1 "$T_DIR/v1"
V1=$(l_hash "$T_DIR/v1")

# Mid-body: a 200 MiB upload at 20 MB/s is killed after a second.
head -c $((200 << 20)) /dev/urandom >"$T_DIR/v2"
V2=$(l_hash "$T_DIR/v2")
l_put 5 2 "$T_DIR/v2" --limit-rate 20M >/dev/null &
curl_pid=$!
t_check "the upload shows as uploading" \
    t_wait 5 t_state_is "$L_URL" 5 uploading
t_check "a temporary is being written" \
    t_wait 5 test -n "$(find "$T_DIR/store/tmp" -name '.tmp-*' -size +1M)"
restart
wait "$curl_pid"
t_check "after a kill mid-body: no temporary, status consistent" l_store_ok
t_check "and version 1 is still the one installed" \
    [ "$(l_field 5 version) $(l_field 5 state) $(l_field 5 xxh128)" = \
      "1 success $V1" ]
l_expect "version 1 is served" 200 l_curl "$L_URL/v1/binaries/5/latest"
t_check "intact" cmp -s "$T_DIR/body" "$T_DIR/v1"

# At named steps of the commit: after the fsync of the temporary, after
# its rename into place, after the status is written.  Before the status
# the old version stays; after it, the new one is complete.
v=2
for point in store-verified store-renamed store-recorded; do
    v=$((v + 1))
    kill -KILL "$PID_leader"
    wait "$PID_leader" 2>/dev/null
    export BINRELAY_CRASHPOINT=$point
    l_leader leader "$PORT"
    unset BINRELAY_CRASHPOINT
    l_file "$T_DIR/p" 512
    got=$(l_put 5 "$v" "$T_DIR/p")
    # curl reports the last code it saw: none, or "100 Continue".
    t_check "$point: the leader died without answering ($got)" \
        [ "$got" = 000 -o "$got" = 100 ]
    t_check "$point: it is dead" t_wait 2 l_dead "$PID_leader"
    restart
    t_check "$point: store consistent after the restart" l_store_ok
    want="1 $V1"
    [ "$point" = store-recorded ] && want="$v $(l_hash "$T_DIR/p")"
    t_check "$point: status is version ${want% *}" \
        [ "$(l_field 5 version) $(l_field 5 xxh128)" = "$want" ]
    [ "$point" = store-recorded ] && V1=$(l_hash "$T_DIR/p")
done
t_check "no binary is left that no status names" \
    [ "$(find "$T_DIR/store/binaries" -type f | wc -l)" -eq 2 ]

# Around the install: kills 12 to 120 ms into an upload that takes
# about that long, so that some land in the body and some in the commit
# (fsync, rename, status), each followed by the checks.
head -c $((24 << 20)) /dev/urandom >"$T_DIR/big"
for i in 1 2 3 4 5 6 7 8 9 10; do
    v=$((i + 5))
    h=$(l_hash "$T_DIR/big")
    l_curl -X PUT -T "$T_DIR/big" -H "Authorization: Bearer $T_TOKEN" \
        -H "X-Content-Xxh128: $h" "$L_URL/v1/binaries/5/$v" >/dev/null &
    curl_pid=$!
    delay=$(printf '0.%03d' $((i * 12)))
    sleep "$delay"
    restart
    wait "$curl_pid"
    t_check "kill $i (after $delay s): store consistent" l_store_ok
    got=$(l_field 5 version)
    [ "$(l_field 5 state)" = success ] || t_fail "kill $i: not success"
    case $got in
    "$v") [ "$(l_field 5 xxh128)" = "$h" ] ||
              t_fail "kill $i: new version with a wrong hash" ;;
    *) [ "$got" -lt "$v" ] || t_fail "kill $i: version $got" ;;
    esac
    t_log "kill $i: version $got"
    l_curl "$L_URL/v1/binaries/5/latest" >/dev/null
    [ "$(l_hash "$T_DIR/body")" = "$(l_field 5 xxh128)" ] ||
        t_fail "kill $i: latest is not the binary the status names"
    # Make the next version's bytes differ, so each is a new install.
    printf '%s' "$i" | dd of="$T_DIR/big" bs=1 seek=0 conv=notrunc 2>/dev/null
done

l_expect "an upload after all that" 201 l_put 5 99 "$T_DIR/v2"
t_check "finally the store holds it" l_store_ok
t_check "keeps at most two versions" \
    [ "$(find "$T_DIR/store/binaries" -type f | wc -l)" -le 2 ]
