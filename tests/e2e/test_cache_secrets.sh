#!/usr/bin/env bash
# The compiler cache's errors reach the results verbatim, but never a
# credential: passwords in store URLs, their query strings (a presigned
# S3 URL's signature) and AWS_SECRET_ACCESS_KEY are masked in the
# manifests, the leader's status, /healthz and every log.  A fleet of
# two on loopback:
#  - worker 0: ccache with two unreachable stores whose URLs carry
#    credentials (redis://u:hunter2@..., http://u:hunter2@...?sig), and
#    a build command that prints them and the AWS secret: one pipeline
#    builds (degraded), one is a compile error;
#  - worker 1: ccache with a store URL that ccache refuses ("ccache:
#    error: unknown remote storage URL: ...?sig"), so the build fails
#    through the cache and is built again without it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
. "$(dirname "$0")/../tools/cache_lib.sh"
t_init cache_secrets
c_need_ccache

PASSWORD=hunter2
SIG=s3cr3tSignature0123
AWS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=$AWS_KEY
P=$T_DIR/pipelines
mkdir -p "$P"
PORT=$(t_port 2)
LEADER=http://127.0.0.1:$PORT
W1=http://127.0.0.1:$((PORT + 1))

cmd='echo "store: $CCACHE_REMOTE_STORAGE key: $AWS_SECRET_ACCESS_KEY" >&2
'$(c_build_cmd)
remote0="redis://u:$PASSWORD@127.0.0.1:1 http://u:$PASSWORD@127.0.0.1:1/b?X-Amz-Signature=$SIG|layout=flat"
remote1="foo://u:$PASSWORD@127.0.0.1:1/x?X-Amz-Signature=$SIG"

t_sidecar sidecar0 "$PORT" --watch "$T_DIR/out0" --worker-id 0 --workers 2 \
    --store "$T_DIR/store" --token-file "$T_DIR/token"
t_sidecar sidecar1 $((PORT + 1)) --watch "$T_DIR/out1" --worker-id 1 \
    --workers 2 --leader "$LEADER" --token-file "$T_DIR/token" \
    --upload-retry-delay-ms 200
b_builder builder0 --pipelines "$P" --out "$T_DIR/out0" --worker-id 0 \
    --workers 2 --compiler-cache ccache --ccache-remote-storage "$remote0" \
    --build-cmd "$cmd" --heartbeat-interval 1
CCACHE_REMOTE_STORAGE=$remote1 b_builder builder1 --pipelines "$P" \
    --out "$T_DIR/out1" --worker-id 1 --workers 2 --compiler-cache ccache \
    --build-cmd "$cmd" --heartbeat-interval 1

c_pipeline "$P" 2 2
t_pipeline "$P" 4 1 'int main(void) { return missing_symbol; }'
sed -i 's/-O0/-c -o main.o/; s/main.c$/main.c \&\& $(CC) -o "$(OUT)" main.o/' \
    "$P/4/Makefile"
c_pipeline "$P" 3 2
t_check "2 built through the degraded cache" \
    t_wait 30 t_state_is "$LEADER" 2 success
t_check "4 is a compile error" t_wait 30 t_state_is "$LEADER" 4 compile_error
t_check "3 built again without the cache" \
    t_wait 30 t_state_is "$LEADER" 3 success

msg4=$(curl -s "$LEADER/v1/status/4" | jq -r .message)
printf '%s\n' "--- status message of 4:" "$msg4"
t_check "4's message has gcc's error" grep -q "missing_symbol. undeclared" \
    <<<"$msg4"
t_check "and the cache's error" grep -Fq \
    'binrelay: the compiler cache is degraded (its shared store failed; the local cache was used): ccache: remote storage: Failed to construct backend for redis://127.0.0.1:1: Redis connection error: Connection refused' \
    <<<"$msg4"
t_check "the build's own output is masked too" grep -Fq \
    "store: redis://u:***@127.0.0.1:1 http://u:***@127.0.0.1:1/b?***|layout=flat key: ***" \
    <<<"$msg4"
log3=$(c_field "$T_DIR/out1" 3 1 log)
printf '%s\n' "--- log of 3:" "$log3"
t_check "3's log has ccache's error with the query masked" grep -Fq \
    "binrelay: the compiler cache failed, so this was built again without it: ccache: error: unknown remote storage URL: foo://127.0.0.1:1/x?***" \
    <<<"$log3"
t_check "worker 1's builder log names the error, masked" grep -Fq \
    'reason="ccache: error: unknown remote storage URL: foo://127.0.0.1:1/x?***"' \
    "$T_DIR/builder1.log"
t_check "worker 0's builder log shows its stores, masked" grep -Fq \
    'url="redis://u:***@127.0.0.1:1 http://u:***@127.0.0.1:1/b?***|layout=flat"' \
    "$T_DIR/builder0.log"
for w in "$LEADER" "$W1"; do
    t_check "$w/healthz: 200 and degraded" t_wait 5 \
        c_healthz_is "$w" '^200 degraded '
    c_healthz "$w"
done

# Everything a person or program reads: results, status, health, logs.
curl -s "$LEADER/v1/status" >"$T_DIR/status.json"
for w in "$LEADER" "$W1"; do curl -s "$w/healthz"; done >"$T_DIR/healthz.json"
leaks() {
    grep -rlaF -e "$PASSWORD" -e "$SIG" -e "$AWS_KEY" "$T_DIR" \
        --exclude-dir=pipelines
}
t_check "no secret anywhere: $(leaks | tr '\n' ' ')" [ -z "$(leaks)" ]
echo "store $remote0" >"$T_DIR/canary.log"
t_check "the check sees a secret that is there" eval 'leaks | grep -q canary'
