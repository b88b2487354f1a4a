#!/usr/bin/env bash
# A build sees only the allow-listed environment: toolchain and cache
# variables pass, everything else (BINRELAY_* with the upload token
# above all) does not.  It runs in its own process group, in a working
# dir of its own inside OUT that is also its HOME and TMPDIR and starts
# empty, with PIPELINE_OUT beside it, stdin from /dev/null and
# PIPELINE_SRC under --pipelines.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_env

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
b_spec "$P" 31 1
cmd='{ env; echo "cwd=$(pwd -P)"; echo "stdin=$(readlink /proc/$$/fd/0)"
  echo "entries=$(ls -A | wc -l)"
  echo "pgid=$(cut -d" " -f5 /proc/$$/stat) pid=$$"; } >"$PIPELINE_OUT"'

export BINRELAY_TOKEN_FILE=$T_DIR/token SECRET_THING=do-not-leak \
    AWS_REGION=eu-west-1 SCCACHE_DIR=/cache CCACHE_DIR=/ccache CC=gcc \
    CFLAGS=-O1 LANG=C.UTF-8 TZ=UTC HOME=/root TMPDIR=/var/tmp
b_builder builder --pipelines "$P" --out "$OUT" --worker-id 0 \
    --build-cmd "$cmd"
b_wait_ready 10 "$OUT" 31 1
E=$OUT/artifacts/31@1
cat "$E"

allowed='^(PATH|HOME|LANG|LC_ALL|TZ|TMPDIR|PIPELINE_ID|PIPELINE_VERSION|PIPELINE_SRC|PIPELINE_OUT|SCCACHE_[A-Z0-9_]*|AWS_[A-Z0-9_]*|RUSTC_WRAPPER|CC|CXX|CFLAGS|CXXFLAGS|LDFLAGS|CPPFLAGS|MAKEFLAGS|CCACHE_[A-Z0-9_]*|CARGO_HOME|RUSTUP_HOME|PWD|SHLVL|_|OLDPWD)='
val() { sed -n "s/^$1=//p" "$E"; }
work=$(val cwd)

t_check "no BINRELAY_ variable" [ -z "$(grep '^BINRELAY_' "$E")" ]
t_check "no other variable" [ -z "$(grep '^SECRET_THING' "$E")" ]
t_check "only allow-listed names (sh adds PWD, SHLVL, _)" \
    [ -z "$(grep '^[A-Za-z_][A-Za-z0-9_]*=' "$E" | grep -Ev "$allowed" |
        grep -Ev '^(cwd|stdin|pgid|entries)=')" ]
t_check "cache and toolchain variables pass" \
    [ "$(val AWS_REGION) $(val SCCACHE_DIR) $(val CCACHE_DIR) $(val CC)" = \
      "eu-west-1 /cache /ccache gcc" ]
t_check "PIPELINE_ID and VERSION" \
    [ "$(val PIPELINE_ID)@$(val PIPELINE_VERSION)" = 31@1 ]
t_check "PIPELINE_SRC is the pipeline under --pipelines" \
    [ "$(val PIPELINE_SRC)" = "$P/31" ]
t_check "the working dir is in OUT/tmp" \
    [ "${work#"$(cd "$OUT/tmp" && pwd -P)/"}" != "$work" ]
t_check "HOME and TMPDIR are the working dir" \
    [ "$(val HOME)" = "$(val PWD)" -a "$(val TMPDIR)" = "$(val PWD)" ]
t_check "the working dir starts empty" [ "$(val entries)" = 0 ]
t_check "PIPELINE_OUT is beside the working dir, not in it" \
    [ "$(dirname "$(val PIPELINE_OUT)")" = "$(dirname "$(val HOME)")" ]
t_check "stdin is /dev/null" [ "$(val stdin)" = /dev/null ]
t_check "the build leads its own process group" \
    grep -Eq '^pgid=([0-9]+) pid=\1$' "$E"
