#!/usr/bin/env bash
# Decimal ids are integers of any size up to 36 digits, hashed as the
# integer itself: ids past 2^63 and 2^64 are built by the worker their
# value modulo N names (worked out here digit by digit, apart from the
# C code), shipped and shown by the leader.  "007" and "7" are two
# pipelines on the same worker; 37 digits, a sign or a space make a bad
# name that is reported and never built.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_big_ids

P=$T_DIR/pipelines
mkdir -p "$P"
ids="9223372036854775808 18446744073709551616 99999999999999999999999
123456789012345678901234567890123456 007 7"
bad=(1234567890123456789012345678901234567 +5 "5 ")
for id in $ids; do t_pipeline "$P" "$id" 1; done
for id in "${bad[@]}"; do t_pipeline "$P" "$id" 1; done
port=$(t_port 3)
t_fleet 3 "$port" "$P"

finished() {
    local id
    for id in $ids; do t_state_is "$T_LEADER" "$id" success || return 1; done
}
t_check "every big id was built and installed" t_wait 60 finished

for id in $ids; do
    owner=$(b_worker "$id" 3)
    t_check "$id was reported by worker $owner" \
        [ "$(curl -s "$T_LEADER/v1/status/$id" | jq -r .worker_id)" = "$owner" ]
    t_check "$id was built by worker $owner alone" \
        [ "$(ls "$T_DIR"/out*/done "$T_DIR"/out*/ready 2>/dev/null |
            grep -c "^$id@1.json$")" = 1 ]
done
sum() { curl -s "$T_LEADER/v1/status/$1" | jq -r .xxh128; }
t_check "007 and 7 are two pipelines, two binaries" [ "$(sum 007)" != "$(sum 7)" ]
t_check "both on worker 1 (7 = 2 * 3 + 1)" \
    [ "$(b_worker 007 3) $(b_worker 7 3)" = "1 1" ]
for id in "${bad[@]}"; do
    t_check "'$id' is reported as a bad name" \
        grep -qF "msg=\"bad pipeline: not a valid id, never built\" name=\"$id\"" \
        "$T_DIR/builder0.log"
done
t_check "nothing else was published" \
    [ "$(cat "$T_DIR"/out*/ready/*.json "$T_DIR"/out*/done/*.json \
        2>/dev/null | jq -r .pipeline_id | sort -u | wc -l)" = 6 ]
