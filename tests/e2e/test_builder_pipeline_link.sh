#!/usr/bin/env bash
# pipeline.json may be a symlink, as in git-sync checkouts and trees
# made by hand: to a file beside it or elsewhere, it is followed, and
# re-pointing it at another version is seen.  A dangling link or one to
# a directory is a bad pipeline.json, logged, never built.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_pipeline_link

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P/.new" "$T_DIR/shared"
printf '{"version": 1}\n' >"$P/.new/real.json"
ln -s real.json "$P/.new/pipeline.json"
mv "$P/.new" "$P/8"
printf '{"version": 3}\n' >"$T_DIR/shared/v3.json"
printf '{"version": 4}\n' >"$T_DIR/shared/v4.json"
mkdir -p "$P/.new"
ln -s ../../shared/v3.json "$P/.new/pipeline.json"
mv "$P/.new" "$P/9"
mkdir -p "$P/.new"
ln -s missing.json "$P/.new/pipeline.json"
mv "$P/.new" "$P/10"
mkdir -p "$P/.new/dir"
ln -s dir "$P/.new/pipeline.json"
mv "$P/.new" "$P/11"

b_builder builder --pipelines "$P" --out "$OUT" --worker-id 0 \
    --build-cmd 'echo "v$PIPELINE_VERSION" >"$PIPELINE_OUT"'
b_wait_ready 10 "$OUT" 8 1
b_wait_ready 10 "$OUT" 9 3
t_check "a link beside it is followed" [ "$(cat "$OUT/artifacts/8@1")" = v1 ]
t_check "a link out of the tree is followed" \
    [ "$(cat "$OUT/artifacts/9@3")" = v3 ]

ln -s ../../shared/v4.json "$P/9/.pipeline.json"
mv -T "$P/9/.pipeline.json" "$P/9/pipeline.json"
b_wait_ready 10 "$OUT" 9 4
t_check "a re-pointed link is a new version" \
    [ "$(cat "$OUT/artifacts/9@4")" = v4 ]

logged() { grep -q "msg=\"bad pipeline: invalid pipeline.json\" pipeline=$1 reason=\"$2" "$T_DIR/builder.log"; }
t_check "a dangling link is logged" t_wait 5 logged 10 \
    'cannot read pipeline.json: No such file or directory'
t_check "a link to a directory is logged" t_wait 5 logged 11 \
    'pipeline.json is not a regular file'
t_check "neither was built" \
    [ -z "$(ls "$OUT/ready" | grep -E '^1[01]@')" ]
