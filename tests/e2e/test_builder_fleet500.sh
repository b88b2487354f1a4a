#!/usr/bin/env bash
# 500 pipelines, decimal and UUID ids, one pipelines directory, three
# builders (workers 0, 1, 2 of 3) each with its own volume: every
# pipeline is built exactly once, by the worker hash(id) % 3 assigns
# it to (worked out here in bash, apart from the C code).  A builder
# restarted afterwards rebuilds nothing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_fleet500

P=$T_DIR/pipelines
mkdir -p "$P"
ids=()
for i in $(seq 1 440); do ids+=("$((i * 7919))"); done
for i in $(seq 1 60); do ids+=("$(cat /proc/sys/kernel/random/uuid)"); done
for id in "${ids[@]}"; do
    mkdir "$P/.new-$id"
    printf '{"version": 1}\n' >"$P/.new-$id/pipeline.json"
    mv "$P/.new-$id" "$P/$id"
done

start_worker() {
    local w=$1
    b_builder "w$w" --pipelines "$P" --out "$T_DIR/out$w" --worker-id "$w" \
        --workers 3 --jobs 4 --build-cmd \
        'printf %s "$PIPELINE_ID" >"$PIPELINE_OUT"; echo "$PIPELINE_ID" >>"'$T_DIR/runs$w'"'
}
for w in 0 1 2; do start_worker $w; done

all_built() { [ "$(ls "$T_DIR"/out[012]/ready | grep -c json)" = 500 ]; }
t_wait 45 all_built || t_fail "only $(ls "$T_DIR"/out[012]/ready | grep -c json) of 500 built"
sleep 1

t_check "500 results in all" \
    [ "$(ls "$T_DIR"/out[012]/ready | grep -c json)" = 500 ]
t_check "500 builds ran in all, none twice" \
    [ "$(cat "$T_DIR"/runs[012] | sort | uniq | wc -l)" = 500 -a \
      "$(cat "$T_DIR"/runs[012] | wc -l)" = 500 ]
wrong=0
for id in "${ids[@]}"; do
    w=$(b_worker "$id" 3)
    if [ ! -f "$T_DIR/out$w/ready/$id@1.json" ] ||
        [ "$(cat "$T_DIR/out$w/artifacts/$id@1")" != "$id" ]; then
        echo "$id: not built by worker $w"
        wrong=$((wrong + 1))
    fi
done
t_check "each pipeline built by its own worker" [ "$wrong" = 0 ]
for w in 0 1 2; do
    t_check "worker $w got a share" [ "$(wc -l <"$T_DIR/runs$w")" -gt 100 ]
done

# Restarted, worker 1 finds everything of its share already published.
kill -TERM "$PID_w1"
wait "$PID_w1"
before=$(wc -l <"$T_DIR/runs1")
start_worker 1
t_wait 5 grep -q 'msg="builder started"' "$T_DIR/w1.log"
sleep 1.5
t_check "a restarted builder rebuilds nothing" \
    [ "$(wc -l <"$T_DIR/runs1")" = "$before" ]
