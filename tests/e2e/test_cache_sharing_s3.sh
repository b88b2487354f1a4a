#!/usr/bin/env bash
# Workers share compiled objects through ccache's remote storage, here an
# S3 bucket (s3rver from npm, spoken to by ccache's http backend): worker
# 1 builds pipeline 1, then worker 2 builds pipeline 2 whose sources are
# the same, and every unit of it is a remote hit on worker 2 (its own
# cache directory starts empty), while the bucket holds the objects.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
. "$(dirname "$0")/../tools/cache_lib.sh"
t_init cache_sharing_s3
c_need_ccache

PORT=$(b_port)
c_s3rver s3 "$PORT" ccache
c_share s3 "http://127.0.0.1:$PORT/ccache|layout=flat"
t_check "the bucket holds the objects ($(c_s3_objects s3 ccache))" \
    [ "$(c_s3_objects s3 ccache)" -ge $C_UNITS ]
