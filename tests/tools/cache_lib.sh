# cache_lib.sh - helpers for the compiler cache scenarios.
#
# Source it after tests/lib.sh and tests/tools/builder_lib.sh.  The
# shared stores are real servers started here, on loopback, with their
# data under $T_DIR: Debian's redis-server, and s3rver (an S3-compatible
# server from npm, installed once under tests/tools/.cache/).

C_CACHE=$T_REPO/tests/tools/.cache

# c_need_redis: skips the scenario unless redis is installed.
c_need_redis() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
        t_skip "redis-server is not installed (apt-get install redis-server)"
}

c_need_ccache() {
    command -v ccache >/dev/null ||
        t_skip "ccache is not installed (apt-get install ccache)"
}

# c_redis NAME PORT [ARGS...]: a redis-server on 127.0.0.1:PORT, no
# persistence, with ARGS; waits until it answers (or asks for a
# password).  Its pid is in PID_<NAME>.
c_redis() {
    local name=$1 port=$2
    shift 2
    mkdir -p "$T_DIR/$name"
    t_start "$name" redis-server --bind 127.0.0.1 --port "$port" \
        --save '' --appendonly no --dir "$T_DIR/$name" "$@"
    t_wait 10 eval "redis-cli -p $port ping 2>&1 | grep -Eq 'PONG|NOAUTH'" ||
        t_fail "redis did not start"
}

# c_redis_keys PORT: how many ccache objects the redis holds.
c_redis_keys() {
    redis-cli -p "$1" --scan --pattern 'ccache:*' | wc -l
}

# c_s3rver NAME PORT BUCKET: s3rver on 127.0.0.1:PORT with BUCKET made,
# its data in $T_DIR/NAME; installs it under tests/tools/.cache first if
# needed, or skips the scenario when npm cannot.
c_s3rver() {
    local name=$1 port=$2 bucket=$3
    local bin=$C_CACHE/node_modules/.bin/s3rver
    command -v node >/dev/null || t_skip "node is not installed (for s3rver)"
    if [ ! -x "$bin" ]; then
        command -v npm >/dev/null || t_skip "npm is not installed"
        timeout 300 npm install --no-audit --no-fund --prefix "$C_CACHE" \
            s3rver@3 >"$T_DIR/npm.log" 2>&1 ||
            t_skip "cannot install s3rver from npm (see $T_DIR/npm.log)"
    fi
    mkdir -p "$T_DIR/$name"
    t_start "$name" node "$bin" -d "$T_DIR/$name" -a 127.0.0.1 -p "$port" \
        --configure-bucket "$bucket" --silent
    t_wait 15 curl -s -o /dev/null "http://127.0.0.1:$port/" ||
        t_fail "s3rver did not start"
}

# c_s3_objects NAME BUCKET: how many objects s3rver holds in BUCKET.
c_s3_objects() {
    find "$T_DIR/$1/$2" -name '*._S3rver_object' 2>/dev/null | wc -l
}

# c_stat OUT COUNTER: one of ccache's counters for the builder on OUT.
c_stat() {
    CCACHE_DIR=$1/cache/ccache ccache --print-stats |
        awk -v k="$2" '$1 == k { print $2 }'
}

# c_pipeline ROOT ID [FILES]: a C pipeline of FILES (default 3) units,
# compiled (-c) and linked in two steps, since compiler caches cache
# only the first, and with paths relative to the pipeline, so that the
# same sources under another id hash the same.  The binary prints
# "sum <n>".  Placed as a drop-in must be: a dot name, then a rename.
c_pipeline() {
    local root=$1 id=$2 files=${3:-3} dir i objs=
    dir=$root/.new-$id
    rm -rf "$dir"
    mkdir -p "$dir"
    for ((i = 1; i <= files; i++)); do
        printf 'int f%d(int x) { int s = 0; for (int k = 0; k < x; k++)\n' \
            "$i" >"$dir/u$i.c"
        printf '    s += k * %d; return s; }\n' "$i" >>"$dir/u$i.c"
        objs="$objs u$i.o"
    done
    {
        printf '#include <stdio.h>\n'
        for ((i = 1; i <= files; i++)); do printf 'int f%d(int);\n' "$i"; done
        printf 'int main(void) { int s = 0;\n'
        for ((i = 1; i <= files; i++)); do printf 's += f%d(3);\n' "$i"; done
        printf 'printf("sum %%d\\n", s); return 0; }\n'
    } >"$dir/main.c"
    {
        printf 'OBJS = main.o%s\n' "$objs"
        printf 'all: $(OBJS)\n\t$(CC) -o "$(OUT)" $(OBJS)\n'
        printf '%%.o: %%.c\n\t$(CC) -O1 -c -o $@ $<\n'
    } >"$dir/Makefile"
    printf '{"version": 1}\n' >"$dir/pipeline.json"
    mv "$dir" "$root/$id"
}

# c_build_cmd: builds in a copy of the sources, so that the objects of
# one worker never land in the pipelines directory another one reads.
c_build_cmd() {
    printf '%s' 'cp -r "$PIPELINE_SRC" src && ' \
        'make -s -C src OUT="$PIPELINE_OUT"'
}

# c_leader NAME PORT OUT: a leader sidecar (worker 0 of 1) on OUT, with
# its store in $T_DIR/NAME-store.  Sets C_URL to its base URL.
c_leader() {
    local name=$1 port=$2 out=$3
    C_URL=http://127.0.0.1:$port
    t_sidecar "$name" "$port" --watch "$out" --worker-id 0 --workers 1 \
        --store "$T_DIR/$name-store" --token-file "$T_DIR/token"
}

# c_healthz URL: "<http code> <cache status> <cache reason>" of /healthz.
c_healthz() {
    local body code cache
    body=$(curl -s --max-time 5 -w '\n%{http_code}' "$1/healthz")
    code=${body##*$'\n'}
    cache=$(jq -r '[.cache.status, .cache.reason] | join(" ")' \
        <<<"${body%$'\n'*}")
    printf '%s %s\n' "$code" "$cache"
}

# c_healthz_is URL REGEX: /healthz (as c_healthz prints it) matches.
c_healthz_is() { [[ $(c_healthz "$1") =~ $2 ]]; }

# With a sidecar on the volume, a manifest moves from ready/ to done/
# once shipped: these read it wherever it is.
c_manifest() {
    local m
    for m in "$1/ready/$2@$3.json" "$1/done/$2@$3.json"; do
        [ -f "$m" ] && { echo "$m"; return 0; }
    done
    return 1
}

# c_wait_result SECONDS OUT ID VERSION: fails the scenario on timeout.
c_wait_result() {
    t_wait "$1" c_manifest "$2" "$3" "$4" ||
        t_fail "no result for $3@$4 in $2 within $1 s"
}

# c_field OUT ID VERSION FIELD, c_log_has OUT ID VERSION REGEX: as
# b_field and b_log_has.
# The manifest may move between finding it and reading it: try again.
c_field() {
    local i m
    for i in 1 2 3; do
        m=$(c_manifest "$1" "$2" "$3") && jq -r ".$4" "$m" 2>/dev/null &&
            return 0
    done
    return 1
}
c_log_has() { c_field "$1" "$2" "$3" log | grep -q -- "$4"; }

# c_run URL ID VERSION: runs the binary the leader installed (the
# sidecar removes the volume's copy once shipped).
c_run() {
    local f=$T_DIR/.run-$2@$3
    curl -fs --max-time 5 -o "$f" "$1/v1/binaries/$2/$3" || return 1
    chmod +x "$f"
    "$f"
}

# c_share NAME URL: the fleet-sharing scenario through the store at URL.
# Workers 1 and 2 of 3, on volumes of their own (so worker 2's local
# cache starts empty), build pipelines 1 and then 2, whose sources are
# the same: worker 1 fills the store, worker 2 compiles nothing itself.
C_UNITS=4 # main.c and three more
c_share() {
    local name=$1 url=$2 p=$T_DIR/$1/pipelines k
    mkdir -p "$p"
    for k in 1 2; do
        b_builder "$name-w$k" --pipelines "$p" --out "$T_DIR/$name/out$k" \
            --worker-id "$k" --workers 3 --compiler-cache ccache \
            --ccache-remote-storage "$url" --build-cmd "$(c_build_cmd)"
    done
    c_pipeline "$p" 1
    b_wait_ready 30 "$T_DIR/$name/out1" 1 1
    c_pipeline "$p" 2
    b_wait_ready 30 "$T_DIR/$name/out2" 2 1
    for k in 1 2; do
        t_check "$name: worker $k built its pipeline" \
            [ "$(b_field "$T_DIR/$name/out$k" "$k" 1 state)" = success ]
    done
    t_check "$name: the binary works" \
        [ "$("$T_DIR/$name/out2/artifacts/2@1")" = "sum 18" ]
    t_check "$name: worker 1 wrote to the store" \
        [ "$(c_stat "$T_DIR/$name/out1" remote_storage_write)" -ge $C_UNITS ]
    t_check "$name: worker 2 found every unit in the store" \
        [ "$(c_stat "$T_DIR/$name/out2" remote_storage_hit)" = $C_UNITS ]
    t_check "$name: and compiled none itself" \
        [ "$(c_stat "$T_DIR/$name/out2" cache_miss)" = 0 ]
    t_check "$name: no remote storage error" \
        [ "$(c_stat "$T_DIR/$name/out2" remote_storage_error)" = 0 ]
    t_check "$name: the heartbeat says the cache is ok" \
        [ "$(jq -r .cache.status "$T_DIR/$name/out2/heartbeat")" = ok ]
}
