#!/usr/bin/env bash
# Every answer the HTTP API gives to an upload, each provoked once against a
# real leader: 201, 200, 400, 401, 404, 405, 409, 411, 413, 422, 507.
# Refusals decided from the headers come before the body: a client that
# waits for "100 Continue" never sends it.  Reads of installed binaries
# carry an ETag and honour If-None-Match; /metrics counts it all.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_codes

# 1 MiB limit; 2^60 bytes fit under the size limit but on no disk.
l_leader leader "$(l_port)" --max-binary-bytes $((1 << 60)) \
    --log-level debug
l_file "$T_DIR/a" 64
l_file "$T_DIR/b" 64
A=$(l_hash "$T_DIR/a")
auth=(-H "Authorization: Bearer $T_TOKEN")

l_expect "a new binary is installed" 201 l_put 7 1 "$T_DIR/a"
t_check "status says success with its hash and size" \
    [ "$(l_field 7 state) $(l_field 7 xxh128) $(l_field 7 size)" = \
      "success $A 65536" ]
t_check "status names the worker" [ "$(l_field 7 worker_id)" = 0 ]
before=$(stat -c %Y.%i "$(l_binary_path 7 1 "$A")")
sleep 1
l_expect "the identical binary again" 200 l_put 7 1 "$T_DIR/a"
t_check "and nothing was rewritten" \
    [ "$(stat -c %Y.%i "$(l_binary_path 7 1 "$A")")" = "$before" ]
l_expect "the identical binary, body not waited for" 200 \
    l_put 7 1 "$T_DIR/a" -H 'Expect: 100-continue'

l_expect "a bad id" 400 l_put 7x 1 "$T_DIR/a"
l_expect "a bad version" 400 l_put 7 01 "$T_DIR/a"
l_expect "a bad hash header" 400 l_curl -X PUT -T "$T_DIR/a" "${auth[@]}" \
    -H "X-Content-Xxh128: ${A^^}" "$L_URL/v1/binaries/7/2"
l_expect "no token" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "X-Content-Xxh128: $A" "$L_URL/v1/binaries/7/2"
l_expect "a wrong token" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "Authorization: Bearer not-$T_TOKEN" -H "X-Content-Xxh128: $A" \
    "$L_URL/v1/binaries/7/2"
t_check "401 asks for a bearer token" \
    [ "$(l_header WWW-Authenticate)" = Bearer ]
l_expect "an unknown path" 404 l_curl "$L_URL/v1/nothing"
l_expect "a binary never installed" 404 \
    l_curl "$L_URL/v1/binaries/7/9"
l_expect "the status of an unknown pipeline" 404 \
    l_curl "$L_URL/v1/status/8"
l_expect "DELETE of a binary" 405 l_curl -X DELETE \
    "$L_URL/v1/binaries/7/1"
t_check "405 says what is allowed" \
    [ "$(l_header Allow)" = "GET, HEAD, PUT" ]

l_expect "version 2" 201 l_put 7 2 "$T_DIR/b"
l_expect "other bytes of version 1 after 2" 409 l_put 7 1 "$T_DIR/b"
l_expect "the identical version 1, still kept, after 2" 200 \
    l_put 7 1 "$T_DIR/a"
l_expect "no Content-Length (chunked)" 411 l_put 7 3 "$T_DIR/b" \
    -H 'Transfer-Encoding: chunked'

# 300 MiB from a pipe, announced by Content-Length: had curl sent any
# of it, size_upload would count it.
big() {
    head -c $((300 << 20)) /dev/zero |
        l_curl -X PUT -T - "${auth[@]}" -H "X-Content-Xxh128: $A" \
            -H "Content-Length: $1" -H 'Transfer-Encoding:' \
            -H 'Expect: 100-continue' \
            -w '%{http_code} %{size_upload}' "$L_URL/v1/binaries/7/3"
}
small_port=$(l_port)
t_sidecar small "$small_port" --watch "$T_DIR/out9" --worker-id 0 \
    --store "$T_DIR/store9" --token-file "$T_DIR/token" \
    --max-binary-bytes 1048576
main_url=$L_URL
L_URL=http://127.0.0.1:$small_port
start=$(date +%s%N)
l_expect "over the size limit" "413 0" big $((300 << 20))
ms=$((($(date +%s%N) - start) / 1000000))
t_check "413 came before the body (${ms} ms, 0 bytes sent)" [ "$ms" -lt 900 ]
L_URL=$main_url
l_expect "more than the disk holds" "507 0" big $((1 << 50))

l_expect "a hash that does not match the body" 422 l_curl -X PUT \
    -T "$T_DIR/b" "${auth[@]}" -H "X-Content-Xxh128: $A" \
    "$L_URL/v1/binaries/7/3"
t_check "no temporary is left after the refusals" l_store_ok

# Reads: ETag, If-None-Match, HEAD, latest.
B=$(l_hash "$T_DIR/b")
l_expect "GET a binary" 200 l_curl "$L_URL/v1/binaries/7/2"
t_check "the body is the binary" cmp -s "$T_DIR/body" "$T_DIR/b"
t_check "ETag is the quoted hash" [ "$(l_header ETag)" = "\"$B\"" ]
t_check "X-Content-Xxh128 is the hash" \
    [ "$(l_header X-Content-Xxh128)" = "$B" ]
l_expect "a matching If-None-Match" 304 l_curl \
    -H "If-None-Match: \"$B\"" "$L_URL/v1/binaries/7/2"
t_check "304 has no body" [ ! -s "$T_DIR/body" ]
l_expect "an old If-None-Match" 200 l_curl \
    -H "If-None-Match: \"$A\"" "$L_URL/v1/binaries/7/latest"
t_check "latest is version 2" cmp -s "$T_DIR/body" "$T_DIR/b"
t_check "latest names its version" \
    [ "$(l_header X-Pipeline-Version)" = 2 ]
l_expect "HEAD" 200 l_curl -I "$L_URL/v1/binaries/7/1"
t_check "HEAD gives the length and the ETag" \
    [ "$(l_header Content-Length) $(l_header ETag)" = "65536 \"$A\"" ]

# Status reports: a state without a binary, its message kept verbatim.
report() {
    l_curl -X PUT "${auth[@]}" -H 'Content-Type: application/json' \
        -d "$2" "$L_URL/v1/status/$1"
}
log=$'cc: error: x.c:1: "quoted"\n\ttab\\ and UTF-8 \u00e9'
body=$(jq -cn --arg m "$log" \
    '{state: "compile_error", worker_id: 2, message: $m}')
l_expect "a compile error is recorded" 200 report 21/3 "$body"
t_check "with its log verbatim" [ "$(l_field 21 message)" = "$log" ]
t_check "and its worker" \
    [ "$(l_field 21 state) $(l_field 21 worker_id)" = "compile_error 2" ]
l_expect "a report older than the record" 409 report 21/2 \
    '{"state":"compiling","worker_id":2}'
l_expect "a report for a newer version" 200 report 21/4 \
    '{"state":"compiling","worker_id":2,"message":""}'
t_check "shows it" [ "$(l_field 21 state) $(l_field 21 version)" = \
    "compiling 4" ]

metrics=$(curl -s "$L_URL/metrics")
metric() { awk -v k="$1" '$1 == k {print $2}' <<<"$metrics"; }
t_check "metrics: two installs" \
    [ "$(metric 'binrelay_installs_total{result="created"}')" = 2 ]
t_check "metrics: three identical" \
    [ "$(metric 'binrelay_installs_total{result="identical"}')" = 3 ]
t_check "metrics: installed bytes" \
    [ "$(metric binrelay_install_bytes_total)" = 131072 ]
failed='binrelay_install_failures_total{reason="mismatch",code="422"}'
t_check "metrics: failures by reason" [ "$(metric "$failed")" = 1 ]
t_check "metrics: 401s" [ "$(metric binrelay_auth_failures_total)" = 2 ]
t_check "metrics: status entries" \
    [ "$(metric binrelay_status_entries)" = 2 ]
t_check "metrics: store bytes" \
    [ "$(metric 'binrelay_store_bytes{kind="free"}')" -gt 0 ]
t_check "the token is in no log, debug lines included" l_token_unlogged
t_check "the leader is still serving" l_alive
