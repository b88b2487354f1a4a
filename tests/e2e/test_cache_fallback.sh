#!/usr/bin/env bash
# When the compiler cache fails, builds still succeed, and the worker's
# /healthz (a real sidecar on the volume) answers 200 with the cache
# "degraded" and the reason:
#  - ccache with its redis store killed: ccache carries on with its
#    local cache; the result's log says so; the cache is ok again once
#    redis is back;
#  - ccache with the wrong password for its redis store: the same, with
#    redis's refusal as the reason (and the password nowhere);
#  - the real sccache failing at start because SCCACHE_BUCKET is set
#    (which also switches sccache on without --compiler-cache): Debian's
#    sccache has no S3 backend, and a newer one finds no S3 at the
#    endpoint; each build is tried once more without the cache.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
. "$(dirname "$0")/../tools/cache_lib.sh"
t_init cache_fallback
c_need_ccache
c_need_redis

# ---- ccache, redis killed ----
P=$T_DIR/p-ccache OUT=$T_DIR/out-ccache
mkdir -p "$P"
REDIS_PORT=$(b_port)
c_redis redis "$REDIS_PORT"
b_builder ccache --pipelines "$P" --out "$OUT" --worker-id 0 \
    --compiler-cache ccache --heartbeat-interval 1 \
    --ccache-remote-storage "redis://127.0.0.1:$REDIS_PORT" \
    --build-cmd "$(c_build_cmd)"
c_leader leader-ccache "$(b_port)" "$OUT"

c_pipeline "$P" 1 2
c_wait_result 30 "$OUT" 1 1
t_check "healthz: 200, cache ok" t_wait 5 c_healthz_is "$C_URL" '^200 ok $'

kill -KILL "$PID_redis"
wait "$PID_redis" 2>/dev/null
c_pipeline "$P" 2 3 # three units, new to every cache
c_wait_result 30 "$OUT" 2 1
t_check "2@1 built with redis gone" \
    [ "$(c_field "$OUT" 2 1 state)" = success ]
t_check "it runs" [ "$(c_run "$C_URL" 2 1)" = "sum 18" ]
t_check "healthz: 200, cache degraded, with redis's error" t_wait 5 \
    c_healthz_is "$C_URL" \
    "^200 degraded ccache: remote storage: .*redis://127.0.0.1:$REDIS_PORT.*Connection refused"
c_healthz "$C_URL"
t_check "the result's log says so" c_log_has "$OUT" 2 1 \
    '^binrelay: the compiler cache is degraded (its shared store failed; the local cache was used): ccache: remote storage: '
t_check "the builder log says so" \
    grep -q 'msg="compiler cache degraded" pipeline=2' \
    "$T_DIR/ccache.log"
t_check "the leader installed it" t_wait 10 t_state_is "$C_URL" 2 success

c_redis redis2 "$REDIS_PORT"
c_pipeline "$P" 3 1
c_wait_result 30 "$OUT" 3 1
t_check "redis back: healthz says ok again" t_wait 5 \
    c_healthz_is "$C_URL" '^200 ok $'

# ---- ccache, the wrong password for redis ----
P=$T_DIR/p-auth OUT=$T_DIR/out-auth
mkdir -p "$P"
AUTH_PORT=$(b_port)
c_redis redis-auth "$AUTH_PORT" --requirepass right-pass-4711
b_builder auth --pipelines "$P" --out "$OUT" --worker-id 0 \
    --compiler-cache ccache --heartbeat-interval 1 \
    --ccache-remote-storage \
    "redis://default:wrong-pass-4711@127.0.0.1:$AUTH_PORT" \
    --build-cmd "$(c_build_cmd)"
c_leader leader-auth "$(b_port)" "$OUT"
c_pipeline "$P" 5 2
c_wait_result 30 "$OUT" 5 1
t_check "5@1 built despite the refusal" \
    [ "$(c_field "$OUT" 5 1 state)" = success ]
t_check "healthz: 200, cache degraded, with redis's refusal" t_wait 5 \
    c_healthz_is "$C_URL" '^200 degraded ccache: remote storage: .*WRONGPASS'
c_healthz "$C_URL"
t_check "the password is nowhere" \
    eval '! grep -rqaF wrong-pass-4711 "$OUT" "$T_DIR"/*.log \
        "$T_DIR/leader-auth-store"'

# ---- the real sccache, failing at start for SCCACHE_BUCKET ----
command -v sccache >/dev/null || t_skip "sccache is not installed"
P=$T_DIR/p-sccache OUT=$T_DIR/out-sccache
mkdir -p "$P"
export SCCACHE_SERVER_PORT=$(b_port)
trap 'sccache --stop-server >/dev/null 2>&1; t_cleanup' EXIT
SCCACHE_BUCKET=binrelay-test SCCACHE_ENDPOINT=127.0.0.1:1 \
    SCCACHE_REGION=auto b_builder sccache --pipelines "$P" --out "$OUT" \
    --worker-id 0 --heartbeat-interval 1
c_leader leader-sccache "$(b_port)" "$OUT"
# sccache 0.4 may time out its own start after 10 s and the builder then
# tries once more, so this waits past two of those.
t_check "SCCACHE_BUCKET switched sccache on" t_wait 25 \
    grep -q 'msg="compiler cache enabled" tool=sccache' "$T_DIR/sccache.log"
t_check "the failed start is logged with sccache's error" \
    grep -q 'msg="cannot start the sccache server.*reason="sccache: error' \
    "$T_DIR/sccache.log"
t_check "healthz: 200, cache degraded before any build" t_wait 5 \
    c_healthz_is "$C_URL" '^200 degraded sccache: error: '
c_healthz "$C_URL"

t_pipeline "$P" 11 1
c_wait_result 30 "$OUT" 11 1
t_check "11@1 built despite sccache" \
    [ "$(c_field "$OUT" 11 1 state)" = success ]
t_check "it runs" [ "$(c_run "$C_URL" 11 1)" = "pipeline 11" ]
t_check "the builder retried it without the cache" grep -q \
    'msg="compiler cache failed; building again without it" pipeline=11 version=1 reason="sccache: error: ' \
    "$T_DIR/sccache.log"
t_check "the result's log says so" c_log_has "$OUT" 11 1 \
    '^binrelay: the compiler cache failed, so this was built again without it: sccache: error: '
t_check "healthz: still 200 and degraded" \
    c_healthz_is "$C_URL" '^200 degraded sccache: error: '
t_check "the leader installed it" t_wait 10 t_state_is "$C_URL" 11 success
