#!/usr/bin/env bash
# A sidecar's /healthz speaks for its builder too: "starting" while no
# heartbeat has come yet (for --heartbeat-timeout), alive while the
# builder renews it, 503 at once when the builder stops (its last
# heartbeat says so), 503 when the heartbeat goes stale (a builder that
# was killed or hangs), and 503 when the builder on the volume is
# another worker's.
. "$(dirname "$0")/../lib.sh"
t_init sidecar_health

port=$(t_port 1)
URL=http://127.0.0.1:$port
OUT=$T_DIR/out1
mkdir -p "$T_DIR/p" "$OUT"
t_sidecar sidecar "$port" --watch "$OUT" --worker-id 1 --workers 2 \
    --leader http://127.0.0.1:1 --heartbeat-timeout 3

health() { # health CODE: /healthz answers CODE; its body in $T_DIR/h
    [ "$(curl -s -o "$T_DIR/h" -w '%{http_code}' "$URL/healthz")" = "$1" ]
}
says() { jq -r "$1" "$T_DIR/h"; }

t_check "no heartbeat yet: healthy, starting" health 200
t_check "says so" [ "$(says .builder.message)" = starting ]
t_check "past --heartbeat-timeout with none: 503" t_wait 10 health 503
t_check "missing, it says" grep -q 'heartbeat missing' <<<"$(says .error)"

t_start builder "$BIN/builder" --pipelines "$T_DIR/p" --out "$OUT" \
    --worker-id 1 --workers 2 --heartbeat-interval 1
t_check "the builder's heartbeat: healthy" t_wait 10 health 200
t_check "and alive" [ "$(says .builder.alive)" = true ]

kill -TERM "$PID_builder"
wait "$PID_builder"
t_check "the builder stopped: 503 at once" health 503
t_check "saying so" [ "$(says .error)" = "builder stopped" ]

t_start builder2 "$BIN/builder" --pipelines "$T_DIR/p" --out "$OUT" \
    --worker-id 1 --workers 2 --heartbeat-interval 1
t_check "a new builder: healthy again" t_wait 10 health 200
kill -STOP "$PID_builder2"
t_check "a hung builder: 503 once its heartbeat is stale" t_wait 10 health 503
t_check "saying how old" grep -q 'heartbeat is [0-9]* s old' \
    <<<"$(says .error)"
kill -KILL "$PID_builder2"
wait "$PID_builder2" 2>/dev/null

t_start other "$BIN/builder" --pipelines "$T_DIR/p" --out "$OUT" \
    --worker-id 0 --workers 2 --heartbeat-interval 1
other() { health 503 && grep -q 'worker 0, not 1' <<<"$(says .error)"; }
t_check "worker 0's builder on worker 1's volume: 503" t_wait 10 other
