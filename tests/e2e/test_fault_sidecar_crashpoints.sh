#!/usr/bin/env bash
# The worker's sidecar is SIGKILLed at the two steps a signal from outside
# cannot hit on purpose: right after hashing a result, and after the
# leader acknowledged it but before the ledger recorded it.  Restarted, it
# ships each result so that it ends installed exactly once, with the right
# hash, and the ledger and the volume end clean.
. "$(dirname "$0")/../lib.sh"
t_init fault_sidecar_crashpoints

port=$(t_port 2)
leader=http://127.0.0.1:$port
t_sidecar leader "$port" --watch "$T_DIR/out0" --worker-id 0 --workers 2 \
    --store "$T_DIR/store" --token-file "$T_DIR/token"

worker() {
    t_sidecar worker $((port + 1)) --watch "$T_DIR/out1" --worker-id 1 \
        --workers 2 --leader "$leader" --token-file "$T_DIR/token" \
        --upload-retry-delay-ms 100
}

v=0
for point in ship-after-hash ship-after-ack; do
    v=$((v + 1))
    head -c 3000000 /dev/urandom >"$T_DIR/blob$v"
    BINRELAY_CRASHPOINT=$point worker
    t_publish "$T_DIR/out1" 77 "$v" "$T_DIR/blob$v"
    wait "$PID_worker"
    rc=$?
    t_check "the sidecar died at $point (status $rc)" [ "$rc" -eq 137 ]
    grep -q "point=$point" "$T_DIR/worker.log" ||
        t_fail "the crashpoint $point was not the cause"

    worker
    t_check "77@$v installed after the restart" \
        t_wait 20 t_state_is "$leader" 77 success
    t_wait 10 test -f "$T_DIR/out1/done/77@$v.json" ||
        t_fail "77@$v is not in the ledger"
    want=$(xxhsum -H2 "$T_DIR/blob$v" | cut -d' ' -f1)
    got=$(curl -s "$leader/v1/status/77" | jq -r .xxh128)
    t_check "77@$v has the published hash" [ "$want" = "$got" ]
    n=$(grep -c "msg=\"binary installed\" pipeline=77 version=$v " \
        "$T_DIR/leader.log")
    t_check "77@$v installed exactly once ($n)" [ "$n" -eq 1 ]
    if [ "$point" = ship-after-ack ]; then
        t_check "the leader answered the re-upload 200 (identical)" \
            grep -q "pipeline=77 version=$v code=200" "$T_DIR/worker.log"
    fi
    t_check "the artifact left the volume" \
        t_wait 5 test ! -e "$T_DIR/out1/artifacts/77@$v"
    kill -TERM "$PID_worker"
    wait "$PID_worker"
done
t_check "the store keeps its invariants" t_store_invariants "$T_DIR/store"
