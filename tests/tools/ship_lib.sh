# ship_lib.sh - helpers for the shipper scenarios; source after lib.sh.
#
# A scenario runs a leader (worker 0, store $T_DIR/store, volume
# $T_DIR/out0) and a worker (worker 1, volume $T_DIR/out1) on loopback.

SHIP_TOOLS=$BUILD/tests/tools

# ship_ports VAR...: a distinct free TCP port in each variable.  (Ports
# from $(t_port) repeat: a subshell does not advance $RANDOM.)
ship_ports() {
    local v p taken=" "
    for v in "$@"; do
        while :; do
            # Below the kernel's ephemeral range (32768 and up), where
            # a client's connection could hold the port by the time a
            # sidecar binds it.
            p=$((20000 + RANDOM % 12000))
            case $taken in *" $p "*) continue ;; esac
            ss -Htln "sport = :$p" | grep -q . || break
        done
        taken+="$p "
        printf -v "$v" %s "$p"
    done
}

# ship_not CMD...: succeeds when CMD fails (for t_check and t_wait).
ship_not() { ! "$@"; }

ship_require_tools() {
    local t
    for t in "$@"; do
        [ -x "$SHIP_TOOLS/$t" ] || t_skip "$SHIP_TOOLS/$t is not built (make test)"
    done
}

# ship_leader PORT [ARGS...]: starts the leader as sidecar "leader";
# T_LEADER is its URL.
ship_leader() {
    local port=$1; shift
    T_LEADER=http://127.0.0.1:$port
    t_sidecar leader "$port" --watch "$T_DIR/out0" --worker-id 0 \
        --workers 2 --store "$T_DIR/store" --token-file "$T_DIR/token" "$@"
}

# ship_worker NAME PORT LEADER_URL [ARGS...]: starts worker 1 as NAME
# on volume $T_DIR/out1, retrying fast.
ship_worker() {
    local name=$1 port=$2 leader=$3; shift 3
    t_sidecar "$name" "$port" --watch "$T_DIR/out1" --worker-id 1 \
        --workers 2 --leader "$leader" --token-file "$T_DIR/token" \
        --upload-retry-delay-ms 100 "$@"
}

# ship_proxy NAME PORT TARGET [ARGS...]: starts tests/tools/ship_proxy.
ship_proxy() {
    local name=$1 port=$2 target=$3; shift 3
    t_start "$name" "$SHIP_TOOLS/ship_proxy" --listen "$port" \
        --target "$target" "$@"
    t_wait 5 grep -q listening "$T_DIR/$name.log" ||
        t_fail "proxy $name did not start"
}

# ship_hash FILE: its XXH3-128 as `xxhsum -H2` prints it.
ship_hash() { xxhsum -H2 "$1" 2>/dev/null | cut -d' ' -f1; }

# ship_leader_hash ID VERSION: the XXH3-128 of the binary the leader
# serves, computed on the downloaded bytes.
ship_leader_hash() {
    curl -fsS --max-time 30 "$T_LEADER/v1/binaries/$1/$2" \
        -o "$T_DIR/download.bin" || return 1
    ship_hash "$T_DIR/download.bin"
}

# ship_metric URL LINE-PREFIX: the value of a /metrics sample, or 0.
ship_metric() {
    curl -fsS --max-time 5 "$1/metrics" |
        awk -v k="$2" 'index($0, k " ") == 1 { v = $2 } END { print v + 0 }'
}

# ship_metric_test URL LINE-PREFIX OP N: test(1) on the metric's value,
# read afresh at each call (for t_wait).
ship_metric_test() {
    test "$(ship_metric "$1" "$2")" "$3" "$4"
}

# ship_installs ID: "binary installed" events for ID in the leader's log.
ship_installs() {
    grep -c "msg=\"binary installed\" pipeline=$1 " "$T_DIR/leader.log"
}

# ship_refusals ID CODE: uploads of ID the leader refused with CODE.
ship_refusals() {
    grep -c "msg=\"upload refused\" pipeline=$1 .*code=$2 " \
        "$T_DIR/leader.log"
}

# ship_own_state URL ID: the state a worker's own /v1/status shows.
ship_own_state() {
    curl -s --max-time 5 "$1/v1/status/$2" | jq -r '.state // "none"'
}

ship_own_state_is() { [ "$(ship_own_state "$1" "$2")" = "$3" ]; }

# ship_active_is URL N: N uploads in flight on that worker (its /healthz).
ship_active_is() {
    [ "$(curl -s --max-time 5 "$1/healthz" | jq -r .uploads.active)" = "$2" ]
}

ship_message() {
    curl -s --max-time 5 "$1/v1/status/$2" | jq -r '.message // ""'
}

# ship_random FILE MIB: FILE filled with MIB MiB of random bytes.
ship_random() {
    head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1"
}
