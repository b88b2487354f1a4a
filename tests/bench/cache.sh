#!/usr/bin/env bash
# tests/bench/cache.sh - what a shared compiler cache saves a second
# worker: the time bin/builder takes to build a C pipeline of many units
# with ccache on a shared redis that is cold (empty: every unit is
# compiled) against warm (another worker built the same sources first:
# every unit is a remote hit).  Each run starts from an empty local
# cache, as a new pod does.  Prints one markdown table row on stdout:
#
#   | cache | cold s | warm s | ratio |
#
# with the median build time of CACHE_BENCH_RUNS runs (3) of each, read
# from the builder's own "published ... ms=" line.  --header prints the
# table's header first.  Everything runs on loopback under
# build/bench/cache (deleted on exit), every wait bounded.
#
#   CACHE_BENCH_UNITS=N  C files in the pipeline (30)
#   CACHE_BENCH_RUNS=N   runs of each case (3)
set -u
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$REPO/bin}
W=$REPO/build/bench/cache
UNITS=${CACHE_BENCH_UNITS:-30}
RUNS=${CACHE_BENCH_RUNS:-3}
PIDS=()

say() { echo "cache.sh: $*" >&2; }
die() { say "$*"; exit 1; }

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}

for tool in ccache redis-server redis-cli; do
    command -v "$tool" >/dev/null || { say "$tool is not installed"; exit 77; }
done
[ -x "$BIN/builder" ] || die "no $BIN/builder: run make first"
rm -rf "$W"
mkdir -p "$W"
trap cleanup EXIT

# A port with no socket on it, below the ephemeral range.
free_port() {
    local p lo
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
    while :; do
        p=$((20000 + RANDOM % (lo - 20000)))
        ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
}

# wait_for SECONDS CMD...: polls CMD every 50 ms; 1 on timeout.
wait_for() {
    local end=$(($(date +%s) + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# gen DIR: UNITS C files of some substance (loops the optimiser works
# on), a main calling one function of each, and a Makefile compiling
# each unit (-c) and linking, with relative paths so that the same
# sources under another pipeline hash the same.
gen() {
    local dir=$1 i k
    mkdir -p "$dir"
    for ((i = 1; i <= UNITS; i++)); do
        {
            printf '#include <string.h>\n'
            for ((k = 0; k < 40; k++)); do
                printf 'static int g%d_%d(const char *s, int n) {\n' "$i" "$k"
                printf '    int h = %d; for (int j = 0; j < n; j++)\n' "$k"
                printf '        h = h * 31 + s[j %% (int)strlen(s)] + %d;\n' \
                    "$i"
                printf '    return h; }\n'
            done
            printf 'int f%d(int n) { return 0' "$i"
            for ((k = 0; k < 40; k++)); do
                printf ' + g%d_%d("unit%d", n)' "$i" "$k" "$k"
            done
            printf '; }\n'
        } >"$dir/u$i.c"
    done
    {
        printf '#include <stdio.h>\n'
        for ((i = 1; i <= UNITS; i++)); do printf 'int f%d(int);\n' "$i"; done
        printf 'int main(void) { long s = 0;\n'
        for ((i = 1; i <= UNITS; i++)); do printf 's += f%d(5);\n' "$i"; done
        printf 'printf("%%ld\\n", s); return 0; }\n'
    } >"$dir/main.c"
    {
        printf 'OBJS = main.o'
        for ((i = 1; i <= UNITS; i++)); do printf ' u%d.o' "$i"; done
        printf '\nall: $(OBJS)\n\t$(CC) -o "$(OUT)" $(OBJS)\n'
        printf '%%.o: %%.c\n\t$(CC) -O2 -c -o $@ $<\n'
    } >"$dir/Makefile"
}

# place ROOT ID SRC: the pipeline ID with SRC's files, placed as a
# drop-in must be (a dot name, then a rename).
place() {
    rm -rf "$1/.new-$2"
    cp -r "$3" "$1/.new-$2"
    printf '{"version": 1}\n' >"$1/.new-$2/pipeline.json"
    mv "$1/.new-$2" "$1/$2"
}

CMD='cp -r "$PIPELINE_SRC" src && make -s -C src OUT="$PIPELINE_OUT"'

# build NAME K ID: worker K of 3 (a fresh volume, so an empty local
# cache) builds pipeline ID through the redis; prints the build's ms.
build() {
    local name=$1 k=$2 id=$3 out=$W/$1 ms pid
    rm -rf "$out"
    "$BIN/builder" --pipelines "$W/pipelines" --out "$out" --worker-id "$k" \
        --workers 3 --compiler-cache ccache \
        --ccache-remote-storage "redis://127.0.0.1:$PORT" \
        --build-cmd "$CMD" \
        >"$W/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_for 300 grep -q 'msg="published"' "$W/$name.log" ||
        die "$name: no result within 300 s (see $W/$name.log)"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null
    grep -q "state=success" "$W/$name.log" || die "$name: the build failed"
    ms=$(sed -n 's/.*msg="published".* ms=\([0-9]*\).*/\1/p' "$W/$name.log")
    echo "$ms"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no \
    --dir "$W" >"$W/redis.log" 2>&1 &
PIDS+=("$!")
wait_for 10 redis-cli -p "$PORT" ping || die "redis did not start"
mkdir -p "$W/pipelines"
gen "$W/src"

cold=() warm=()
for ((r = 1; r <= RUNS; r++)); do
    # Ids stay with their workers (id % 3) and are new each run.
    a=$((r * 3 + 1)) b=$((r * 3 + 2)) c=$((r * 3 + 100 + 2))
    redis-cli -p "$PORT" flushall >/dev/null
    place "$W/pipelines" "$b" "$W/src"
    cold+=("$(build cold$r 2 "$b")")
    redis-cli -p "$PORT" flushall >/dev/null
    place "$W/pipelines" "$a" "$W/src"
    build first$r 1 "$a" >/dev/null
    place "$W/pipelines" "$c" "$W/src"
    warm+=("$(build warm$r 2 "$c")")
    say "run $r: cold ${cold[-1]} ms, warm ${warm[-1]} ms"
    rm -rf "$W/pipelines/$a" "$W/pipelines/$b" "$W/pipelines/$c"
done

cm=$(printf '%s\n' "${cold[@]}" | median)
wm=$(printf '%s\n' "${warm[@]}" | median)
if [ "${1:-}" = --header ]; then
    echo "| cache | cold s | warm s | ratio |"
    echo "| --- | --- | --- | --- |"
fi
awk -v c="$cm" -v w="$wm" -v n="$UNITS" 'BEGIN {
    printf "| ccache, shared redis, %d units | %.2f | %.2f | %.1fx |\n",
        n, c / 1000, w / 1000, (w > 0 ? c / w : 0) }'
