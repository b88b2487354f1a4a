#!/usr/bin/env bash
# The network between a worker and the leader is cut and restored.
#
# The leader and the worker run in two network namespaces that this test
# creates, joined by a veth pair, as two hosts would be.  While the link
# is down the worker keeps publishing; its uploads fail and are retried
# with backoff.  Once the link is back every result is installed exactly
# once with the right hash, and nothing is left in the worker's ready/.
. "$(dirname "$0")/../lib.sh"
t_init netns_link
t_require_root
command -v ip >/dev/null || t_skip "ip (iproute2) is not installed"

ns_l=binrelay-l$$ ns_w=binrelay-w$$
cleanup_ns() {
    t_cleanup
    ip netns del "$ns_l" 2>/dev/null
    ip netns del "$ns_w" 2>/dev/null
}
trap cleanup_ns EXIT
ip netns add "$ns_l" && ip netns add "$ns_w" || t_skip "cannot create netns"
ip link add "vl$$" netns "$ns_l" type veth peer name "vw$$" netns "$ns_w" ||
    t_skip "cannot create a veth pair"
ip -n "$ns_l" addr add 10.213.0.1/24 dev "vl$$"
ip -n "$ns_w" addr add 10.213.0.2/24 dev "vw$$"
for ns in "$ns_l" "$ns_w"; do
    ip -n "$ns" link set lo up
done
ip -n "$ns_l" link set "vl$$" up
ip -n "$ns_w" link set "vw$$" up

L="ip netns exec $ns_l"
W="ip netns exec $ns_w"
leader=http://10.213.0.1:8085
t_start leader $L "$BIN/sidecar" --listen 10.213.0.1:8085 \
    --watch "$T_DIR/out0" --worker-id 0 --workers 2 --store "$T_DIR/store" \
    --token-file "$T_DIR/token"
t_start worker $W "$BIN/sidecar" --listen 10.213.0.2:8085 \
    --watch "$T_DIR/out1" --worker-id 1 --workers 2 --leader "$leader" \
    --token-file "$T_DIR/token" --upload-retry-delay-ms 300 \
    --upload-retries 12
status() { $W curl -s --max-time 3 "$leader/v1/status/$1" | jq -r .state; }
installed() { [ "$(status "$1")" = success ]; }
t_wait 10 $W curl -fs -o /dev/null "$leader/healthz" ||
    t_fail "the worker cannot reach the leader across the veth pair"

head -c 300000 /dev/urandom >"$T_DIR/blob"
t_publish "$T_DIR/out1" 101 1 "$T_DIR/blob"
t_check "a result crosses the link" t_wait 10 installed 101

ip -n "$ns_w" link set "vw$$" down
t_log "link down"
for id in 102 103 104; do
    head -c 200000 /dev/urandom >"$T_DIR/blob$id"
    t_publish "$T_DIR/out1" "$id" 1 "$T_DIR/blob$id"
done
sleep 3
ip -n "$ns_w" link set "vw$$" up
t_log "link up"
for id in 102 103 104; do
    t_check "$id installed once the link is back" t_wait 40 installed "$id"
    want=$(xxhsum -H2 "$T_DIR/blob$id" | cut -d' ' -f1)
    got=$($W curl -s "$leader/v1/status/$id" | jq -r .xxh128)
    [ "$want" = "$got" ] || t_fail "$id: hash $got, expected $want"
done
n=$(grep -c 'msg="binary installed"' "$T_DIR/leader.log")
t_check "each result installed exactly once" [ "$n" -eq 4 ]
t_check "retries happened while the link was down" \
    grep -q 'will retry' "$T_DIR/worker.log"
t_check "nothing left to ship" [ -z "$(ls "$T_DIR/out1/ready")" ]
