#!/usr/bin/env bash
# Status reports and what the status shows.  PUT /v1/status takes any
# state that carries no binary, ignores fields it does not know, and
# says precisely what is wrong with a body it refuses; a report that
# ranks below what is recorded changes nothing, and the answer shows the
# entry as it stands.  An upload in flight shows as "uploading" with
# nothing of the version before it; an upload or report that names no
# worker is credited to the worker the assignment rule names.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_status

l_leader leader "$(l_port)" --workers 3
auth=(-H "Authorization: Bearer $T_TOKEN")
report() { # report ID VERSION JSON
    l_curl -X PUT "${auth[@]}" -d "$3" "$L_URL/v1/status/$1/$2"
}
rfc3339() { grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' <<<"$1"; }

l_expect "a pending report" 200 report 4 1 \
    '{"state":"pending","worker_id":1,"message":"queued"}'
t_check "answers with the entry" \
    [ "$(jq -r '.state + " " + .message' "$T_DIR/body")" = "pending queued" ]
l_expect "unknown fields are ignored" 200 report 4 1 \
    '{"state":"compiling","worker_id":1,"message":"","extra":[1,2]}'
l_expect "no message, no worker" 200 report 5 1 '{"state":"compiling"}'
t_check "the worker is the one id 5 belongs to (5 % 3)" \
    [ "$(l_field 5 worker_id) $(l_field 5 message)" = "2 " ]

l_expect "not JSON" 400 report 4 1 '{"state":"compiling"} x'
t_check "says so" grep -q 'not JSON' "$T_DIR/body"
l_expect "not an object" 400 report 4 1 '["compiling"]'
t_check "says so" grep -q 'object' "$T_DIR/body"
l_expect "success carries a binary" 400 report 4 1 '{"state":"success"}'
t_check "names the field" grep -q '\\"state\\"' "$T_DIR/body"
l_expect "a worker id in quotes" 400 report 4 1 \
    '{"state":"compiling","worker_id":"1"}'
t_check "names the field" grep -q 'worker_id' "$T_DIR/body"
l_expect "a message that is a number" 400 report 4 1 \
    '{"state":"compiling","message":7}'
t_check "names the field" grep -q 'message' "$T_DIR/body"
t_check "none of them changed anything" \
    [ "$(l_field 4 state)" = compiling ]

# An upload without X-Worker-Id, slowed down to be seen in flight.
l_file "$T_DIR/big" 4096
l_file "$T_DIR/a" 4
l_expect "version 1 of 8" 201 l_put 8 1 "$T_DIR/a"
l_expect "a compile error of version 2" 200 report 8 2 \
    '{"state":"compile_error","worker_id":2,"message":"boom"}'
curl -s -o /dev/null -X PUT -T "$T_DIR/big" --limit-rate 1M "${auth[@]}" \
    -H "X-Content-Xxh128: $(l_hash "$T_DIR/big")" \
    "$L_URL/v1/binaries/8/3" &
up=$!
uploading() { [ "$(l_field 8 state)" = uploading ]; }
t_check "the upload shows as uploading" t_wait 5 uploading
curl -s "$L_URL/v1/status/8" >"$T_DIR/entry"
t_check "of version 3, credited to worker 2 (8 % 3)" \
    [ "$(jq -r '"\(.version) \(.worker_id)"' "$T_DIR/entry")" = "3 2" ]
t_check "with no hash, size or message of an earlier version" \
    [ "$(jq -c '[.xxh128, .size, .message]' "$T_DIR/entry")" = \
      '[null,null,""]' ]
t_check "and the time it began" rfc3339 "$(jq -r .updated_at "$T_DIR/entry")"
wait "$up"
t_check "then success" [ "$(l_field 8 state) $(l_field 8 version)" = \
    "success 3" ]
t_check "still credited to worker 2" [ "$(l_field 8 worker_id)" = 2 ]

l_expect "a late system_error for the installed version" 200 report 8 3 \
    '{"state":"system_error","worker_id":2,"message":"Failed to upload"}'
t_check "is ignored, and the answer says success" \
    [ "$(jq -r .state "$T_DIR/body")" = success ]
t_check "the status still says success" [ "$(l_field 8 state)" = success ]
l_expect "an older version" 409 report 8 2 '{"state":"compiling"}'
t_check "every entry has the eight fields" \
    [ "$(curl -s "$L_URL/v1/status" | jq -c '[.pipelines[] | keys] | unique')" \
      = '[["message","pipeline_id","size","state","updated_at","version","worker_id","xxh128"]]' ]
t_check "the store is consistent" l_store_ok
