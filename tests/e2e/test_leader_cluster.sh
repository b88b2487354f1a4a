#!/usr/bin/env bash
# /cluster_healthz asks every worker's /healthz at once: 200 while all
# three are healthy; 503 naming the one that is down, the one whose
# builder heartbeat is stale, and the one that does not answer in time
# (within --health-timeout-ms, not the sum of them).  With --pipelines,
# pipelines nobody reported are "pending" with their worker, and while
# that worker is unhealthy: "waiting for worker K: <reason>".
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_cluster

# Worker K listens on port <prefix>K, so that one template names all.
# Below the ephemeral range, as l_port picks.
while :; do
    prefix=$((1000 + RANDOM % 2200))
    ss -Htan | grep -Eq ":${prefix}[0-3] " || break
done
P=$T_DIR/pipelines
mkdir -p "$P"
for id in 3 4 5 6; do
    mkdir -p "$P/.new" && printf '{"version": 1}\n' >"$P/.new/pipeline.json"
    mv "$P/.new" "$P/$id"
done
mkdir -p "$P/.new" && printf '{"version": "one"}\n' >"$P/.new/pipeline.json"
mv "$P/.new" "$P/9"

l_leader leader "${prefix}0" --workers 3 --pipelines "$P" \
    --worker-url-template "http://127.0.0.1:${prefix}{k}" \
    --health-timeout-ms 1000
for k in 1 2; do
    mkdir -p "$T_DIR/out$k"
    t_sidecar "worker$k" "${prefix}$k" --watch "$T_DIR/out$k" \
        --worker-id "$k" --workers 3 --leader "$L_URL" \
        --token-file "$T_DIR/token"
done

cluster() { l_curl "$L_URL/cluster_healthz"; }
L_NO_ERROR=1
test_state() { [ "$(l_field "$1" state) $(l_field "$1" version)" = "$2" ]; }
worker() { jq -r ".workers[] | select(.worker_id == $1) | .$2" \
    "$T_DIR/body"; }
l_expect "all three healthy" 200 cluster
t_check "all_healthy and three workers" \
    [ "$(jq -r '[.all_healthy, (.workers | length)] | @tsv' "$T_DIR/body")" \
      = "$(printf 'true\t3')" ]

# Pending entries while everyone is healthy.
t_check "pipeline 4 is pending for worker 1" \
    [ "$(l_field 4 state) $(l_field 4 worker_id)" = "pending 1" ]
t_check "waiting for worker 1" [ "$(l_field 4 message)" = \
    "waiting for worker 1" ]
t_check "the list holds all four" [ "$(curl -s "$L_URL/v1/status" |
    jq '[.pipelines[] | select(.state == "pending")] | length')" = 4 ]
t_check "a pending entry says since when" \
    grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' <<<"$(l_field 4 \
    updated_at)"
t_check "a pipeline.json with no version is a compile error at version 0" \
    [ "$(l_field 9 state) $(l_field 9 version)" = "compile_error 0" ]
t_check "which says why" grep -q '^invalid pipeline.json: ' \
    <<<"$(l_field 9 message)"

kill -KILL "$PID_worker2"
touch -d '-120 seconds' "$T_DIR/out1/heartbeat"
l_expect "worker 2 down, worker 1's builder stale" 503 cluster
t_check "all_healthy is false" [ "$(jq .all_healthy "$T_DIR/body")" = false ]
t_check "worker 0 is healthy" [ "$(worker 0 healthy)" = true ]
t_check "worker 1 is not: $(worker 1 message)" \
    [ "$(worker 1 healthy)" = false ]
t_check "because of its heartbeat" grep -q heartbeat <<<"$(worker 1 message)"
t_check "worker 2 is not: $(worker 2 message)" \
    [ "$(worker 2 healthy)" = false ]
t_check "pipeline 5 waits for worker 2 with the reason" \
    grep -q '^waiting for worker 2: .' <<<"$(l_field 5 message)"
t_check "pipeline 4 waits for worker 1: heartbeat" \
    grep -q '^waiting for worker 1: .*heartbeat' <<<"$(l_field 4 message)"
t_check "pipeline 3 (worker 0) just waits" \
    [ "$(l_field 3 message)" = "waiting for worker 0" ]

# A worker that accepts connections and never answers: stopped.
touch "$T_DIR/out1/heartbeat"
kill -STOP "$PID_worker1"
start=$(date +%s%N)
l_expect "worker 1 hangs" 503 cluster
ms=$((($(date +%s%N) - start) / 1000000))
kill -CONT "$PID_worker1"
t_check "answered within the timeout, not after (${ms} ms)" \
    [ "$ms" -ge 900 -a "$ms" -lt 1900 ]
t_check "worker 1 timed out: $(worker 1 message)" \
    grep -qi 'time' <<<"$(worker 1 message)"

# Reports end the pending state; a newer pipeline.json brings it back.
l_file "$T_DIR/a" 4
l_expect "pipeline 3 installed" 201 l_put 3 1 "$T_DIR/a"
t_check "pipeline 3 is success" [ "$(l_field 3 state)" = success ]
printf '{"version": 2}\n' >"$P/3/.pipeline.json"
mv "$P/3/.pipeline.json" "$P/3/pipeline.json"
t_check "version 2 on disk: pipeline 3 is pending again" \
    t_wait 5 test_state 3 "pending 2"
t_check "listed once" [ "$(curl -s "$L_URL/v1/status" |
    jq '[.pipelines[] | select(.pipeline_id == "3")] | length')" = 1 ]
l_expect "version 1 is still served" 200 \
    l_curl "$L_URL/v1/binaries/3/latest"

# A sidecar that answers 200 for another ordinal (a template that names
# the wrong pod) is not counted as the worker it stands in for.
kill -KILL "$PID_worker1"
t_sidecar impostor "${prefix}1" --watch "$T_DIR/out2" --worker-id 2 \
    --workers 3 --leader "$L_URL" --token-file "$T_DIR/token"
l_expect "worker 1's address answers as worker 2" 503 cluster
t_check "worker 1 is not healthy: $(worker 1 message)" \
    [ "$(worker 1 healthy)" = false ]
t_check "because it answered for worker 2" \
    grep -q 'answered for worker 2' <<<"$(worker 1 message)"
