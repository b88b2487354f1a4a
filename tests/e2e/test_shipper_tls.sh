#!/usr/bin/env bash
# HTTPS end to end: the test makes a CA and a certificate for the leader
# with openssl; the leader serves HTTPS, and a worker trusting the CA
# (--ca-file) ships through it.  A worker that does not trust the CA
# refuses the connection and says why.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/ship_lib.sh"
t_init shipper_tls
command -v openssl >/dev/null || t_skip "openssl is not installed"

pki=$T_DIR/pki
mkdir -p "$pki"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$pki/ca.key" -out "$pki/ca.pem" \
    -days 2 -subj /CN=binrelay-test-ca 2>/dev/null ||
    t_fail "cannot make the CA"
openssl req "${ec[@]}" -keyout "$pki/leader.key" -out "$pki/leader.csr" \
    -subj /CN=127.0.0.1 2>/dev/null || t_fail "cannot make the request"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$pki/ext"
openssl x509 -req -in "$pki/leader.csr" -CA "$pki/ca.pem" \
    -CAkey "$pki/ca.key" -CAcreateserial -out "$pki/leader.pem" -days 2 \
    -extfile "$pki/ext" 2>/dev/null || t_fail "cannot sign the certificate"

ship_ports LP WP W2P
T_LEADER=https://127.0.0.1:$LP
t_start leader "$BIN/sidecar" --listen "127.0.0.1:$LP" --watch "$T_DIR/out0" \
    --worker-id 0 --workers 3 --store "$T_DIR/store" \
    --token-file "$T_DIR/token" --tls-cert "$pki/leader.pem" \
    --tls-key "$pki/leader.key"
lcurl() { curl -s --max-time 5 --cacert "$pki/ca.pem" "$@"; }
t_check "the leader serves HTTPS" t_wait 10 lcurl -f "$T_LEADER/healthz"

ship_worker w "$WP" "$T_LEADER" --ca-file "$pki/ca.pem"
ship_random "$T_DIR/a.bin" 4
t_publish "$T_DIR/out1" 21 1 "$T_DIR/a.bin"
tls_state_is() {
    [ "$(lcurl "$T_LEADER/v1/status/$1" | jq -r .state)" = "$2" ]
}
t_check "installed over HTTPS" t_wait 20 tls_state_is 21 success
lcurl -f "$T_LEADER/v1/binaries/21/1" -o "$T_DIR/got.bin"
t_check "intact" test "$(ship_hash "$T_DIR/got.bin")" = \
    "$(ship_hash "$T_DIR/a.bin")"

t_log "a worker without the CA"
t_sidecar w2 "$W2P" --watch "$T_DIR/out2" --worker-id 2 --workers 3 \
    --leader "$T_LEADER" --token-file "$T_DIR/token" \
    --upload-retries 1 --upload-retry-delay-ms 100
t_publish "$T_DIR/out2" 22 1 "$T_DIR/a.bin"
t_check "it gives up" \
    t_wait 20 ship_own_state_is "http://127.0.0.1:$W2P" 22 system_error
msg=$(ship_message "http://127.0.0.1:$W2P" 22)
t_log "its reason: $msg"
t_check "because the certificate is not trusted" \
    grep -qi 'certificate' <<<"$msg"
t_check "the leader installed nothing from it" \
    test "$(lcurl "$T_LEADER/v1/status/22" | jq -r '.state // "none"')" != success
exit 0
