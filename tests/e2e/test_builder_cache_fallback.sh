#!/usr/bin/env bash
# When the compiler cache itself fails ("sccache: error: ..."), the
# build is tried once more without it, so the pipeline still builds,
# and the result's log says why; a compile error through the failing
# cache is retried too, and its result shows both gcc's error and the
# cache's.  The heartbeat reports the cache as degraded with the reason.
# The failure is the real one: Debian's sccache has no S3 backend, so
# with SCCACHE_BUCKET set its server does not start (a newer sccache
# finds no S3 at the endpoint).  Then the same volume with sccache on
# local disk: builds go through it, the cache is ok, and a compile error
# is not retried.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_cache_fallback
command -v sccache >/dev/null || t_skip "sccache is not installed"

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
export SCCACHE_SERVER_PORT=$(b_port)
trap 'sccache --stop-server >/dev/null 2>&1; t_cleanup' EXIT
cmd='echo "CC=$CC" >&2; make -C "$PIPELINE_SRC" OUT="$PIPELINE_OUT"'
cache() { jq -c "[.cache.status, .cache.reason]" "$OUT/heartbeat"; }
cache_is() { [[ $(cache) =~ $1 ]]; }
retries() { b_count "$T_DIR/$1.log" 'building again without it'; }

SCCACHE_BUCKET=binrelay-test SCCACHE_ENDPOINT=127.0.0.1:1 \
    b_builder broken --pipelines "$P" --out "$OUT" --worker-id 0 \
    --compiler-cache sccache --heartbeat-interval 1 --build-cmd "$cmd"
# sccache 0.4 may time out its own start after 10 s, and the builder
# then tries once more before it writes its first heartbeat.
t_wait 25 [ -f "$OUT/heartbeat" ] || t_fail "no heartbeat"
t_check "the heartbeat says degraded from the start, and why" \
    cache_is '^\["degraded","sccache: error: Server startup failed: '
cache

t_pipeline "$P" 61 1
b_wait_ready 30 "$OUT" 61 1
t_check "61@1 built despite the cache" \
    [ "$(b_field "$OUT" 61 1 state)" = success ]
t_check "it runs" [ "$("$OUT/artifacts/61@1")" = "pipeline 61" ]
t_check "the retry was logged with the cache's reason" grep -q \
    'msg="compiler cache failed; building again without it" pipeline=61 version=1 reason="sccache: error: Server startup failed: ' \
    "$T_DIR/broken.log"
t_check "the second try ran the plain compiler" \
    b_log_has "$OUT" 61 1 '^CC=cc$'
t_check "the result's log says why" b_log_has "$OUT" 61 1 \
    '^binrelay: the compiler cache failed, so this was built again without it: sccache: error: Server startup failed: '

t_pipeline "$P" 63 1 'int main(void) { return missing_symbol; }'
b_wait_ready 30 "$OUT" 63 1
t_check "a compile error through the failing cache is retried too" \
    [ "$(retries broken)" = 2 ]
t_check "its result has gcc's error" \
    b_log_has "$OUT" 63 1 "error: .missing_symbol. undeclared"
t_check "and the cache's, verbatim" b_log_has "$OUT" 63 1 \
    ': sccache: error: Server startup failed: '
t_check "the heartbeat still says degraded" \
    cache_is '^\["degraded","sccache: error: '

kill -TERM "$PID_broken"
wait "$PID_broken"
b_builder working --pipelines "$P" --out "$OUT" --worker-id 0 \
    --compiler-cache sccache --heartbeat-interval 1 --build-cmd "$cmd"
t_check "sccache on local disk starts" t_wait 25 \
    grep -q 'msg="sccache server started"' "$T_DIR/working.log"
t_pipeline "$P" 62 1
b_wait_ready 30 "$OUT" 62 1
t_check "62@1 went through the cache" b_log_has "$OUT" 62 1 '^CC=sccache cc$'
t_check "with no retry" [ "$(retries working)" = 0 ]
t_check "sccache compiled it" \
    grep -Eq '^Compile requests +[1-9]' <<<"$(sccache --show-stats)"
t_check "the heartbeat says ok" t_wait 3 cache_is '^\["ok",null\]$'

t_pipeline "$P" 64 1 'int main(void) { return other_symbol; }'
b_wait_ready 30 "$OUT" 64 1
t_check "a real compile error is a compile_error" \
    b_log_has "$OUT" 64 1 "error: .other_symbol. undeclared"
t_check "and is not retried" [ "$(retries working)" = 0 ]
t_check "the cache stays ok" cache_is '^\["ok",null\]$'
