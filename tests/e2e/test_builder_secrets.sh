#!/usr/bin/env bash
# AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and the compiler cache's
# other secrets reach every build, with --compiler-cache none too, so
# whatever the builder writes masks them as ***: manifests (a log tail
# that starts inside a secret included), the heartbeat and its own log
# lines (a pipeline.json quoting a secret in its error included).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/builder_lib.sh"
t_init builder_secrets

KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
TOKEN=FwoGZXIvYXdzEJr0123456789abcdefghijklmnopqrstuvwxyzSESSIONtoken
PASSWORD=HunterTwoPass
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=$KEY \
    AWS_SESSION_TOKEN=$TOKEN \
    CCACHE_REMOTE_STORAGE=redis://u:$PASSWORD@127.0.0.1:1
P=$T_DIR/pipelines OUT=$T_DIR/out
mkdir -p "$P"
# 1 succeeds and 2 fails, both printing the secrets; from 100 on, each
# prints the token and then that many hundred bytes less than 64 KiB
# and 1000, so that for one of them the log's tail starts inside it.
cmd='echo "key=$AWS_SECRET_ACCESS_KEY token=$AWS_SESSION_TOKEN"
echo "store=$CCACHE_REMOTE_STORAGE"
case $PIPELINE_ID in
2) exit 1 ;;
1??) printf %s "$AWS_SESSION_TOKEN"
     head -c $((65536 - (PIPELINE_ID - 100) * 32)) /dev/zero | tr "\0" x ;;
esac
echo ok >"$PIPELINE_OUT"'
b_spec "$P" 1 1
b_spec "$P" 2 1
for i in $(seq 100 127); do b_spec "$P" "$i" 1; done
mkdir -p "$P/3"
printf '{"version": 1} %s\n' "$PASSWORD" >"$P/3/pipeline.json"

b_builder builder --pipelines "$P" --out "$OUT" --worker-id 0 --jobs 4 \
    --heartbeat-interval 1 --build-cmd "$cmd"
for id in 1 2 3 $(seq 100 127); do b_wait_ready 20 "$OUT" "$id" 1; done

t_check "1 is a success, 2 a compile error" \
    [ "$(b_field "$OUT" 1 1 state) $(b_field "$OUT" 2 1 state)" = \
      "success compile_error" ]
for id in 1 2; do
    t_check "$id's log has the secrets masked" \
        b_log_has "$OUT" $id 1 '^key=\*\*\* token=\*\*\*$'
    t_check "$id's log has the store's password masked" \
        b_log_has "$OUT" $id 1 '^store=redis://u:\*\*\*@127.0.0.1:1$'
done
t_check "the bad pipeline.json's report is masked" \
    b_log_has "$OUT" 3 1 '^invalid pipeline.json: .*\*\*\*'
t_check "and so is the builder's log line about it" grep -q \
    'msg="bad pipeline: invalid pipeline.json" pipeline=3 reason=.*\*\*\*' \
    "$T_DIR/builder.log"
cut_masked() { jq -r .log "$OUT"/ready/1??@1.json | grep -q '^\*\*\*xxxx'; }
t_check "a tail that starts inside the token starts with ***" cut_masked

sleep 1.5
cat "$OUT"/ready/*.json "$OUT/heartbeat" "$T_DIR/builder.log" >"$T_DIR/all"
for s in "$KEY" "$PASSWORD"; do
    t_check "'$s' is nowhere" [ "$(grep -cF -- "$s" "$T_DIR/all")" = 0 ]
done
# No 10 characters of the token in a row, even cut.
for ((i = 0; i + 10 <= ${#TOKEN}; i++)); do
    grep -qF -- "${TOKEN:i:10}" "$T_DIR/all" &&
        t_fail "'${TOKEN:i:10}' of the token was written"
done
t_log "ok: no piece of the token was written"
