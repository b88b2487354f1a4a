#!/usr/bin/env bash
# --jobs N runs N builds at once: each shows as a building/ marker
# while it runs, and the heartbeat counts them and what waits.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_jobs

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
for id in 41 42 43 44 45 46; do b_spec "$P" $id 1; done
# Each build waits for the test's go, so the counts hold still.
cmd='while [ ! -e "'$T_DIR'/go" ]; do sleep 0.05; done
echo ok >"$PIPELINE_OUT"'

b_builder builder --pipelines "$P" --out "$OUT" --worker-id 0 --jobs 4 \
    --heartbeat-interval 1 --build-cmd "$cmd"
markers() { [ "$(ls "$OUT/building" | grep -c json)" = "$1" ]; }
t_wait 5 markers 4 || t_fail "4 builds did not start"
beat() {
    [ "$(jq -c '[.building, .queued]' "$OUT/heartbeat")" = "$1" ]
}
t_check "the heartbeat counts 4 building, 2 queued" t_wait 3 beat '[4,2]'
t_check "a marker per build" \
    [ "$(jq -r '.pipeline_id + "@" + (.version|tostring) + " " + (.worker_id|tostring)' \
        "$OUT"/building/*.json | grep -c '@1 0$')" = 4 ]
sleep 0.5
t_check "never more than 4 at once" markers 4

touch "$T_DIR/go"
for id in 41 42 43 44 45 46; do b_wait_ready 10 "$OUT" $id 1; done
t_check "the heartbeat goes back to idle" t_wait 3 beat '[0,0]'
t_check "no marker left" b_empty "$OUT/building"
pid=$(jq .pid "$OUT/heartbeat")
t_check "the heartbeat names the builder's pid" [ "$pid" = "$PID_builder" ]
