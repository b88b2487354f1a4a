#!/usr/bin/env bash
# Workers share compiled objects through ccache's remote storage: worker
# 1 builds pipeline 1, then worker 2 builds pipeline 2 whose sources are
# the same, and every unit of it is a remote hit on worker 2 (its own
# cache directory starts empty), while the store holds the objects.
# Once through redis (Debian's redis-server), once through an S3 bucket
# (s3rver, over ccache's http backend).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
. "$(dirname "$0")/../tools/cache_lib.sh"
t_init cache_sharing
c_need_ccache
c_need_redis

UNITS=4 # main.c and three more

# share NAME URL: the two workers, on volumes of their own, through URL.
share() {
    local name=$1 url=$2 p=$T_DIR/$1/pipelines k
    mkdir -p "$p"
    for k in 1 2; do
        b_builder "$name-w$k" --pipelines "$p" --out "$T_DIR/$name/out$k" \
            --worker-id "$k" --workers 3 --compiler-cache ccache \
            --ccache-remote-storage "$url" --build-cmd "$(c_build_cmd)"
    done
    c_pipeline "$p" 1
    b_wait_ready 30 "$T_DIR/$name/out1" 1 1
    c_pipeline "$p" 2
    b_wait_ready 30 "$T_DIR/$name/out2" 2 1
    for k in 1 2; do
        t_check "$name: worker $k built its pipeline" \
            [ "$(b_field "$T_DIR/$name/out$k" "$k" 1 state)" = success ]
    done
    t_check "$name: the binary works" \
        [ "$("$T_DIR/$name/out2/artifacts/2@1")" = "sum 18" ]
    t_check "$name: worker 1 wrote to the store" \
        [ "$(c_stat "$T_DIR/$name/out1" remote_storage_write)" -ge $UNITS ]
    t_check "$name: worker 2 found every unit in the store" \
        [ "$(c_stat "$T_DIR/$name/out2" remote_storage_hit)" = $UNITS ]
    t_check "$name: and compiled none itself" \
        [ "$(c_stat "$T_DIR/$name/out2" cache_miss)" = 0 ]
    t_check "$name: no remote storage error" \
        [ "$(c_stat "$T_DIR/$name/out2" remote_storage_error)" = 0 ]
    t_check "$name: the heartbeat says the cache is ok" \
        [ "$(jq -r .cache.status "$T_DIR/$name/out2/heartbeat")" = ok ]
}

REDIS_PORT=$(b_port)
c_redis redis "$REDIS_PORT"
share redis "redis://127.0.0.1:$REDIS_PORT"
t_check "redis holds the objects ($(c_redis_keys "$REDIS_PORT"))" \
    [ "$(c_redis_keys "$REDIS_PORT")" -ge $UNITS ]

S3_PORT=$(b_port)
c_s3rver s3 "$S3_PORT" ccache
share s3 "http://127.0.0.1:$S3_PORT/ccache|layout=flat"
t_check "the bucket holds the objects ($(c_s3_objects s3 ccache))" \
    [ "$(c_s3_objects s3 ccache)" -ge $UNITS ]
