#!/usr/bin/env bash
# Hostile and broken requests: ids that try to leave the store, wrong
# methods, missing and contradictory headers, bodies that lie about
# their length, slow clients and thousands of idle connections.  Each
# gets a clear JSON error (or a closed connection), nothing is written
# outside the store, nothing partial stays inside it, and the leader
# keeps serving everyone else.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_badinput

l_leader leader "$(l_port)"
l_file "$T_DIR/a" 64
A=$(l_hash "$T_DIR/a")
touch "$T_DIR/marker"
sleep 1
auth="Authorization: Bearer $T_TOKEN"
put() { l_put "$1" 1 "$T_DIR/a" --path-as-is; }

l_expect "id '..'" 400 put ..
l_expect "id '../../evil'" 404 put ../../evil
l_expect "id with %2F" 400 put '..%2F..%2Fevil'
l_expect "id with %00" 400 put '1%00'
l_expect "id of 10,000 characters" 400 put "$(printf '1%.0s' {1..10000})"
l_expect "an id that is almost a UUID" 400 \
    put 0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6
l_expect "version 0" 400 l_put 1 0 "$T_DIR/a"
l_expect "version -1" 400 l_put 1 -1 "$T_DIR/a"
l_expect "version past int64" 400 l_put 1 9223372036854775808 "$T_DIR/a"
l_expect "status of '..%2Fetc'" 400 l_curl "$L_URL/v1/status/..%2Fetc"
l_expect "latest is not a version to upload" 400 l_put 1 latest "$T_DIR/a"
big=$(printf 'x%.0s' {1..100000})
got=$(l_curl "$L_URL/v1/status/$big")
t_check "a 100 kB path is refused ($got)" [ "${got:0:1}" = 4 ]

l_expect "POST a binary" 405 l_curl -X POST -d x "$L_URL/v1/binaries/1/1"
t_check "Allow: GET, HEAD, PUT" [ "$(l_header Allow)" = "GET, HEAD, PUT" ]
l_expect "PUT /healthz" 405 l_curl -X PUT -d x "$L_URL/healthz"
t_check "Allow: GET, HEAD" [ "$(l_header Allow)" = "GET, HEAD" ]
l_expect "GET a status report path" 405 l_curl "$L_URL/v1/status/1/1"
t_check "Allow: PUT" [ "$(l_header Allow)" = PUT ]
l_expect "DELETE /v1/status" 405 l_curl -X DELETE "$L_URL/v1/status"

hdr="PUT /v1/binaries/3/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n$auth\r\n"
l_expect "Content-Length and Transfer-Encoding" 400 l_raw \
    "${hdr}X-Content-Xxh128: $A\r\nContent-Length: 65536\r\n$(
    )Transfer-Encoding: chunked\r\n\r\n"
l_expect "two different Content-Lengths" 400 l_raw \
    "${hdr}X-Content-Xxh128: $A\r\nContent-Length: 1000\r\n$(
    )Content-Length: 65536\r\n\r\n" "$T_DIR/a" 65536
l_expect "two different tokens" 400 l_raw \
    "${hdr}Authorization: Bearer x\r\nX-Content-Xxh128: $A\r\n$(
    )Content-Length: 65536\r\n\r\n" "$T_DIR/a" 65536
# libmicrohttpd refuses this framing itself, before any handler, with
# an HTML page: the status is all that can be asked of it.
got=$(l_raw "${hdr}X-Content-Xxh128: $A\r\nContent-Length: 12abc\r\n\r\n")
t_check "Content-Length that is not a number ($got)" [ "$got" = 400 ]
l_expect "no X-Content-Xxh128" 400 l_raw \
    "${hdr}Content-Length: 65536\r\n\r\n" "$T_DIR/a" 65536
l_expect "a short X-Content-Xxh128" 400 l_raw \
    "${hdr}X-Content-Xxh128: ${A:0:31}\r\nContent-Length: 65536\r\n\r\n" \
    "$T_DIR/a" 65536
l_expect "a non-hex X-Content-Xxh128" 400 l_raw \
    "${hdr}X-Content-Xxh128: ${A:0:31}g\r\nContent-Length: 65536\r\n\r\n" \
    "$T_DIR/a" 65536
for w in abc -1 1x ''; do
    l_expect "X-Worker-Id '$w'" 400 l_raw \
        "${hdr}X-Worker-Id: $w\r\nX-Content-Xxh128: $A\r\n$(
        )Content-Length: 65536\r\n\r\n" \
        "$T_DIR/a" 65536
done
l_expect "a status report that is not JSON" 400 l_curl -X PUT \
    -H "$auth" -d '{"state":' "$L_URL/v1/status/3/1"
l_expect "a status report of success" 400 l_curl -X PUT -H "$auth" \
    -d '{"state":"success","worker_id":0}' "$L_URL/v1/status/3/1"
l_expect "a status report with a bad worker" 400 l_curl -X PUT -H "$auth" \
    -d '{"state":"compiling","worker_id":"zero"}' "$L_URL/v1/status/3/1"

# Bodies that lie about their length.
ok_hdr="${hdr}X-Content-Xxh128: $A\r\n"
l_raw "${ok_hdr}Content-Length: 65536\r\n\r\n" "$T_DIR/a" 1000 close \
    >/dev/null
t_check "a short body then a close leaves no file" \
    t_wait 5 l_store_empty
got=$(l_raw "${ok_hdr}Content-Length: 1000\r\n\r\n" "$T_DIR/a" 65536)
t_check "a body longer than Content-Length is refused ($got)" \
    [ "$got" = 422 -o "$got" = 400 -o "$got" = 000 ]
t_check "and leaves no file" t_wait 5 l_store_empty
t_check "pipeline 3 has no status" [ "$(t_status "$L_URL" 3)" = none ]

l_conns_at_least() {
    [ "$(ss -Htn state established "( sport = :${L_URL##*:} )" | wc -l)" \
        -ge "$1" ]
}

# A slow client dribbles its headers while others are served at once.
slow() {
    local fd
    exec {fd}<>"/dev/tcp/127.0.0.1/${L_URL##*:}"
    for c in P U T ' ' /; do printf %s "$c" >&"$fd"; sleep 1; done
    exec {fd}>&-
}
slow &
slow_pid=$!
sleep 0.5
fast() {
    local start=$(date +%s%N)
    curl -fsS -o /dev/null --max-time 2 "$L_URL/healthz" || return 1
    [ $((($(date +%s%N) - start) / 1000000)) -lt 1000 ]
}
t_check "a slow client does not hold up others" fast

# Thousands of idle connections, half with a request line begun: 5000,
# or as many as this shell may open.
n=5000
ulimit -n 5200 2>/dev/null || n=$(($(ulimit -n) - 100))
fds=()
for ((i = 0; i < n; i++)); do
    exec {fd}<>"/dev/tcp/127.0.0.1/${L_URL##*:}" || break
    ((i % 2)) && printf 'GET /healthz HTTP/1.1\r\nHost:' >&"$fd"
    fds+=("$fd")
done
t_log "${#fds[@]} idle connections open"
t_check "opened at least a thousand" [ "${#fds[@]}" -ge 1000 ]
t_check "the leader holds them all" t_wait 5 l_conns_at_least "${#fds[@]}"
t_check "with them open, /healthz answers at once" fast
l_expect "and an upload is installed" 201 l_put 4 1 "$T_DIR/a"
for fd in "${fds[@]}"; do exec {fd}>&-; done
wait "$slow_pid"

t_check "the leader never crashed" kill -0 "$PID_leader"
t_check "and serves" l_alive
t_check "the store is consistent" l_store_ok
t_check "nothing was written outside the store" \
    [ -z "$(find "$T_DIR" -newer "$T_DIR/marker" -type f \
        ! -path "$T_DIR/store/*" ! -path "$T_DIR/out0/*" ! -name '*.log' \
        ! -name body ! -name headers ! -name raw ! -name curl.err)" ]
t_check "no file named evil anywhere near" \
    [ -z "$(find "$T_DIR/../.." -maxdepth 4 -name 'evil*' | head -1)" ]
t_check "the only binary is pipeline 4's" \
    [ "$(ls "$T_DIR/store/binaries")" = "4@1.$A" ]
