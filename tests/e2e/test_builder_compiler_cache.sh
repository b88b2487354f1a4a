#!/usr/bin/env bash
# --compiler-cache ccache and sccache: builds compile through the cache
# (CC is wrapped), the cache lives in OUT/cache unless configured, and a
# second pipeline with the same source is a cache hit.  The sccache
# server is started by the builder in a session of its own, survives
# the builds' process-group kills, and is stopped with the builder.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_compiler_cache

src='#include <stdio.h>
int main(void) { puts("cached"); return 0; }'
cmd='echo "CC=$CC" >&2; make -C "$PIPELINE_SRC" OUT="$PIPELINE_OUT"'

# cached_pipeline ROOT ID: compiled (-c) and linked in two steps, since
# compiler caches cache only the first.
cached_pipeline() {
    local dir=$1/.new-$2
    mkdir -p "$dir"
    printf '%s\n' "$src" >"$dir/main.c"
    printf 'all:\n\t$(CC) -c -o "$(OUT).o" main.c\n\t$(CC) -o "$(OUT)" "$(OUT).o"\n' \
        >"$dir/Makefile"
    printf '{"version": 1}\n' >"$dir/pipeline.json"
    mv "$dir" "$1/$2"
}

# two_pipelines ROOT OUT: the same source twice, one after the other.
two_pipelines() {
    local root=$1 out=$2
    cached_pipeline "$root" 51
    b_wait_ready 20 "$out" 51 1
    cached_pipeline "$root" 52
    b_wait_ready 20 "$out" 52 1
    t_check "the binary works" [ "$("$out/artifacts/52@1")" = cached ]
}

if command -v ccache >/dev/null; then
    P=$T_DIR/p-ccache OUT=$T_DIR/out-ccache
    mkdir -p "$P"
    b_builder ccache --pipelines "$P" --out "$OUT" --worker-id 0 \
        --compiler-cache ccache --build-cmd "$cmd"
    two_pipelines "$P" "$OUT"
    t_check "CC is wrapped in ccache" \
        [ "$(b_field "$OUT" 52 1 log | grep '^CC=')" = "CC=ccache cc" ]
    hits=$(CCACHE_DIR=$OUT/cache/ccache ccache --print-stats |
        awk '$1 ~ /_cache_hit$/ { n += $2 } END { print n + 0 }')
    t_check "the second build was a ccache hit ($hits)" [ "$hits" -ge 1 ]
else
    t_log "ccache is not installed; skipped its half"
fi

command -v sccache >/dev/null || t_skip "sccache is not installed"
P=$T_DIR/p-sccache OUT=$T_DIR/out-sccache
mkdir -p "$P"
export SCCACHE_SERVER_PORT=$(b_port)
# A failed scenario kills the builder with SIGKILL: stop its server too.
trap 'sccache --stop-server >/dev/null 2>&1; t_cleanup' EXIT
b_builder sccache --pipelines "$P" --out "$OUT" --worker-id 0 \
    --compiler-cache sccache --build-cmd "$cmd"
two_pipelines "$P" "$OUT"
t_check "CC is wrapped in sccache" \
    [ "$(b_field "$OUT" 52 1 log | grep '^CC=')" = "CC=sccache cc" ]
t_check "the builder started the sccache server" \
    grep -q 'msg="sccache server started"' "$T_DIR/sccache.log"
stats=$(sccache --show-stats)
echo "$stats"
t_check "the second build was an sccache hit" \
    grep -Eq '^Cache hits +[1-9]' <<<"$stats"
# A server restarted between the builds would count the hit alone.
t_check "one server served both builds (the miss is in its stats)" \
    grep -Eq '^Cache misses +1$' <<<"$stats"
listening() { ss -Htln "sport = :$SCCACHE_SERVER_PORT" | grep -q .; }
t_check "the server is listening" listening
kill -TERM "$PID_sccache"
wait "$PID_sccache"
t_check "the server stopped with the builder" t_wait 5 eval '! listening'
