#!/usr/bin/env bash
# However much a build prints, the builder keeps only the tail a
# manifest can hold: nothing grows on the shared volume or in the
# builder's memory while 300 MB go by, and the manifest's log is the
# verbatim end of the output, cut on a UTF-8 character boundary.  A
# background process still holding the output, in the build's group
# or out of it, does not hold up the result.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_output

P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
cmd='case $PIPELINE_ID in
1) head -c 300000000 /dev/zero | tr "\0" x; printf "\nthe end\n"
   touch "'$T_DIR'/printed"
   while [ ! -e "'$T_DIR'/go" ]; do sleep 0.05; done ;;
2) yes "é" | head -c 1000001 ;;
3) sleep 300 & echo $! >"'$T_DIR'/gc3.pid" ;;
4) setsid sleep 300 & echo $! >"'$T_DIR'/gc4.pid" ;;
esac
echo ok >"$PIPELINE_OUT"'
b_spec "$P" 1 1
b_builder builder --pipelines "$P" --out "$OUT" --worker-id 0 --jobs 3 \
    --build-cmd "$cmd"

t_wait 60 [ -e "$T_DIR/printed" ] || t_fail "300 MB were not printed in 60 s"
kib=$(du -sk "$OUT/tmp" | cut -f1)
t_check "OUT/tmp holds $kib KiB after 300 MB of output" [ "$kib" -lt 1024 ]
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID_builder/status")
t_check "the builder's memory is $rss KiB" [ "$rss" -lt 32768 ]
touch "$T_DIR/go"
b_wait_ready 10 "$OUT" 1 1
jq -j .log "$OUT/ready/1@1.json" >"$T_DIR/log1"
t_check "the result is a success" [ "$(b_field "$OUT" 1 1 state)" = success ]
t_check "the log ends with the output's end" \
    [ "$(tail -n 1 "$T_DIR/log1")" = "the end" ]
t_check "the log is at most 64 KiB" \
    [ "$(wc -c <"$T_DIR/log1")" -le 65536 ]
t_check "and at least 60 KiB of it" \
    [ "$(wc -c <"$T_DIR/log1")" -ge 61440 ]
t_check "before the end, only what was printed" \
    [ -z "$(head -n 1 "$T_DIR/log1" | tr -d x)" ]

b_spec "$P" 2 1
b_wait_ready 10 "$OUT" 2 1
jq -j .log "$OUT/ready/2@1.json" >"$T_DIR/log2"
t_check "a tail cut inside a character starts after it" \
    [ -z "$(LC_ALL=C tr -d '\n' <"$T_DIR/log2" | sed 's/\xc3\xa9//g')" ]

b_spec "$P" 3 1
b_spec "$P" 4 1
start=$(date +%s)
b_wait_ready 5 "$OUT" 3 1
b_wait_ready 5 "$OUT" 4 1
t_check "background holders of the output held up nothing" \
    [ $(($(date +%s) - start)) -le 3 ]
t_check "the one in the build's group was killed" \
    t_wait 3 b_dead "$(cat "$T_DIR/gc3.pid")"
gc4=$(cat "$T_DIR/gc4.pid")
T_PIDS+=("$gc4")
t_check "the builder is still running" kill -0 "$PID_builder"
t_check "no build dir left" t_wait 3 b_no_scratch "$OUT"
