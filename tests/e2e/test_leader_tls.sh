#!/usr/bin/env bash
# HTTPS with --tls-cert/--tls-key: a CA and a server certificate made
# with openssl, mounted through symlinks as from a Secret.  curl trusting
# the CA uploads and downloads, curl trusting nothing is refused by its
# own verification, and plain HTTP on the TLS port gets no answer.
# Missing or unreadable key files stop the start (exit 2).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_tls
command -v openssl >/dev/null || t_skip "needs the openssl command"

cd "$T_DIR"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca \
    -keyout ca.key -out ca.pem 2>/dev/null || t_fail "cannot make a CA"
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
    -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
    -CAcreateserial -days 2 -extfile ext.cnf -out server.pem 2>/dev/null ||
    t_fail "cannot sign the server certificate"
cd - >/dev/null

# Mounted as Kubernetes mounts a TLS Secret: symlinks into "..data".
K=$T_DIR/tls
mkdir -p "$K/..v1"
cp "$T_DIR/server.pem" "$K/..v1/tls.crt"
cp "$T_DIR/server.key" "$K/..v1/tls.key"
ln -s ..v1 "$K/..data"
ln -s ..data/tls.crt "$K/tls.crt"
ln -s ..data/tls.key "$K/tls.key"

port=$(l_port)
mkdir -p "$T_DIR/out0"
t_start leader "$BIN/sidecar" --watch "$T_DIR/out0" --worker-id 0 \
    --store "$T_DIR/store" --token-file "$T_DIR/token" \
    --listen "127.0.0.1:$port" --tls-cert "$K/tls.crt" \
    --tls-key "$K/tls.key"
L_URL=https://127.0.0.1:$port
tls() { l_curl --cacert "$T_DIR/ca.pem" "$@"; }
t_check "the leader serves HTTPS" \
    t_wait 10 curl -fsS -o /dev/null --cacert "$T_DIR/ca.pem" \
    "$L_URL/healthz"
t_check "it says so" grep -q 'tls=yes' "$T_DIR/leader.log"

l_file "$T_DIR/a" 300
A=$(l_hash "$T_DIR/a")
l_expect "an upload over TLS" 201 tls -X PUT -T "$T_DIR/a" \
    -H "Authorization: Bearer $T_TOKEN" -H "X-Content-Xxh128: $A" \
    "$L_URL/v1/binaries/6/1"
l_expect "a download over TLS" 200 tls "$L_URL/v1/binaries/6/1"
t_check "intact" cmp -s "$T_DIR/body" "$T_DIR/a"
l_expect "a refusal over TLS is JSON too" 401 tls -X PUT -T "$T_DIR/a" \
    -H "X-Content-Xxh128: $A" "$L_URL/v1/binaries/6/2"
got=$(l_curl "$L_URL/healthz")
t_check "a client that does not trust the CA fails to verify ($got)" \
    [ "$got" = 000 ]
got=$(l_curl "http://127.0.0.1:$port/healthz")
t_check "plain HTTP on the TLS port gets no HTTP answer ($got)" \
    [ "$got" = 000 ]
t_check "still serving" \
    curl -fsS -o /dev/null --cacert "$T_DIR/ca.pem" "$L_URL/healthz"

"$BIN/sidecar" --watch "$T_DIR/out0" --worker-id 0 --store "$T_DIR/s2" \
    --token-file "$T_DIR/token" --listen "127.0.0.1:$(l_port)" \
    --tls-cert "$T_DIR/server.pem" >"$T_DIR/half.out" 2>&1
t_check "--tls-cert without --tls-key: exit 2" [ $? -eq 2 ]
timeout 10 "$BIN/sidecar" --watch "$T_DIR/out0" --worker-id 0 \
    --store "$T_DIR/s2" --token-file "$T_DIR/token" \
    --listen "127.0.0.1:$(l_port)" --tls-cert "$T_DIR/server.pem" \
    --tls-key "$T_DIR/nope.key" >"$T_DIR/nokey.out" 2>&1
rc=$?
t_check "an unreadable key is a configuration error (exit $rc)" [ "$rc" = 2 ]
t_check "naming the file" grep -q 'nope.key' "$T_DIR/nokey.out"
t_check "the key is in no log" \
    eval '! grep -q "PRIVATE KEY" "$T_DIR"/*.log "$T_DIR"/*.out'
