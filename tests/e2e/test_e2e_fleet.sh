#!/usr/bin/env bash
# The whole path: 3 workers, 12 pipelines dropped into one directory.
# Each is built by the worker it is assigned to, shipped by that
# worker's sidecar and installed by the leader; every binary downloaded
# from the leader runs and prints what its pipeline prints, and the one
# that does not compile is a compile_error in the compiler's own words.
. "$(dirname "$0")/../lib.sh"
t_init e2e_fleet

P=$T_DIR/pipelines
mkdir -p "$P"
port=$(t_port 3)
t_fleet 3 "$port" "$P"

# The examples, dropped in as a drop-in must be: a dot name, then a rename.
while read -r id expected; do
    cp -r "$T_REPO/examples/$id" "$P/.$id"
    mv "$P/.$id" "$P/$id"
done <"$T_REPO/examples/expected.txt"
# Six more, so that 12 pipelines spread over the 3 workers.
for id in 21 22 23 a0000000-0000-4000-8000-000000000001 \
    b0000000-0000-4000-8000-000000000002 c0000000-0000-4000-8000-000000000003; do
    t_pipeline "$P" "$id" 1
    echo "$id pipeline $id" >>"$T_DIR/expected.txt"
done
cat "$T_REPO/examples/expected.txt" >>"$T_DIR/expected.txt"
[ "$(wc -l <"$T_DIR/expected.txt")" -eq 12 ] || t_fail "expected 12 pipelines"

all_done() {
    local id expected state
    while read -r id expected; do
        state=$(t_status "$T_LEADER" "$id")
        case $state in success | compile_error) ;; *) return 1 ;; esac
    done <"$T_DIR/expected.txt"
}
t_check "all 12 pipelines finished" t_wait 60 all_done

workers_seen=""
while read -r id expected; do
    entry=$(curl -s "$T_LEADER/v1/status/$id")
    state=$(jq -r .state <<<"$entry")
    worker=$(jq -r .worker_id <<<"$entry")
    owner=$(( $(t_owner "$id" 3) ))
    [ "$worker" = "$owner" ] ||
        t_fail "$id was reported by worker $worker, assigned to $owner"
    workers_seen+=" $worker"
    if [ "$expected" = compile_error ]; then
        [ "$state" = compile_error ] || t_fail "$id: state $state"
        jq -r .message <<<"$entry" | grep -q "error:.*undeclared" ||
            t_fail "$id: the message lacks the compiler's words"
        t_log "ok: $id is compile_error with the compiler's message"
        continue
    fi
    [ "$state" = success ] || t_fail "$id: state $state"
    curl -fsS -o "$T_DIR/$id.bin" "$T_LEADER/v1/binaries/$id/1" ||
        t_fail "$id: download failed"
    [ "$(xxhsum -H2 "$T_DIR/$id.bin" | cut -d' ' -f1)" = \
        "$(jq -r .xxh128 <<<"$entry")" ] || t_fail "$id: hash differs"
    chmod +x "$T_DIR/$id.bin"
    out=$("$T_DIR/$id.bin" | head -n 1)
    [ "$out" = "$expected" ] || t_fail "$id printed '$out', not '$expected'"
    t_log "ok: $id ran: $out"
done <"$T_DIR/expected.txt"

for k in 0 1 2; do
    grep -qw "$k" <<<"$workers_seen" || t_fail "worker $k built nothing"
done
t_check "the cluster is healthy" t_http_ok "$T_LEADER/cluster_healthz"
