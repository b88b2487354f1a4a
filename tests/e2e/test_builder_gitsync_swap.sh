#!/usr/bin/env bash
# --pipelines is a symlink that git-sync re-points at each new checkout
# (ln -s new tmp && mv -T tmp link).  Every swap is noticed at once by
# inotify (the periodic rescan is set far beyond the test's length),
# including swaps after the first, and a pipeline.json rewritten in
# place inside the current checkout.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_gitsync_swap

G=$T_DIR/git OUT=$T_DIR/out
mkdir -p "$G/rev1"
b_spec "$G/rev1" 17 1 payload rev1
ln -s rev1 "$G/root"

# swap REV: the checkout REV becomes the root, as git-sync does it.
swap() {
    ln -s "$1" "$G/.tmp-link"
    mv -T "$G/.tmp-link" "$G/root"
}

payload_is() { [ "$(cat "$OUT/artifacts/$1")" = "$2" ]; }

b_builder builder --pipelines "$G/root" --out "$OUT" --worker-id 0 \
    --rescan-interval 3600 --build-cmd 'cp "$PIPELINE_SRC/payload" "$PIPELINE_OUT"'
b_wait_ready 10 "$OUT" 17 1
t_check "17@1 holds rev1" payload_is 17@1 rev1

cp -a "$G/rev1" "$G/rev2"
b_spec "$G/rev2" 17 2 payload rev2
b_spec "$G/rev2" 18 1 payload rev2-18
swap rev2
b_wait_ready 3 "$OUT" 17 2
b_wait_ready 3 "$OUT" 18 1
t_check "17@2 holds rev2" payload_is 17@2 rev2
rm -rf "$G/rev1"

# The second swap needs the watches re-added after the first.
cp -a "$G/rev2" "$G/rev3"
b_spec "$G/rev3" 18 2 payload rev3-18
swap rev3
b_wait_ready 3 "$OUT" 18 2
t_check "18@2 holds rev3" payload_is 18@2 rev3-18
rm -rf "$G/rev2"

# Inside the current checkout: pipeline.json rewritten in place.
printf 'rev3-17-v3\n' >"$G/rev3/17/payload"
printf '{"version": 3}\n' >"$G/rev3/17/pipeline.json"
b_wait_ready 3 "$OUT" 17 3
t_check "17@3 holds the rewritten payload" payload_is 17@3 rev3-17-v3

# The root vanishes for a moment and comes back: still followed.
mv -T "$G/root" "$G/.gone"
sleep 0.3
cp -a "$G/rev3" "$G/rev4"
b_spec "$G/rev4" 19 1 payload rev4-19
swap rev4
b_wait_ready 3 "$OUT" 19 1

t_check "each version was built once" \
    [ "$(b_count "$T_DIR/builder.log" 'msg="build started"')" = 6 ]
t_check "the builder is still running" kill -0 "$PID_builder"
