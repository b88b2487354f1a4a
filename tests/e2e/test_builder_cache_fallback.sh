#!/usr/bin/env bash
# When the compiler cache itself fails ("sccache: error: ..."), the
# build is tried once more without it, so the pipeline still builds;
# the heartbeat reports the cache as degraded with the reason, and as
# ok again once a build through it succeeds.  A compile error with a
# working cache is not retried.  The failing cache is a stand-in
# sccache on PATH that fails while $T_DIR/broken exists and otherwise
# runs the compiler it is given.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_cache_fallback

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P" "$T_DIR/fakebin"
cat >"$T_DIR/fakebin/sccache" <<FAKE
#!/bin/sh
case "\$1" in --start-server|--stop-server) exit 0 ;; esac
if [ -e "$T_DIR/broken" ]; then
    echo "sccache: error: Server startup failed: bucket unreachable" >&2
    exit 2
fi
echo "through the cache: \$*" >&2
exec "\$@"
FAKE
chmod +x "$T_DIR/fakebin/sccache"
touch "$T_DIR/broken"

PATH=$T_DIR/fakebin:$PATH b_builder builder --pipelines "$P" --out "$OUT" \
    --worker-id 0 --compiler-cache sccache --heartbeat-interval 1
cache() { jq -c "[.cache.status, .cache.reason]" "$OUT/heartbeat"; }
cache_is() { [ "$(cache)" = "$1" ]; }
t_wait 5 [ -f "$OUT/heartbeat" ] || t_fail "no heartbeat"
t_check "the heartbeat shows the cache" cache_is '["ok",null]'

t_pipeline "$P" 61 1
b_wait_ready 20 "$OUT" 61 1
t_check "61@1 built despite the cache" \
    [ "$(b_field "$OUT" 61 1 state)" = success ]
t_check "it runs" [ "$("$OUT/artifacts/61@1")" = "pipeline 61" ]
t_check "the retry was logged with the cache's reason" \
    grep -q 'msg="compiler cache failed; building again without it" pipeline=61 version=1 reason="sccache: error: Server startup failed: bucket unreachable"' \
    "$T_DIR/builder.log"
t_check "the heartbeat says degraded, and why" t_wait 3 cache_is \
    '["degraded","sccache: error: Server startup failed: bucket unreachable"]'

rm "$T_DIR/broken"
t_pipeline "$P" 62 1
b_wait_ready 20 "$OUT" 62 1
t_check "62@1 went through the cache" \
    b_log_has "$OUT" 62 1 '^through the cache: cc '
t_check "the heartbeat says ok again" t_wait 3 cache_is '["ok",null]'

t_pipeline "$P" 63 1 'int main(void) { return missing_symbol; }'
b_wait_ready 20 "$OUT" 63 1
t_check "a real compile error is a compile_error" \
    b_log_has "$OUT" 63 1 "error: .missing_symbol. undeclared"
t_check "and is not retried" \
    [ "$(b_count "$T_DIR/builder.log" 'building again without it')" = 1 ]
t_check "the cache stays ok" cache_is '["ok",null]'
