#!/usr/bin/env bash
# make demo: a local fleet of 3 workers on loopback builds the examples.
#
# Worker K gets its own shared volume (build/demo/out<K>) and sidecar
# port; worker 0 is the leader and keeps the store (build/demo/store).
# The example pipelines are dropped in, and once every one is done the
# leader's status is printed as a table and the fleet is stopped with
# SIGTERM, as Kubernetes would.
set -u
cd "$(dirname "$0")/.."
export BINRELAY_TEST_ROOT=$PWD/build
. tests/lib.sh
t_init demo >/dev/null
T_PIDS_DEMO=()

port=$(t_port 3)
P=$T_DIR/pipelines
mkdir -p "$P"
echo "starting 3 workers on 127.0.0.1:$port..$((port + 2)) in $T_DIR"
t_fleet 3 "$port" "$P"

ids=()
while read -r id _; do
    cp -r "examples/$id" "$P/.$id" && mv "$P/.$id" "$P/$id"
    ids+=("$id")
done <examples/expected.txt
echo "dropped ${#ids[@]} example pipelines into $P"

finished() {
    local id
    for id in "${ids[@]}"; do
        case $(t_status "$T_LEADER" "$id") in
        success | compile_error | system_error) ;;
        *) return 1 ;;
        esac
    done
}
if ! t_wait 120 finished; then
    echo "demo: not every pipeline finished within 120 s; logs in $T_DIR"
    exit 1
fi

echo
printf '%-38s %-8s %-14s %-7s %s\n' PIPELINE WORKER STATE BYTES XXH128
curl -s "$T_LEADER/v1/status" | jq -r '.pipelines | sort_by(.pipeline_id)[] |
    [.pipeline_id, (.worker_id|tostring), .state, (.size // "-"|tostring),
     (.xxh128 // "-")] | @tsv' |
    while IFS=$'\t' read -r id w st size x; do
        printf '%-38s %-8s %-14s %-7s %s\n' "$id" "$w" "$st" "$size" "$x"
    done
curl -s "$T_LEADER/v1/status" | jq -r '.pipelines[] |
    select(.state == "compile_error") | [.pipeline_id, .message] | @tsv' |
    while IFS=$'\t' read -r id msg; do
        printf '\n%s failed to compile; its log says:\n' "$id"
        printf '%b\n' "$msg" | grep -m 3 -E 'error|Error' | sed 's/^/    /'
    done
if curl -sf -o "$T_DIR/prog-8" "$T_LEADER/v1/binaries/8/latest"; then
    chmod +x "$T_DIR/prog-8"
    printf '\npipeline 8, fetched from the leader and run: %s\n' \
        "$("$T_DIR/prog-8")"
fi
echo
echo "binaries: $T_LEADER/v1/binaries/<id>/latest" \
    "(e.g. curl -o prog $T_LEADER/v1/binaries/8/latest)"
echo "cluster:  $(curl -s "$T_LEADER/cluster_healthz" | jq -c .)"

echo
echo "stopping the fleet (SIGTERM)"
for pid in "${T_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
done
rc=0
for pid in "${T_PIDS[@]}"; do
    wait "$pid" || rc=1
done
T_PIDS=()
[ "$rc" -eq 0 ] && echo "every process exited 0" ||
    echo "demo: a process exited non-zero; logs in $T_DIR"
exit "$rc"
