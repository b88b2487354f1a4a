# lib.sh - helpers for end-to-end scenarios; source it, then call t_init.
#
# Every scenario runs the real daemons from $BIN on loopback, in its own
# directory under $BINRELAY_TEST_ROOT, and kills whatever it started when
# it exits.  Helpers fail the scenario with a message (t_fail) rather
# than returning errors.

set -u
T_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-bin}
case $BIN in /*) ;; *) BIN=$T_REPO/$BIN ;; esac
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$T_REPO/$BUILD ;; esac
T_PIDS=()
T_TOKEN=test-token-0123456789

t_log() { echo "[$(date +%T.%3N)] $*"; }

t_fail() {
    echo "FAILED: $*"
    t_dump_logs
    exit 1
}

t_skip() {
    echo "$*"
    exit 77
}

t_dump_logs() {
    local f
    for f in "$T_DIR"/*.log; do
        [ -f "$f" ] || continue
        echo "--- last lines of $(basename "$f")"
        tail -n 15 "$f"
    done
}

t_cleanup() {
    local pid
    for pid in "${T_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
}

# t_init NAME: a fresh directory in $T_DIR and a token file in $T_DIR/token.
t_init() {
    T_NAME=$1
    T_DIR=${BINRELAY_TEST_ROOT:-$T_REPO/tests/out}/$T_NAME
    rm -rf "$T_DIR"
    mkdir -p "$T_DIR"
    printf '%s\n' "$T_TOKEN" >"$T_DIR/token"
    trap t_cleanup EXIT
    t_log "scenario $T_NAME in $T_DIR"
}

t_require_root() {
    [ "$(id -u)" -eq 0 ] || t_skip "needs root (mount, netns); not root"
}

# t_port [COUNT]: a TCP port, a multiple of 10, such that it and the
# COUNT - 1 ports after it are free in every state.  Ports are taken below
# the kernel's ephemeral range, so no outgoing connection can hold one.
t_port() {
    local p i count=${1:-1} busy low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    [ "${low:-0}" -gt 12000 ] || low=32768
    while :; do
        p=$((10000 + RANDOM % ((low - 10000 - count) / 10) * 10))
        busy=0
        for ((i = 0; i < count; i++)); do
            ss -Htan "( sport = :$((p + i)) )" | grep -q . && busy=1
        done
        [ "$busy" -eq 0 ] && { echo "$p"; return; }
    done
}

# t_start NAME CMD...: runs CMD in the background, output in NAME.log;
# the pid is in T_PID and in the variable PID_<NAME>.
t_start() {
    local name=$1; shift
    "$@" >>"$T_DIR/$name.log" 2>&1 &
    T_PID=$!
    T_PIDS+=("$T_PID")
    printf -v "PID_${name//[^A-Za-z0-9_]/_}" %s "$T_PID"
}

# t_wait SECONDS CMD...: polls CMD every 50 ms until it succeeds.
t_wait() {
    local limit=$1; shift
    local end=$(($(date +%s%N) / 1000000 + limit * 1000))
    until "$@" >/dev/null 2>&1; do
        [ $(($(date +%s%N) / 1000000)) -lt $end ] || return 1
        sleep 0.05
    done
}

t_http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }

# t_sidecar NAME PORT ARGS...: starts a sidecar and waits for /healthz
# to answer (any status).
t_sidecar() {
    local name=$1 port=$2; shift 2
    t_start "$name" "$BIN/sidecar" --listen "127.0.0.1:$port" "$@"
    t_wait 10 curl -s -o /dev/null --max-time 1 \
        "http://127.0.0.1:$port/healthz" ||
        t_fail "sidecar $name did not start on port $port"
}

# t_status URL ID: the state of pipeline ID at the leader, or "none".
t_status() {
    curl -s --max-time 5 "$1/v1/status/$2" | jq -r '.state // "none"'
}

t_state_is() { [ "$(t_status "$1" "$2")" = "$3" ]; }

# t_check DESCRIPTION CMD...: fails the scenario unless CMD succeeds.
t_check() {
    local what=$1; shift
    "$@" || t_fail "$what"
    t_log "ok: $what"
}

# t_publish OUT ID VERSION FILE: a drop-in build, published with the two
# renames: the binary into artifacts/, then the manifest into ready/.
t_publish() {
    local out=$1 id=$2 v=$3 file=$4 name="$2@$3"
    mkdir -p "$out/artifacts" "$out/ready" "$out/tmp"
    cp "$file" "$out/tmp/.bin-$name"
    sync "$out/tmp/.bin-$name"
    mv "$out/tmp/.bin-$name" "$out/artifacts/$name"
    printf '{"pipeline_id":"%s","version":%s,"state":"success",%s}\n' \
        "$id" "$v" "\"artifact\":\"artifacts/$name\",\"log\":\"\"" \
        >"$out/tmp/.man-$name"
    mv "$out/tmp/.man-$name" "$out/ready/$name.json"
}

# t_pipeline DIR ID VERSION [SOURCE]: a C pipeline that prints its id,
# placed as a drop-in must be: written under a dot name, then renamed.  An
# existing pipeline gets its sources and then pipeline.json replaced.
t_pipeline() {
    local root=$1 id=$2 v=$3 src=${4:-} dir
    dir=$root/.new-$id
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ -z "$src" ]; then
        printf '#include <stdio.h>\nint main(void) { puts("pipeline %s"); }\n' \
            "$id" >"$dir/main.c"
    else
        printf '%s\n' "$src" >"$dir/main.c"
    fi
    printf 'all:\n\t$(CC) -O0 -o "$(OUT)" main.c\n' >"$dir/Makefile"
    printf '{"version": %s, "name": "p%s"}\n' "$v" "$id" >"$dir/pipeline.json"
    if [ -d "$root/$id" ]; then
        mv "$dir/main.c" "$dir/Makefile" "$root/$id/"
        mv "$dir/pipeline.json" "$root/$id/.pipeline.json"
        mv "$root/$id/.pipeline.json" "$root/$id/pipeline.json"
        rm -rf "$dir"
    else
        mv "$dir" "$root/$id"
    fi
}

# t_fleet N PORT PIPELINES [EXTRA SIDECAR ARGS...]: a local fleet of N
# workers on loopback, as in a StatefulSet: worker K has its own volume
# $T_DIR/out<K>, a sidecar on PORT+K and a builder; worker 0 is the
# leader with the store $T_DIR/store.  PORT is a multiple of 10 and N at
# most 10, so that worker K's URL is the template "...:<PORT/10>{k}".
# Sets T_LEADER to the leader's URL.
t_fleet() {
    local n=$1 port=$2 pipelines=$3 k role
    shift 3
    T_LEADER=http://127.0.0.1:$port
    for ((k = 0; k < n; k++)); do
        role=(--leader "$T_LEADER")
        [ "$k" -eq 0 ] && role=(--store "$T_DIR/store"
            --pipelines "$pipelines"
            --worker-url-template "http://127.0.0.1:$((port / 10)){k}")
        t_sidecar "sidecar$k" $((port + k)) --watch "$T_DIR/out$k" \
            --worker-id "$k" --workers "$n" --token-file "$T_DIR/token" \
            --upload-retry-delay-ms 200 "${role[@]}" "$@"
        t_start "builder$k" "$BIN/builder" --pipelines "$pipelines" \
            --out "$T_DIR/out$k" --worker-id "$k" --workers "$n" --jobs 2
    done
}

# t_owner ID N: the worker that builds ID in a fleet of N, worked out
# here in bash from the assignment rule, independently of the C code.
t_owner() {
    local id=$1 n=$2 hex
    if [[ $id =~ ^[0-9]+$ ]]; then
        # Digit by digit, so that ids past 2^63 need no big integers.
        local x=0
        while [ -n "$id" ]; do
            x=$(((x * 10 + ${id:0:1}) % n))
            id=${id:1}
        done
        echo "$x"
        return
    fi
    hex=${id//-/}
    hex=${hex:0:16}
    # bash arithmetic is signed 64-bit, as the rule reads the digits.
    local v=$((16#$hex))
    if [ "$v" -lt 0 ]; then
        # |v| without overflow: (-(v + 1)) + 1, reduced before adding.
        echo $(( ((-(v + 1)) % n + 1) % n ))
    else
        echo $((v % n))
    fi
}

# t_store_invariants STORE: the promises a leader's store keeps after any
# fault: no temporary left (once a leader has started on it again), and
# every success in status/ names an installed binary of that size and
# hash.
t_store_invariants() {
    local store=$1 id v x size bin
    [ -z "$(ls -A "$store/tmp" 2>/dev/null)" ] ||
        t_fail "temporaries left in $store/tmp: $(ls "$store/tmp")"
    ls -A "$store/binaries" "$store/status" | grep -q '^\.tmp-' &&
        t_fail "a temporary under a final folder"
    ls "$store"/status/*.json >/dev/null 2>&1 || return 0
    (cd "$store/binaries" && xxhsum -H2 -- * 2>/dev/null) >"$T_DIR/.sums"
    jq -r 'select(.state == "success") |
        [.pipeline_id, .version, .xxh128, .size] | @tsv' \
        "$store"/status/*.json |
        while IFS=$'\t' read -r id v x size; do
            # Installed binaries are named <id>@<version>.<xxh128>.
            bin=$id@$v.$x
            [ -f "$store/binaries/$bin" ] ||
                t_fail "status of $id points at missing $bin"
            [ "$(stat -c %s "$store/binaries/$bin")" = "$size" ] ||
                t_fail "$bin: size differs from the status"
            grep -q "^$x  $bin\$" "$T_DIR/.sums" ||
                t_fail "$bin: the binary's hash is not the status's"
        done
}
