# builder_lib.sh - helpers for the builder's end-to-end scenarios.
#
# Source it after tests/lib.sh.  The scenarios run bin/builder alone and
# read what it publishes straight from OUT: ready/, artifacts/,
# building/ and tmp/.

# b_builder NAME ARGS...: starts a builder; its log is $T_DIR/NAME.log.
b_builder() {
    local name=$1; shift
    t_start "$name" "$BIN/builder" "$@"
}

# b_spec ROOT ID VERSION [FILE CONTENT]: a pipeline with only
# pipeline.json (and FILE), for scenarios with their own --build-cmd.
# Placed as drop-ins must be: under a dot name first, then renamed; an
# existing pipeline gets its pipeline.json replaced by rename.
b_spec() {
    local root=$1 id=$2 v=$3 file=${4:-} content=${5:-}
    local new=$root/.new-$id

    if [ -d "$root/$id" ]; then
        [ -z "$file" ] || printf '%s\n' "$content" >"$root/$id/$file"
        printf '{"version": %s}\n' "$v" >"$root/$id/.pipeline.json"
        mv "$root/$id/.pipeline.json" "$root/$id/pipeline.json"
        return
    fi
    rm -rf "$new"
    mkdir -p "$new"
    [ -z "$file" ] || printf '%s\n' "$content" >"$new/$file"
    printf '{"version": %s}\n' "$v" >"$new/pipeline.json"
    mv "$new" "$root/$id"
}

b_ready() { [ -f "$1/ready/$2@$3.json" ]; }

# b_wait_ready SECONDS OUT ID VERSION: fails the scenario on timeout.
b_wait_ready() {
    t_wait "$1" b_ready "$2" "$3" "$4" ||
        t_fail "no result for $3@$4 in $2/ready within $1 s"
}

# b_field OUT ID VERSION FIELD: one field of a published manifest.
b_field() { jq -r ".$4" "$1/ready/$2@$3.json"; }

# b_log_has OUT ID VERSION REGEX: the manifest's log has a matching line.
b_log_has() { b_field "$1" "$2" "$3" log | grep -q -- "$4"; }

# b_port: a TCP port with no socket on it in any state, below the
# kernel's ephemeral range, so that even a server that binds without
# SO_REUSEADDR (sccache) finds it free.
b_port() {
    local p lo
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
    while :; do
        p=$((20000 + RANDOM % (lo - 20000)))
        ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
}

# b_dead PID: true when PID is gone or a zombie nobody has reaped yet.
b_dead() {
    [ -e "/proc/$1" ] || return 0
    [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" \
        = Z ]
}

# b_count FILE PATTERN: lines of FILE matching PATTERN (fixed string).
b_count() { grep -cF -- "$2" "$1" 2>/dev/null || true; }

# b_scratch_dirs OUT: how many build scratch dirs OUT/tmp holds.
b_scratch_dirs() { find "$1/tmp" -mindepth 1 -maxdepth 1 -type d | wc -l; }
b_no_scratch() { [ "$(b_scratch_dirs "$1")" = 0 ]; }

# b_empty DIR: DIR has no entries, dot names included.
b_empty() { [ -z "$(ls -A "$1")" ]; }

# b_worker ID WORKERS: the worker that owns ID, hash(ID) % WORKERS with
# hash the integer itself for a decimal id and, for a UUID, its first 16
# hex digits as a big-endian signed 64-bit integer made non-negative;
# computed here independently of the C code.
b_worker() {
    local id=$1 n=$2 hex x
    case $id in
    *-*)
        hex=${id//-/}
        x=$((16#${hex:0:16}))
        # |INT64_MIN| is 2^63, which bash cannot hold; 2^63 mod n:
        if [ "$x" -eq $((-9223372036854775807 - 1)) ]; then
            echo $(((9223372036854775807 % n + 1) % n))
            return
        fi
        [ "$x" -ge 0 ] || x=$((-x))
        echo $((x % n)) ;;
    *)
        # Digit by digit, so that ids past 2^63 need no big integers.
        x=0
        while [ -n "$id" ]; do
            x=$(((x * 10 + ${id:0:1}) % n))
            id=${id:1}
        done
        echo "$x" ;;
    esac
}
