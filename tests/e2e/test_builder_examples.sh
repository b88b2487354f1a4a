#!/usr/bin/env bash
# The example pipelines, built with the default build command: by one
# builder, then by a fleet of 3 where each builds only its own share.
# Every binary prints its expected line, the broken one is a
# compile_error in gcc's words, and no source directory is written to.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_examples

EX=$T_REPO/examples
before=$(cd "$EX" && find . -printf '%p %s %T@\n' | sort)
n=$(wc -l <"$EX/expected.txt")

check_result() {
    local out=$1 id=$2 want=$3 got
    b_ready "$out" "$id" 1 || return 1
    if [ "$want" = compile_error ]; then
        [ "$(b_field "$out" "$id" 1 state)" = compile_error ] &&
            b_field "$out" "$id" 1 log | grep -q "error: .*undeclared_total"
        return
    fi
    [ "$(b_field "$out" "$id" 1 state)" = success ] || return 1
    [ "$(b_field "$out" "$id" 1 artifact)" = "artifacts/$id@1" ] || return 1
    got=$("$out/artifacts/$id@1" | head -n 1)
    [ "$got" = "$want" ] || { echo "$id printed '$got', not '$want'"; return 1; }
}

b_builder one --pipelines "$EX" --out "$T_DIR/one" --worker-id 0 --jobs 2
t_wait 20 sh -c "[ \$(ls '$T_DIR/one/ready' | wc -l) -ge $n ]" ||
    t_fail "not all $n examples built"
while read -r id want; do
    t_check "example $id: $want" check_result "$T_DIR/one" "$id" "$want"
done <"$EX/expected.txt"

m=$T_DIR/one/ready/3@1.json
t_check "manifest names its worker" [ "$(jq .worker_id "$m")" = 0 ]
t_check "manifest times are RFC 3339 UTC" \
    grep -Eq '"started_at":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"' "$m"
t_check "no build marker left" [ -z "$(ls -A "$T_DIR/one/building")" ]
t_check "no scratch dir left" [ "$(b_scratch_dirs "$T_DIR/one")" = 0 ]
t_check "heartbeat names the worker" \
    [ "$(jq .worker_id "$T_DIR/one/heartbeat")" = 0 ]
t_check "heartbeat is fresh" \
    [ $(($(date +%s) - $(jq .ts_unix "$T_DIR/one/heartbeat"))) -le 5 ]

# A fleet of 3 on the same directory, each with its own volume.
for w in 0 1 2; do
    b_builder "w$w" --pipelines "$EX" --out "$T_DIR/w$w" --worker-id $w \
        --workers 3
done
while read -r id want; do
    w=$(b_worker "$id" 3)
    t_wait 20 b_ready "$T_DIR/w$w" "$id" 1 ||
        t_fail "worker $w did not build $id"
    t_check "worker $w built $id" check_result "$T_DIR/w$w" "$id" "$want"
done <"$EX/expected.txt"
sleep 1
for w in 0 1 2; do
    mine=0
    while read -r id _; do
        [ "$(b_worker "$id" 3)" != $w ] || mine=$((mine + 1))
    done <"$EX/expected.txt"
    t_check "worker $w built only its own $mine" \
        [ "$(ls "$T_DIR/w$w/ready" | wc -l)" = "$mine" ]
done
t_check "the examples spread over all 3 workers" \
    [ -n "$(ls "$T_DIR/w0/ready")" -a -n "$(ls "$T_DIR/w1/ready")" -a \
      -n "$(ls "$T_DIR/w2/ready")" ]

after=$(cd "$EX" && find . -printf '%p %s %T@\n' | sort)
t_check "nothing was written into the pipelines directory" \
    [ "$before" = "$after" ]
