#!/usr/bin/env bash
# Versions grow.  A pipeline.json rewritten with a version older than
# what is published is not built, and the builder says so once, with
# both numbers, however many rescans follow; a builder started on such
# a pipeline says it too.  A build overtaken by an older version (not
# yet published) is cancelled and the older one built.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_version_down

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
cmd='[ "$PIPELINE_ID@$PIPELINE_VERSION" != 8@9 ] || sleep 300
echo "v$PIPELINE_VERSION" >"$PIPELINE_OUT"'
b_spec "$P" 7 5
b_builder first --pipelines "$P" --out "$OUT" --worker-id 0 --jobs 2 \
    --rescan-interval 1 --build-cmd "$cmd"
b_wait_ready 10 "$OUT" 7 5
b_spec "$P" 7 3
warned() {
    [ "$(b_count "$T_DIR/$1.log" 'msg="pipeline.json names an older version; not built" pipeline=7 version=3 published=5')" = 1 ]
}
t_check "the older version is logged" t_wait 5 warned first
sleep 2.5
t_check "once, over several rescans" warned first
t_check "and not built" [ ! -e "$OUT/ready/7@3.json" ]

b_spec "$P" 8 9
t_wait 5 [ -e "$OUT/building/8@9.json" ] || t_fail "8@9 did not start"
b_spec "$P" 8 4
b_wait_ready 10 "$OUT" 8 4
t_check "8@9 was cancelled for the older version" grep -q \
    'msg="build cancelled" pipeline=8 version=9 reason="pipeline.json names an older version"' \
    "$T_DIR/first.log"
t_check "8@4 was built" [ "$(cat "$OUT/artifacts/8@4")" = v4 ]

kill -TERM "$PID_first"
wait "$PID_first"
b_builder second --pipelines "$P" --out "$OUT" --worker-id 0 \
    --build-cmd "$cmd"
t_check "a builder started on it says so too" t_wait 5 warned second
