# leader_lib.sh - helpers for the leader's end-to-end scenarios.
#
# Source it after tests/lib.sh and call t_init first.  The scenarios run
# one bin/sidecar as worker 0 and talk to its HTTP API with curl; each
# request's body lands in $T_DIR/body and its headers in $T_DIR/headers.

# l_leader NAME PORT ARGS...: a leader with its volume in $T_DIR/out0,
# its store in $T_DIR/store and the token in $T_DIR/token, unless ARGS
# say otherwise.  Sets L_URL to its base URL.
l_leader() {
    local name=$1 port=$2
    shift 2
    mkdir -p "$T_DIR/out0"
    L_URL=http://127.0.0.1:$port
    t_sidecar "$name" "$port" --watch "$T_DIR/out0" --worker-id 0 \
        --workers 1 --store "$T_DIR/store" --token-file "$T_DIR/token" "$@"
}

# l_port: a TCP port that no socket uses in any state, below the
# ephemeral range, so that no client connection (nor one in TIME_WAIT
# after a scenario with thousands) can take it before the leader binds.
l_port() {
    local p low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    [ "${low:-0}" -gt 12000 ] || low=32768
    while :; do
        p=$((10000 + RANDOM % (low - 10000)))
        ss -Htan "( sport = :$p or dport = :$p )" | grep -q . ||
            { echo "$p"; return; }
    done
}

# l_hash FILE: its XXH3-128 as the API wants it.
l_hash() { xxhsum -H2 "$1" 2>/dev/null | cut -d' ' -f1; }

# l_file PATH KIB: a file of random bytes.
l_file() { head -c "$(($2 * 1024))" /dev/urandom >"$1"; }

# l_curl ARGS...: curl that prints only the status code; the body goes
# to $T_DIR/body and the response headers to $T_DIR/headers.
l_curl() {
    rm -f "$T_DIR/body"
    curl -sS -o "$T_DIR/body" -D "$T_DIR/headers" -w '%{http_code}' \
        --max-time 20 "$@" 2>>"$T_DIR/curl.err"
    touch "$T_DIR/body"
}

# l_put ID VERSION FILE [CURL ARGS...]: uploads FILE with a good token,
# its true hash and worker 0, and prints the status code.
l_put() {
    local id=$1 v=$2 file=$3
    shift 3
    l_curl -X PUT -T "$file" -H "Authorization: Bearer $T_TOKEN" \
        -H "X-Content-Xxh128: $(l_hash "$file")" -H "X-Worker-Id: 0" \
        "$@" "$L_URL/v1/binaries/$id/$v"
}

# l_expect WHAT CODE CMD...: runs CMD (which prints a status code) and
# fails the scenario unless it printed CODE (and whatever else CMD
# prints after it) and, for an error, a JSON body with an "error"
# (unless L_NO_ERROR is set: /cluster_healthz's 503 has its own body).
l_expect() {
    local what=$1 want=$2 got
    shift 2
    got=$("$@")
    [ "$got" = "$want" ] ||
        t_fail "$what: got $got, want $want; body: $(head -c 300 \
            "$T_DIR/body")"
    if [ "${want%% *}" -ge 400 ] && [ -z "${L_NO_ERROR:-}" ]; then
        jq -e '.error | type == "string" and length > 0' "$T_DIR/body" \
            >/dev/null || t_fail "$what: no JSON error: $(head -c 300 \
            "$T_DIR/body")"
    fi
    t_log "ok: $what ($got)"
}

# l_header NAME: a header of the last response, without its CR.
l_header() {
    sed -n "s/^$1: *//Ip" "$T_DIR/headers" | tr -d '\r' | tail -n 1
}

# l_field ID FIELD: one field of ID's status at the leader.
l_field() {
    curl -s --max-time 5 "$L_URL/v1/status/$1" | jq -r ".$2"
}

# l_alive: the leader still answers /healthz.
l_alive() { curl -s -o /dev/null --max-time 5 "$L_URL/healthz"; }

# l_store_ok: the store invariants that must hold after anything: no
# temporary left behind, every status that says success names a binary
# that is there and whose hash and size are the ones recorded.
l_store_ok() {
    local store=$T_DIR/store f id xxh size bin
    local tmps
    tmps=$(find "$store" -name '.tmp-*' | wc -l)
    [ "$tmps" -eq 0 ] || { echo "temporaries left: $tmps"; return 1; }
    for f in "$store"/status/*.json; do
        [ -f "$f" ] || continue
        [ "$(jq -r .state "$f")" = success ] || continue
        id=$(jq -r .pipeline_id "$f")
        xxh=$(jq -r .xxh128 "$f")
        size=$(jq -r .size "$f")
        bin=$(l_binary_path "$id" "$(jq -r .version "$f")" "$xxh")
        [ -f "$bin" ] || { echo "status of $id names no binary"; return 1; }
        [ "$(l_hash "$bin")" = "$xxh" ] ||
            { echo "binary of $id does not match its status"; return 1; }
        [ "$(stat -c %s "$bin")" = "$size" ] ||
            { echo "binary of $id has the wrong size"; return 1; }
    done
}

# l_binary_path ID VERSION XXH: where the store keeps that binary.
l_binary_path() {
    echo "$T_DIR/store/binaries/$1@$2.$3"
}

# l_token_unlogged: no log of the scenario holds the token.
l_token_unlogged() { ! grep -q -e "$T_TOKEN" "$T_DIR"/*.log; }

# l_raw REQUEST [FILE BYTES [close]]: sends REQUEST (a printf format,
# so "\r\n" ends lines) and then BYTES of FILE on one connection, and
# prints the status code of the answer (000 for none).  With "close",
# the connection is closed right after, without waiting for an answer.
l_raw() {
    local req=$1 file=${2:-} n=${3:-0} how=${4:-} fd code
    exec {fd}<>"/dev/tcp/127.0.0.1/${L_URL##*:}" || { echo 000; return; }
    printf "$req" >&"$fd" 2>/dev/null
    [ -z "$file" ] || head -c "$n" "$file" >&"$fd" 2>/dev/null
    if [ "$how" = close ]; then
        exec {fd}>&-
        echo 000
        return
    fi
    timeout 10 cat <&"$fd" >"$T_DIR/raw" 2>/dev/null
    exec {fd}>&-
    code=$(head -n 1 "$T_DIR/raw" | cut -d' ' -f2)
    # The body, for l_expect: what follows the blank line.
    tr -d '\r' <"$T_DIR/raw" | sed '1,/^$/d' >"$T_DIR/body"
    echo "${code:-000}"
}

# l_store_empty: no temporary, binary or status in the store.
l_store_empty() {
    [ -z "$(find "$T_DIR/store/tmp" "$T_DIR/store/binaries" \
        "$T_DIR/store/status" -mindepth 1)" ]
}
