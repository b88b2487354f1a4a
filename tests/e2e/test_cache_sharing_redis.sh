#!/usr/bin/env bash
# Workers share compiled objects through ccache's remote storage, here a
# redis (Debian's redis-server): worker 1 builds pipeline 1, then worker
# 2 builds pipeline 2 whose sources are the same, and every unit of it is
# a remote hit on worker 2 (its own cache directory starts empty), while
# redis holds the objects.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
. "$(dirname "$0")/../tools/cache_lib.sh"
t_init cache_sharing_redis
c_need_ccache
c_need_redis

PORT=$(b_port)
c_redis redis "$PORT"
c_share redis "redis://127.0.0.1:$PORT"
t_check "redis holds the objects ($(c_redis_keys "$PORT"))" \
    [ "$(c_redis_keys "$PORT")" -ge $C_UNITS ]
