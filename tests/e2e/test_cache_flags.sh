#!/usr/bin/env bash
# The cache's flags and what a build sees: bad values exit 2 with a
# one-line reason; SCCACHE_BUCKET switches sccache on unless
# --compiler-cache says otherwise; BINRELAY_COMPILER_CACHE works as the
# flag; with sccache a build gets CC, CXX and RUSTC_WRAPPER wrapped, the
# SCCACHE_* variables and exactly the AWS_* names sccache's S3 backend
# reads (the secret masked in the result), and nothing else of AWS_*.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
. "$(dirname "$0")/../tools/cache_lib.sh"
t_init cache_flags
c_need_ccache
command -v sccache >/dev/null || t_skip "sccache is not installed"

P=$T_DIR/pipelines
mkdir -p "$P"
export SCCACHE_SERVER_PORT=$(b_port)
trap 'sccache --stop-server >/dev/null 2>&1; t_cleanup' EXIT

# refused ARGS...: the builder exits 2 with one line naming the problem.
refused() {
    local out rc
    out=$("$BIN/builder" --pipelines "$P" --out "$T_DIR/bad" --worker-id 0 \
        "$@" 2>&1)
    rc=$?
    echo "$out"
    [ "$rc" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ]
}
t_check "--compiler-cache bogus is refused" refused --compiler-cache bogus
t_check "--ccache-remote-storage without ccache is refused" \
    refused --ccache-remote-storage redis://127.0.0.1:1

# env_of OUT ID: the build's environment, as its log shows it.
cmd='env | sort >&2; make -C "$PIPELINE_SRC" OUT="$PIPELINE_OUT"'
env_has() { b_field "$1" "$2" 1 log | grep -qxF -- "$3"; }

SCCACHE_BUCKET=binrelay-test b_builder none --pipelines "$P" \
    --out "$T_DIR/out-none" --worker-id 0 --workers 3 \
    --compiler-cache none --build-cmd "$cmd"
t_pipeline "$P" 3 1
b_wait_ready 20 "$T_DIR/out-none" 3 1
t_check "--compiler-cache none wins over SCCACHE_BUCKET" \
    env_has "$T_DIR/out-none" 3 "SCCACHE_BUCKET=binrelay-test"
t_check "and CC is not wrapped" \
    eval '! b_field "$T_DIR/out-none" 3 1 log | grep -q "^CC="'
t_check "the heartbeat has no cache" \
    [ "$(jq -c .cache "$T_DIR/out-none/heartbeat")" = null ]

BINRELAY_COMPILER_CACHE=ccache b_builder env --pipelines "$P" \
    --out "$T_DIR/out-env" --worker-id 1 --workers 3 --build-cmd "$cmd"
t_pipeline "$P" 4 1
b_wait_ready 20 "$T_DIR/out-env" 4 1
t_check "BINRELAY_COMPILER_CACHE=ccache wraps CC in ccache" \
    env_has "$T_DIR/out-env" 4 "CC=ccache cc"

AWS_PASSED="AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
AWS_PROFILE=ci AWS_SHARED_CREDENTIALS_FILE=/creds AWS_CONFIG_FILE=/config
AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1
AWS_ROLE_ARN=arn:aws:iam::1:role/r
AWS_ROLE_SESSION_NAME=binrelay AWS_WEB_IDENTITY_TOKEN_FILE=/token"
# shellcheck disable=SC2086
env $AWS_PASSED AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
    AWS_SESSION_TOKEN=tok-0123456789 \
    AWS_UNRELATED=nope AWS_CA_BUNDLE=/ca SCCACHE_S3_KEY_PREFIX=fleet \
    "$BIN/builder" --pipelines "$P" --out "$T_DIR/out-sccache" --worker-id 2 \
    --workers 3 --compiler-cache sccache --build-cmd "$cmd" \
    >>"$T_DIR/sccache.log" 2>&1 &
T_PIDS+=("$!")
t_pipeline "$P" 5 1
b_wait_ready 20 "$T_DIR/out-sccache" 5 1
O=$T_DIR/out-sccache
t_check "CC is sccache cc" env_has "$O" 5 "CC=sccache cc"
t_check "CXX is sccache c++" env_has "$O" 5 "CXX=sccache c++"
t_check "RUSTC_WRAPPER is sccache" env_has "$O" 5 "RUSTC_WRAPPER=sccache"
t_check "SCCACHE_* passes" env_has "$O" 5 "SCCACHE_S3_KEY_PREFIX=fleet"
t_check "SCCACHE_DIR is in the volume" \
    env_has "$O" 5 "SCCACHE_DIR=$O/cache/sccache"
for v in $AWS_PASSED; do
    t_check "$v passes" env_has "$O" 5 "$v"
done
t_check "AWS_SECRET_ACCESS_KEY passes, masked in the result" \
    env_has "$O" 5 "AWS_SECRET_ACCESS_KEY=***"
t_check "AWS_SESSION_TOKEN passes, masked in the result" \
    env_has "$O" 5 "AWS_SESSION_TOKEN=***"
t_check "other AWS_* names do not pass" \
    eval '! b_field "$O" 5 1 log | grep -E "^AWS_(UNRELATED|CA_BUNDLE)="'
t_check "the build succeeded through sccache" \
    [ "$(b_field "$O" 5 1 state)" = success ]
