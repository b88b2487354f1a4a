#!/usr/bin/env bash
# --workers k8s against a stand-in for the Kubernetes API server: a
# small HTTPS server (tests/tools/k8s_api_server.js) with a CA and
# certificate made here by openssl, and a service-account directory
# (token, ca.crt, namespace) as Kubernetes mounts one.
#
# Covered: the API unreachable at start (retried, then a clear error
# and exit 2); a bad token and an unknown StatefulSet (exit 2 at once);
# the API coming up late (the retry succeeds); the replica count read
# and used for assignment; a transient failure during a re-check (a
# warning, no exit); the count changed mid-run (SCALING DETECTED, exit 1),
# for the builder and for the sidecar of the same pod.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_k8s_scaling
command -v node >/dev/null || t_skip "node is not installed"
command -v openssl >/dev/null || t_skip "openssl is not installed"

SA=$T_DIR/sa P=$T_DIR/pipelines
mkdir -p "$SA" "$P"
cd "$T_DIR" || exit 1
ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
openssl req -x509 $ec -keyout ca.key -out "$SA/ca.crt" -days 1 \
    -subj /CN=test-ca 2>/dev/null || t_fail "cannot make the CA"
openssl req $ec -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 \
    2>/dev/null || t_fail "cannot make the server key"
printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext
openssl x509 -req -in srv.csr -CA "$SA/ca.crt" -CAkey ca.key \
    -CAcreateserial -out srv.crt -days 1 -extfile srv.ext 2>/dev/null ||
    t_fail "cannot sign the server certificate"
printf 'sa-token-0123\n' >"$SA/token"
printf 'compilers\n' >"$SA/namespace"
echo 3 >replicas

PORT=$(b_port)
export KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$PORT

api() {
    t_start api node "$T_REPO/tests/tools/k8s_api_server.js" --port "$PORT" \
        --cert srv.crt --key srv.key --token sa-token-0123 \
        --namespace compilers --name binrelay --replicas-file replicas \
        --fail-file fail
    t_wait 10 grep -q listening "$T_DIR/api.log" ||
        t_fail "the API stand-in did not start"
}

# builder NAME ARGS...: the builder as worker 0 of the k8s fleet.
k8s_args() {
    echo --pipelines "$P" --out "$T_DIR/out" --worker-id 0 --workers k8s \
        --k8s-serviceaccount-dir "$SA" --k8s-check-interval 1
}

# 1. Nobody listens: retried with backoff, then exit 2 with the reason.
start=$(date +%s)
"$BIN/builder" $(k8s_args) --statefulset binrelay --k8s-start-timeout 2 \
    >unreachable.log 2>&1
rc=$?
cat unreachable.log
t_check "unreachable API: exit 2 (got $rc)" [ "$rc" = 2 ]
t_check "unreachable API: gave up after about 2 s" \
    [ $(($(date +%s) - start)) -le 5 ]
t_check "unreachable API: retried" \
    [ "$(b_count unreachable.log 'retrying')" -ge 2 ]
t_check "unreachable API: a clear one-line reason" \
    grep -q "^builder: --workers k8s: cannot read spec.replicas of StatefulSet 'binrelay' from the Kubernetes API: " \
    unreachable.log

api
# 2. A token the API refuses, and a StatefulSet it does not know.
printf 'wrong\n' >"$SA/token"
"$BIN/builder" $(k8s_args) --statefulset binrelay >badtoken.log 2>&1
rc=$?
cat badtoken.log
t_check "bad token: exit 2 (got $rc)" [ "$rc" = 2 ]
t_check "bad token: the API's words" \
    grep -q 'HTTP 401 from the API server: Unauthorized' badtoken.log
printf 'sa-token-0123\n' >"$SA/token"
"$BIN/builder" $(k8s_args) --statefulset nosuch >unknown.log 2>&1
rc=$?
cat unknown.log
t_check "unknown StatefulSet: exit 2 (got $rc)" [ "$rc" = 2 ]
t_check "unknown StatefulSet: named" grep -q '"nosuch" not found' unknown.log

# 3. The hostname gives the StatefulSet's name when none is given.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    unshare --uts true 2>/dev/null; then
    unshare --uts sh -c 'hostname binrelay-0 && exec "$0" "$@"' \
        "$BIN/builder" $(k8s_args) --worker-id auto --jobs 1 \
        >hostname.log 2>&1 &
    hpid=$!
    T_PIDS+=("$hpid")
    t_wait 10 grep -q 'msg="builder started"' hostname.log ||
        t_fail "a builder named binrelay-0 did not start"
    t_check "the hostname named the StatefulSet and the worker" \
        grep -q 'worker_id=0 workers=3 source=k8s statefulset="binrelay"' \
        hostname.log
    kill -TERM "$hpid"
    wait "$hpid"
else
    t_log "skipped the hostname case: needs root and unshare --uts"
fi

# 4. The API comes up late: the retries at start succeed.
kill -KILL "$PID_api"
wait "$PID_api" 2>/dev/null
for id in 30 31 32 33 34 35; do b_spec "$P" $id 1; done
b_builder builder $(k8s_args) --statefulset binrelay \
    --k8s-start-timeout 20 --build-cmd 'echo ok >"$PIPELINE_OUT"'
sleep 1.5
t_check "the builder waits for the API" kill -0 "$PID_builder"
api
t_wait 10 grep -q 'msg="builder started"' "$T_DIR/builder.log" ||
    t_fail "the builder did not start once the API answered"
t_check "the replica count was read" grep -q 'workers=3 source=k8s' \
    "$T_DIR/builder.log"
# The pod's other half: the sidecar, worker 0 and so the leader, on the
# same volume and the same StatefulSet.
SPORT=$(b_port)
t_sidecar sidecar "$SPORT" --watch "$T_DIR/out" --worker-id 0 \
    --workers k8s --statefulset binrelay --k8s-serviceaccount-dir "$SA" \
    --k8s-check-interval 1 --store "$T_DIR/store" --token-file "$T_DIR/token"
published() { [ -e "$T_DIR/out/ready/$1.json" -o -e "$T_DIR/out/done/$1.json" ]; }
t_wait 10 published 30@1 || t_fail "30@1 was not built"
t_wait 10 published 33@1 || t_fail "33@1 was not built"
alive() {
    curl -fsS "http://127.0.0.1:$SPORT/healthz" | jq -e '.builder.alive'
}
t_check "the sidecar sees the builder's heartbeat" t_wait 5 alive
sleep 0.5
t_check "as worker 0 of 3 it built 30 and 33 only" \
    [ "$(ls "$T_DIR/out/ready" "$T_DIR/out/done" 2>/dev/null | grep json |
        sort | tr '\n' ' ')" = "30@1.json 33@1.json " ]

# 5. A transient failure during a re-check is only a warning.
touch fail
t_wait 5 grep -q 'cannot re-check' "$T_DIR/builder.log" ||
    t_fail "the failed re-check was not logged"
sleep 1.5
t_check "a failed re-check does not stop the builder" kill -0 "$PID_builder"
t_check "nor the sidecar" kill -0 "$PID_sidecar"
rm fail

# 6. Scaled from 3 to 4 replicas: SCALING DETECTED and exit 1.
echo 4 >replicas
t_wait 6 sh -c "! kill -0 $PID_builder" ||
    t_fail "the builder did not exit after the replica count changed"
wait "$PID_builder"
rc=$?
t_check "exit 1 after scaling (got $rc)" [ "$rc" = 1 ]
t_check "SCALING DETECTED was logged at error level" \
    grep -q 'level=error prog=builder msg="SCALING DETECTED: StatefulSet has 4 replicas but compiler was started with 3 workers"' \
    "$T_DIR/builder.log"
t_wait 10 sh -c "! kill -0 $PID_sidecar" ||
    t_fail "the sidecar did not exit after the replica count changed"
wait "$PID_sidecar"
rc=$?
t_check "the sidecar exits 1 too (got $rc)" [ "$rc" = 1 ]
t_check "and logs SCALING DETECTED" \
    grep -q 'level=error prog=sidecar msg="SCALING DETECTED: StatefulSet has 4 replicas but compiler was started with 3 workers"' \
    "$T_DIR/sidecar.log"
