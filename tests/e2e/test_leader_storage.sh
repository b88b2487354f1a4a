#!/usr/bin/env bash
# A full store: on a 1 MiB tmpfs a 512 KiB upload still fits; on a
# 64 MiB tmpfs, an upload that does not fit gets 507
# before its body, two that fit only one at a time get one 201 and one
# 507, and no partial file stays either way.  /healthz?check_storage=true
# answers 503 once the store is 95% full, and 200 again when it is not.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_storage
t_require_root

mkdir -p "$T_DIR/store"
mount -t tmpfs -o size=64m tmpfs "$T_DIR/store" ||
    t_skip "cannot mount a tmpfs here (no CAP_SYS_ADMIN?)"
mkdir -p "$T_DIR/small"
mount -t tmpfs -o size=1m tmpfs "$T_DIR/small" ||
    t_skip "cannot mount a tmpfs here (no CAP_SYS_ADMIN?)"
trap 't_cleanup; umount -l "$T_DIR/store" "$T_DIR/small"' EXIT

l_leader small "$(l_port)" --store "$T_DIR/small"
head -c $((512 << 10)) /dev/urandom >"$T_DIR/half"
l_expect "512 KiB into a 1 MiB store" 201 l_put 9 1 "$T_DIR/half"
l_expect "but not 1 MiB more" 507 l_put 9 2 "$T_DIR/half" \
    -H 'Expect: 100-continue'
t_check "the refusal says how much is free" grep -q 'free' "$T_DIR/body"
kill "$PID_small"

l_leader leader "$(l_port)"
head -c $((30 << 20)) /dev/urandom >"$T_DIR/a"
head -c $((40 << 20)) /dev/urandom >"$T_DIR/b"
head -c $((17 << 20)) /dev/urandom >"$T_DIR/c"
l_expect "30 MiB into 64 MiB" 201 l_put 1 1 "$T_DIR/a"
start=$(date +%s%N)
l_expect "40 MiB more does not fit" 507 l_put 1 2 "$T_DIR/b" \
    -H 'Expect: 100-continue' -w '%{http_code}'
t_check "refused before the body" \
    [ $((($(date +%s%N) - start) / 1000000)) -lt 900 ]
t_check "no partial file" [ -z "$(ls -A "$T_DIR/store/tmp")" ]
t_check "version 1 is still the installed one" \
    [ "$(l_field 1 version) $(l_field 1 state)" = "1 success" ]
l_expect "the same without waiting for 100 Continue" 507 \
    l_put 1 2 "$T_DIR/b" -H 'Expect:'
t_check "no partial file" [ -z "$(ls -A "$T_DIR/store/tmp")" ]

# About 34 MiB free: each 17 MiB upload fits (with the 1 MiB margin the
# store keeps on 64 MiB) only while the other has not taken its space.
l_put 2 1 "$T_DIR/c" >"$T_DIR/code.2" &
p=$!
l_put 3 1 "$T_DIR/c" >"$T_DIR/code.3"
wait "$p"
codes=$(printf '%s\n' "$(cat "$T_DIR/code.2")" "$(cat "$T_DIR/code.3")" |
    sort | tr '\n' ' ')
t_check "two uploads that fit one at a time: 201 and 507 ($codes)" \
    [ "$codes" = "201 507 " ]
t_check "the store is consistent" l_store_ok

l_expect "the store is not 95% full yet" 200 \
    l_curl "$L_URL/healthz?check_storage=true"
avail=$(df --output=avail -B1 "$T_DIR/store" | tail -n 1)
head -c $((avail - (1 << 20))) /dev/zero >"$T_DIR/store/filler"
l_expect "95% full: /healthz?check_storage=true" 503 \
    l_curl "$L_URL/healthz?check_storage=true"
t_check "says why" grep -q 'full' "$T_DIR/body"
l_expect "plain /healthz is not about storage" 200 l_curl "$L_URL/healthz"
rm "$T_DIR/store/filler"
l_expect "space again" 200 l_curl "$L_URL/healthz?check_storage=true"
t_check "metrics count the 507s" \
    curl -s "$L_URL/metrics" | grep -q 'reason="no_space",code="507"} [3-9]'
