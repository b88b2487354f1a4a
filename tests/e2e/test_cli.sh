#!/usr/bin/env bash
# The command lines of both daemons.  --help lists every flag with its
# BINRELAY_ variable and exits 0; a variable sets its flag and a flag
# wins over it, even over a variable that would not parse; bad usage
# exits 2 with one line saying why; --worker-id auto takes the
# hostname's trailing "-<n>" and a hostname without one is refused;
# SIGTERM ends a daemon with exit 0.
. "$(dirname "$0")/../lib.sh"
t_init cli

B=$BIN/builder
S=$BIN/sidecar
mkdir -p "$T_DIR/p" "$T_DIR/o0" "$T_DIR/o1" "$T_DIR/o2"

# help_lists PROG FLAG...: each flag and its variable is in PROG --help.
help_lists() {
    local prog=$1 f var
    shift
    "$prog" --help >"$T_DIR/help" 2>&1 || return 1
    for f in "$@"; do
        var=BINRELAY_$(tr 'a-z-' 'A-Z_' <<<"$f")
        grep -q -- "--$f" "$T_DIR/help" || { echo "no --$f"; return 1; }
        grep -q "$var" "$T_DIR/help" || { echo "no $var"; return 1; }
    done
}
t_check "builder --help lists its flags" help_lists "$B" pipelines out \
    worker-id workers build-cmd jobs build-timeout
t_check "sidecar --help lists its flags" help_lists "$S" watch listen \
    worker-id workers leader store pipelines token-file upload-retries \
    upload-retry-delay-ms tls-cert tls-key ca-file

# usage WHAT PATTERN CMD...: CMD exits 2 with one line matching PATTERN.
usage() {
    local what=$1 pattern=$2 rc
    shift 2
    "$@" >"$T_DIR/out" 2>"$T_DIR/err" </dev/null
    rc=$?
    [ "$rc" -eq 2 ] || t_fail "$what: exit $rc, want 2: $(cat "$T_DIR/err")"
    [ "$(wc -l <"$T_DIR/err")" -eq 1 ] ||
        t_fail "$what: not one line: $(cat "$T_DIR/err")"
    grep -Eq -- "$pattern" "$T_DIR/err" ||
        t_fail "$what: '$(cat "$T_DIR/err")' does not match '$pattern'"
    t_log "ok: $what: $(cat "$T_DIR/err")"
}
usage "builder without --pipelines" 'pipelines' "$B" --out "$T_DIR/o0" \
    --worker-id 0
usage "builder without --out" 'out' "$B" --pipelines "$T_DIR/p" --worker-id 0
usage "an unknown flag" 'unknown flag' "$B" --pipelines "$T_DIR/p" \
    --out "$T_DIR/o0" --worker-id 0 --jbos 2
usage "a number that is not one" "'many'" "$B" --pipelines "$T_DIR/p" \
    --out "$T_DIR/o0" --worker-id 0 --jobs many
usage "a worker beyond the fleet" 'worker' "$B" --pipelines "$T_DIR/p" \
    --out "$T_DIR/o0" --worker-id 3 --workers 2
usage "sidecar without --watch" 'watch' "$S" --worker-id 0 \
    --store "$T_DIR/s"
usage "worker 1 without --leader" 'leader' "$S" --watch "$T_DIR/o1" \
    --worker-id 1 --workers 2
usage "the leader without --store" 'store' "$S" --watch "$T_DIR/o0" \
    --worker-id 0
usage "a bad --listen" 'listen' "$S" --watch "$T_DIR/o0" --worker-id 0 \
    --store "$T_DIR/s" --listen 127.0.0.1:99999
usage "a --leader that is no URL" 'leader' "$S" --watch "$T_DIR/o1" \
    --worker-id 1 --workers 2 --leader binrelay-0:8085
usage "a bad variable alone" 'BINRELAY_UPLOAD_RETRIES' \
    env BINRELAY_UPLOAD_RETRIES=lots "$S" --watch "$T_DIR/o0" \
    --worker-id 0 --store "$T_DIR/s"
usage "auto on a hostname without an ordinal" 'hostname' \
    unshare -u sh -c 'hostname plainhost && exec "$0" "$@"' "$B" \
    --pipelines "$T_DIR/p" --out "$T_DIR/o0"

# A variable sets its flag; the flag wins, even over one that would not
# parse.  Worker 2's sidecar answers /healthz with its id.
port=$(t_port 3)
BINRELAY_LISTEN=127.0.0.1:$port BINRELAY_WORKER_ID=2 BINRELAY_WORKERS=3 \
    BINRELAY_UPLOAD_RETRIES=lots \
    t_start env "$S" --watch "$T_DIR/o2" --leader "http://127.0.0.1:1" \
    --upload-retries 3
t_check "variables set --listen, --worker-id and --workers" \
    t_wait 10 eval "curl -s http://127.0.0.1:$port/healthz |
        jq -e '.worker_id == 2' >/dev/null"
t_start flag env BINRELAY_WORKER_ID=2 "$S" --watch "$T_DIR/o1" \
    --worker-id 1 --workers 3 --leader "http://127.0.0.1:1" \
    --listen "127.0.0.1:$((port + 1))"
t_check "a flag wins over its variable" \
    t_wait 10 eval "curl -s http://127.0.0.1:$((port + 1))/healthz |
        jq -e '.worker_id == 1' >/dev/null"

# --worker-id auto (the default) in a UTS namespace of its own.
t_start auto unshare -u sh -c 'hostname x-compiler-server-2 && exec "$0" "$@"' \
    "$S" --watch "$T_DIR/o0" --workers 3 --leader "http://127.0.0.1:1" \
    --listen "127.0.0.1:$((port + 2))"
t_check "auto: x-compiler-server-2 is worker 2" \
    t_wait 10 eval "curl -s http://127.0.0.1:$((port + 2))/healthz |
        jq -e '.worker_id == 2' >/dev/null"

# SIGTERM: exit 0, for each daemon.
for name in env flag auto; do
    pid_var=PID_$name
    kill -TERM "${!pid_var}"
    wait "${!pid_var}"
    rc=$?
    t_check "sidecar '$name' exits 0 on SIGTERM ($rc)" [ "$rc" -eq 0 ]
done
t_start builder "$B" --pipelines "$T_DIR/p" --out "$T_DIR/o0" --worker-id 0
t_check "the builder runs" t_wait 10 test -f "$T_DIR/o0/heartbeat"
kill -TERM "$PID_builder"
wait "$PID_builder"
rc=$?
T_PIDS=()
t_check "the builder exits 0 on SIGTERM ($rc)" [ "$rc" -eq 0 ]
