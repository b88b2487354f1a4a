#!/usr/bin/env bash
# The bearer token: a leader started without one serves reads but
# refuses every write (401), and says so at start; --insecure-no-auth
# takes writes from anyone; the token file is re-read when it changes,
# so a rotation needs no restart (the old token is refused, the new one
# accepted); reads need no token; the token is never logged.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/leader_lib.sh"
t_init leader_token

mkdir -p "$T_DIR/out0"
l_file "$T_DIR/a" 4
port=$(l_port)
t_sidecar notoken "$port" --watch "$T_DIR/out0" --worker-id 0 \
    --store "$T_DIR/s1"
L_URL=http://127.0.0.1:$port
l_expect "no token: an upload is refused" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "X-Content-Xxh128: $(l_hash "$T_DIR/a")" "$L_URL/v1/binaries/1/1"
l_expect "so is one with any bearer token" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "Authorization: Bearer x" -H "X-Content-Xxh128: $(l_hash "$T_DIR/a")" \
    "$L_URL/v1/binaries/1/1"
l_expect "and a status report" 401 l_curl -X PUT \
    -d '{"state":"compiling","worker_id":0}' "$L_URL/v1/status/1/1"
l_expect "reads are served" 200 l_curl "$L_URL/v1/status"
t_check "the start says writes are refused" \
    grep -q 'msg="no token: uploads and reports from workers are refused"' \
    "$T_DIR/notoken.log"
t_check "nothing was installed" \
    eval '[ -z "$(ls -A "$T_DIR/s1/binaries")" ]'
kill "$PID_notoken"

"$BIN/sidecar" --watch "$T_DIR/out0" --worker-id 0 --store "$T_DIR/s2" \
    --token-file "$T_DIR/missing" --listen "127.0.0.1:$(l_port)" \
    >"$T_DIR/missing.out" 2>&1
t_check "an unreadable token file: exit 2" [ $? -eq 2 ]
: >"$T_DIR/empty"
"$BIN/sidecar" --watch "$T_DIR/out0" --worker-id 0 --store "$T_DIR/s2" \
    --token-file "$T_DIR/empty" --listen "127.0.0.1:$(l_port)" \
    >"$T_DIR/empty.out" 2>&1
t_check "an empty token file: exit 2" [ $? -eq 2 ]

port=$(l_port)
t_sidecar open "$port" --watch "$T_DIR/out0" --worker-id 0 \
    --store "$T_DIR/s3" --insecure-no-auth
L_URL=http://127.0.0.1:$port
l_expect "--insecure-no-auth takes uploads without a token" 201 \
    l_curl -X PUT -T "$T_DIR/a" -H "X-Content-Xxh128: $(l_hash "$T_DIR/a")" \
    "$L_URL/v1/binaries/1/1"
t_check "and warns at start" grep -q 'flag=--insecure-no-auth' \
    "$T_DIR/open.log"
kill "$PID_open"

l_leader leader "$(l_port)"
l_expect "the token is accepted" 201 l_put 1 1 "$T_DIR/a"
l_expect "reads need none" 200 l_curl "$L_URL/v1/status/1"
l_expect "'Bearer' with no token" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "Authorization: Bearer " "$L_URL/v1/binaries/1/2"
l_expect "a token's prefix" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "Authorization: Bearer ${T_TOKEN:0:10}" "$L_URL/v1/binaries/1/2"
l_expect "the token and more" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "Authorization: Bearer ${T_TOKEN}x" "$L_URL/v1/binaries/1/2"
l_expect "the scheme in lower case" 201 l_curl -X PUT -T "$T_DIR/a" \
    -H "Authorization: bearer $T_TOKEN" \
    -H "X-Content-Xxh128: $(l_hash "$T_DIR/a")" "$L_URL/v1/binaries/2/1"
l_expect "another scheme" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "Authorization: Basic $T_TOKEN" "$L_URL/v1/binaries/1/2"
l_expect "status reports need it too" 401 l_curl -X PUT \
    -d '{"state":"compiling","worker_id":0}' "$L_URL/v1/status/1/2"

installs() { [ "$(l_put "$@")" = 201 ]; }

# Rotation as Kubernetes does it: a new file swapped in by rename.
OLD=$T_TOKEN
NEW=rotated-token-9876543210
printf '%s\n' "$NEW" >"$T_DIR/token.new"
mv "$T_DIR/token.new" "$T_DIR/token"
T_TOKEN=$NEW
t_check "within a few seconds the new token is accepted" \
    t_wait 5 installs 1 2 "$T_DIR/a"
l_expect "the old one is refused" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "Authorization: Bearer $OLD" "$L_URL/v1/binaries/1/3"
t_check "a reload was logged" grep -q 'token reloaded' "$T_DIR/leader.log"

# A rotation written in place, and a broken one that must not lock out.
printf 'third-token-000\n' >"$T_DIR/token"
T_TOKEN=third-token-000
t_check "an in-place rewrite is picked up too" \
    t_wait 5 installs 1 3 "$T_DIR/a"
: >"$T_DIR/token"
sleep 1.5
l_expect "an emptied file keeps the last token" 201 l_put 1 4 "$T_DIR/a"
t_check "and says so" grep -q 'keeping the old one' "$T_DIR/leader.log"
# A mounted Kubernetes Secret: the key is a symlink into "..data", a
# symlink to a timestamped directory; a rotation swaps "..data".
kill "$PID_leader"
wait "$PID_leader"
S=$T_DIR/secret
mkdir -p "$S/..2026_1"
printf 'k8s-token-1\n' >"$S/..2026_1/token"
ln -s ..2026_1 "$S/..data"
ln -s ..data/token "$S/token"
l_leader leader "$(l_port)" --token-file "$S/token"
T_TOKEN=k8s-token-1
l_expect "a token mounted from a Secret" 201 l_put 1 5 "$T_DIR/a"
mkdir -p "$S/..2026_2"
printf 'k8s-token-2\n' >"$S/..2026_2/token"
ln -s ..2026_2 "$S/..data_tmp"
mv -T "$S/..data_tmp" "$S/..data"
T_TOKEN=k8s-token-2
t_check "the Secret's rotation is picked up" t_wait 5 installs 1 6 "$T_DIR/a"
l_expect "and its old token refused" 401 l_curl -X PUT -T "$T_DIR/a" \
    -H "Authorization: Bearer k8s-token-1" "$L_URL/v1/binaries/1/7"
t_check "no token is in any log" eval \
    '! grep -q -e "$OLD" -e "$NEW" -e third-token -e k8s-token \
        "$T_DIR"/*.log'
