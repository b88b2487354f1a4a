#!/usr/bin/env bash
# Hostile or broken results in a worker's volume: an artifact that is a
# symlink (to a file outside the volume, or through a linked folder), a
# path that climbs out, a folder where the binary should be, a manifest
# that is not JSON, one far too large, one that is itself a symlink, and
# a folder named like a manifest.  Nothing outside the volume is ever
# read or sent, each bad result is reported with its reason, the sidecar
# keeps shipping good results, and the leader's files are not
# world-writable.  No retry can mend such a result, so none is made: each
# is reported at once, well before the retry budget would run out.
. "$(dirname "$0")/../lib.sh"
t_init fault_hostile_manifests

port=$(t_port 2)
leader=http://127.0.0.1:$port
OUT=$T_DIR/out1
t_sidecar leader "$port" --watch "$T_DIR/out0" --worker-id 0 --workers 2 \
    --store "$T_DIR/store" --token-file "$T_DIR/token"
t_sidecar worker $((port + 1)) --watch "$OUT" --worker-id 1 --workers 2 \
    --leader "$leader" --token-file "$T_DIR/token" \
    --upload-retry-delay-ms 50
mkdir -p "$OUT/tmp" "$T_DIR/outside"
echo "secret outside the volume" >"$T_DIR/outside/secret"

manifest() { # ID ARTIFACT: a success manifest naming ARTIFACT
    printf '{"pipeline_id":"%s","version":1,"state":"success","artifact":"%s"}' \
        "$1" "$2" >"$OUT/tmp/.m$1"
    mv "$OUT/tmp/.m$1" "$OUT/ready/$1@1.json"
}

ln -s "$T_DIR/outside/secret" "$OUT/artifacts/31@1"
manifest 31 artifacts/31@1
ln -s "$T_DIR/outside" "$OUT/linked"
manifest 32 linked/secret
manifest 33 ../outside/secret
mkdir "$OUT/artifacts/34@1"
manifest 34 artifacts/34@1
printf '{"pipeline_id": "35", "version": 1, "state": ' >"$OUT/tmp/.m35"
mv "$OUT/tmp/.m35" "$OUT/ready/35@1.json"
{ printf '{"pipeline_id":"36","version":1,"state":"compile_error","log":"'
  head -c 700000 /dev/zero | tr '\0' 'a'; printf '"}'; } >"$OUT/tmp/.m36"
mv "$OUT/tmp/.m36" "$OUT/ready/36@1.json"
printf '{"pipeline_id":"37","version":1,"state":"compile_error"}' \
    >"$T_DIR/outside/m37"
ln -s "$T_DIR/outside/m37" "$OUT/tmp/.m37"
mv "$OUT/tmp/.m37" "$OUT/ready/37@1.json"
mkdir "$OUT/tmp/.m38"
mv "$OUT/tmp/.m38" "$OUT/ready/38@1.json"
printf 'not json' >"$OUT/ready/39@1.json.tmp"

# A good result, published after all of them, still ships.
head -c 100000 /dev/urandom >"$T_DIR/good"
t_publish "$OUT" 40 1 "$T_DIR/good"
t_check "a good result ships past the bad ones" \
    t_wait 20 t_state_is "$leader" 40 success

for id in 31 32 33 34 35 36 37 38; do
    t_check "$id is reported as system_error" \
        t_wait 20 t_state_is "$leader" "$id" system_error
    msg=$(curl -s "$leader/v1/status/$id" | jq -r .message)
    case $msg in "Failed to upload binary $id@1: "*) ;;
    *) t_fail "$id: unexpected message: $msg" ;;
    esac
    t_log "ok: $id: $msg"
done
t_check "none of them was retried" \
    eval '! grep -q "will retry" "$T_DIR/worker.log"'
t_check "the leader saw no upload of the secret" \
    [ -z "$(grep -rl 'secret outside the volume' "$T_DIR/store")" ]
n=$(grep -c 'msg="binary installed"' "$T_DIR/leader.log")
t_check "only the good binary was installed ($n)" [ "$n" -eq 1 ]
t_check "the worker is still healthy" \
    t_http_ok "http://127.0.0.1:$((port + 1))/healthz"
t_check "the folder 38@1.json was left alone" [ -d "$OUT/ready/38@1.json" ]
ww=$(find "$T_DIR/store" -perm -o+w | head -n 3)
t_check "no store file or folder is world-writable" [ -z "$ww" ]
