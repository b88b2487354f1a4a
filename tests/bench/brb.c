/* brb.c - the benchmark driver: publishes drop-in results and times each
 * one from its manifest's rename to its installation at the leader.
 *
 *   brb --store STORE --out OUT0[,OUT1...] --count N --size BYTES
 *       --id-base B [--version V] [--burst] [--no-wait] [--no-fsync]
 *       [--pids P1,P2,...] [--timeout-ms MS] [--lat FILE]
 *
 * Result i gets the decimal id B + i and goes into OUT[(B + i) % nout]
 * (so that with OUT0..OUT<n-1> listed it lands in its owner's volume).
 * Its binary (SIZE pseudo-random bytes, unique per id) is written under
 * a dot name in OUT/tmp, fsynced and renamed to OUT/artifacts/<id>@<v>
 * before any timing starts; then its manifest is renamed into ready/ and
 * the clock runs until the leader's STORE/status/<id>.json says
 * "success" for that version (inotify on STORE/status, which the leader
 * replaces by rename only once the binary is fsynced and renamed into
 * place).
 *
 * Sequential (default): one result at a time; each latency is measured
 * alone.  --burst: every binary is prepared first, then every manifest is
 * renamed as fast as possible, and the wall time runs until the last is
 * installed.  --no-wait: publish only (for the restart rescan);
 * --wait-only: publish nothing, time from now until ids B..B+N-1 are
 * installed (results published earlier, e.g. while a sidecar was down).
 *
 * --same-id (sequential only): every result is the same pipeline B, with
 * versions V, V+1, ...; with the leader's --keep-versions 1 each install
 * removes the previous binary, so memory is recycled as in steady state.
 *
 * --link SRC: each binary is a hard link to SRC (no bytes written; SIZE
 * is ignored and taken from SRC).  --free PATH (up to 8): unlinked just
 * before each manifest is renamed, e.g. the previous version at the
 * leader, so that the receiver writes into pages that were in use a
 * moment ago (see warm_up()).
 *
 * --pids: the user+system CPU (from /proc/<pid>/stat) of these processes
 * over the timed part, summed; in sequential mode the sample after each
 * result is taken once the worker moved its manifest out of ready/ (it
 * acknowledged), so the worker's bookkeeping is counted too.
 *
 * Prints key=value lines: count, bytes, wall_us, cpu_ms, lat_p50_us,
 * lat_p90_us, lat_p99_us, lat_max_us, mib_per_s.  Every wait is bounded
 * by --timeout-ms (default 120000) per result in sequential mode and in
 * total in burst mode; on a timeout it exits 1 naming what is missing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_OUTS 64
#define MAX_PIDS 64
#define CHUNK    (1024 * 1024)

static const char *store;
static char *outs[MAX_OUTS];
static int outfds[MAX_OUTS], nouts;
static long count = 1, version = 1, base = 1;
static long long size = 1024 * 1024;
static long timeout_ms = 120000;
static int burst, no_wait, no_fsync, wait_only, same_id;
static int pids[MAX_PIDS], npids;
static const char *latfile;
static int statfd = -1, inofd = -1;
static unsigned char *chunk;
static long long warm;
static const char *floor_dir, *link_src;
static char *frees[8];
static int nfrees;

/*
 * Touches 'bytes' of fresh memory and gives it back.  In a VM whose host
 * backs guest memory lazily (and takes freed pages back after ~2 s), the
 * first write to a page costs a host fault, ~2.5 s per GiB here; the
 * page cache that the receiver is about to fill then reuses pages that
 * were just touched, as it would on a machine in steady state.  Every
 * variant, baselines included, gets the same treatment.
 */
static void warm_up(long long bytes)
{
    char *p;

    if (bytes <= 0)
        return;
    p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    for (long long i = 0; i < bytes; i += 4096)
        p[i] = 1;
    munmap(p, (size_t)bytes);
}

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "brb: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* user+system CPU of every watched process, in milliseconds. */
static long long cpu_ms(void)
{
    long long total = 0;
    long tick = sysconf(_SC_CLK_TCK);

    for (int i = 0; i < npids; i++) {
        char path[64], buf[4096], *p;
        unsigned long long ut = 0, st = 0;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);
        fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (p == NULL)
            continue;
        /* after ") ": state(3) ... utime(14) stime(15) */
        if (sscanf(p + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                   &st) == 2)
            total += (long long)(ut + st) * 1000 / tick;
    }
    return total;
}

static int out_of(long id)
{
    return (int)(id % nouts);
}

static void fill_chunk(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;

    chunk = malloc(CHUNK);
    if (chunk == NULL)
        die("malloc");
    for (size_t i = 0; i < CHUNK; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(chunk + i, &x, 8);
    }
}

/* Writes the binary of 'id' and renames it into artifacts/. */
static void prepare(long id)
{
    int ofd = outfds[out_of(id)], fd;
    char tmp[128], dst[128];
    long long left = size;
    uint64_t stamp[2] = {(uint64_t)id, (uint64_t)version};

    snprintf(tmp, sizeof(tmp), "tmp/.brb-%ld@%ld", id, version);
    snprintf(dst, sizeof(dst), "artifacts/%ld@%ld", id, version);
    if (link_src != NULL) {
        /* the same bytes as SRC, already in the page cache, no copy */
        unlinkat(ofd, tmp, 0);
        if (linkat(AT_FDCWD, link_src, ofd, tmp, 0) < 0)
            die(link_src);
        left = 0;
        goto renamed;
    }
    fd = openat(ofd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (fd < 0)
        die(tmp);
    for (long long off = 0; left > 0; off += CHUNK) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        /* every chunk differs: the offset and id are stamped in */
        memcpy(chunk, stamp, sizeof(stamp));
        memcpy(chunk + 16, &off, sizeof(off));
        if (write(fd, chunk, n) != (ssize_t)n)
            die("write");
        left -= (long long)n;
    }
    if (!no_fsync && fsync(fd) < 0)
        die("fsync");
    if (close(fd) < 0)
        die("close");
renamed:
    if (renameat(ofd, tmp, ofd, dst) < 0)
        die("rename artifact");

    snprintf(tmp, sizeof(tmp), "tmp/.brb-%ld@%ld.json", id, version);
    fd = openat(ofd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(tmp);
    dprintf(fd,
            "{\"pipeline_id\":\"%ld\",\"version\":%ld,\"state\":\"success\","
            "\"artifact\":\"artifacts/%ld@%ld\",\"log\":\"\","
            "\"worker_id\":%d,\"started_at\":\"2026-01-01T00:00:00Z\","
            "\"finished_at\":\"2026-01-01T00:00:01Z\"}\n",
            id, version, id, version, out_of(id));
    if (!no_fsync && fsync(fd) < 0)
        die("fsync");
    close(fd);
}

static void publish(long id)
{
    int ofd = outfds[out_of(id)];
    char tmp[128], dst[128];

    snprintf(tmp, sizeof(tmp), "tmp/.brb-%ld@%ld.json", id, version);
    snprintf(dst, sizeof(dst), "ready/%ld@%ld.json", id, version);
    if (renameat(ofd, tmp, ofd, dst) < 0)
        die("rename manifest");
}

/* True when STORE/status/<id>.json records success of 'version'. */
static int installed(long id)
{
    char name[64];
    json_t *j, *st, *v;
    int ok = 0, fd;

    snprintf(name, sizeof(name), "%ld.json", id);
    fd = openat(statfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    j = json_loadfd(fd, 0, NULL);
    close(fd);
    if (j == NULL)
        return 0;
    st = json_object_get(j, "state");
    v = json_object_get(j, "version");
    ok = json_is_string(st) && strcmp(json_string_value(st), "success") == 0 &&
         json_is_integer(v) && json_integer_value(v) == version;
    json_decref(j);
    return ok;
}

/* Whether the worker still has the manifest of 'id' in ready/. */
static int still_ready(long id)
{
    char name[128];
    struct stat st;

    snprintf(name, sizeof(name), "ready/%ld@%ld.json", id, version);
    return fstatat(outfds[out_of(id)], name, &st, 0) == 0;
}

/*
 * Reads inotify events for up to 'ms'; calls done(id) for each status
 * file replaced.  Returns 1 after an overflow (caller rescans), else 0.
 */
static int events(int ms, void (*done)(long))
{
    char buf[64 * 1024] __attribute__((aligned(8)));
    struct pollfd p = {.fd = inofd, .events = POLLIN};
    int overflow = 0;
    ssize_t n;

    if (poll(&p, 1, ms) <= 0)
        return 0;
    n = read(inofd, buf, sizeof(buf));
    for (char *q = buf; n > 0 && q < buf + n;) {
        struct inotify_event *e = (struct inotify_event *)q;
        char *end;
        long id;

        if (e->mask & IN_Q_OVERFLOW)
            overflow = 1;
        if (e->len > 0) {
            id = strtol(e->name, &end, 10);
            if (end != e->name && strcmp(end, ".json") == 0)
                done(id);
        }
        q += sizeof(*e) + e->len;
    }
    return overflow;
}

static int64_t *t_pub, *t_done;
static long ndone;

static void mark(long id)
{
    long i = id - base;

    if (i < 0 || i >= count || t_done[i] != 0 || t_pub[i] == 0)
        return;
    if (!installed(id))
        return;
    t_done[i] = now_us();
    ndone++;
}

/* --same-id: one pipeline, version after version; result i is the one
 * in flight (the only one published and not yet installed). */
static long current;

static void mark_same(long id)
{
    if (id != base || t_done[current] != 0 || !installed(id))
        return;
    t_done[current] = now_us();
    ndone++;
}

static void rescan_all(void)
{
    for (long i = 0; i < count; i++)
        if (t_done[i] == 0 && t_pub[i] != 0)
            mark(base + i);
}

static int cmp64(const void *a, const void *b);

/*
 * --floor DIR: the leader's disk work for one install, done here with no
 * network, no hash and no locks: a temporary of SIZE bytes written,
 * fsynced, renamed into DIR/bin/ and that directory fsynced, then a
 * ~300-byte status written to a temporary, fsynced, renamed into
 * DIR/status/ and that directory fsynced.  Times COUNT of them.
 */
static int floor_run(const char *dir)
{
    char path[PATH_MAX], tmp[64], name[64], status[320];
    int dfd, bfd, sfd, tfd;
    int64_t *lat = calloc((size_t)count, sizeof(*lat));

    snprintf(path, sizeof(path), "%s/bin", dir);
    mkdir(dir, 0755);
    mkdir(path, 0755);
    bfd = open(path, O_RDONLY | O_DIRECTORY);
    snprintf(path, sizeof(path), "%s/status", dir);
    mkdir(path, 0755);
    sfd = open(path, O_RDONLY | O_DIRECTORY);
    snprintf(path, sizeof(path), "%s/tmp", dir);
    mkdir(path, 0755);
    tfd = open(path, O_RDONLY | O_DIRECTORY);
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (lat == NULL || bfd < 0 || sfd < 0 || tfd < 0 || dfd < 0)
        die(dir);
    memset(status, 'x', sizeof(status) - 1);
    status[sizeof(status) - 1] = '\n';
    for (long i = 0; i < count; i++) {
        int64_t t0 = now_us();
        long long left = size;
        int fd;

        snprintf(tmp, sizeof(tmp), ".t%ld", i);
        snprintf(name, sizeof(name), "%ld", base + i);
        fd = openat(tfd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            die("floor open");
        while (left > 0) {
            size_t n = left < CHUNK ? (size_t)left : CHUNK;
            if (write(fd, chunk, n) != (ssize_t)n)
                die("floor write");
            left -= (long long)n;
        }
        if (fsync(fd) < 0 || close(fd) < 0)
            die("floor fsync");
        if (renameat(tfd, tmp, bfd, name) < 0 || fsync(bfd) < 0)
            die("floor rename");
        fd = openat(sfd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, status, sizeof(status)) < 0 || fsync(fd) < 0)
            die("floor status");
        close(fd);
        if (renameat(sfd, tmp, sfd, name) < 0 || fsync(sfd) < 0)
            die("floor status rename");
        lat[i] = now_us() - t0;
        unlinkat(bfd, name, 0);
    }
    qsort(lat, (size_t)count, sizeof(*lat), cmp64);
    printf("count=%ld\nlat_p50_us=%lld\nlat_p99_us=%lld\n", count,
           (long long)lat[(count - 1) / 2],
           (long long)lat[(count - 1) * 99 / 100]);
    return 0;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void split(char *s, void (*add)(char *))
{
    for (char *tok = strtok(s, ","); tok != NULL; tok = strtok(NULL, ","))
        add(tok);
}

static void add_out(char *s)
{
    if (nouts < MAX_OUTS)
        outs[nouts++] = s;
}

static void add_pid(char *s)
{
    if (npids < MAX_PIDS)
        pids[npids++] = atoi(s);
}

static void usage(void)
{
    fprintf(stderr, "usage: brb --store DIR --out DIR[,DIR...] --count N "
                    "--size BYTES --id-base B [--version V] [--burst] "
                    "[--no-wait|--wait-only] [--no-fsync] [--same-id] "
                    "[--pids P,...] [--timeout-ms MS] [--lat FILE] "
                    "[--warm BYTES] [--link SRC] "
                    "[--free PATH]...\n"
                    "       brb --warm BYTES\n"
                    "       brb --floor DIR --size BYTES --count N\n");
    exit(2);
}

static void parse_value(const char *k, char *v);

static void parse_args(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        const char *k = argv[a];
        char *v = a + 1 < argc ? argv[a + 1] : NULL;

        if (strcmp(k, "--burst") == 0)
            burst = 1;
        else if (strcmp(k, "--no-wait") == 0)
            no_wait = 1;
        else if (strcmp(k, "--no-fsync") == 0)
            no_fsync = 1;
        else if (strcmp(k, "--same-id") == 0)
            same_id = 1;
        else if (strcmp(k, "--wait-only") == 0)
            wait_only = burst = 1;
        else if (v == NULL)
            usage();
        else
            parse_value(k, v), a++;
    }
}

static void parse_value(const char *k, char *v)
{
    if (strcmp(k, "--store") == 0)
        store = v;
    else if (strcmp(k, "--out") == 0)
        split(v, add_out);
    else if (strcmp(k, "--pids") == 0)
        split(v, add_pid);
    else if (strcmp(k, "--count") == 0)
        count = atol(v);
    else if (strcmp(k, "--size") == 0)
        size = atoll(v);
    else if (strcmp(k, "--id-base") == 0)
        base = atol(v);
    else if (strcmp(k, "--version") == 0)
        version = atol(v);
    else if (strcmp(k, "--timeout-ms") == 0)
        timeout_ms = atol(v);
    else if (strcmp(k, "--link") == 0)
        link_src = v;
    else if (strcmp(k, "--free") == 0 && nfrees < 8)
        frees[nfrees++] = v;
    else if (strcmp(k, "--floor") == 0)
        floor_dir = v;
    else if (strcmp(k, "--warm") == 0)
        warm = atoll(v);
    else if (strcmp(k, "--lat") == 0)
        latfile = v;
    else if (strcmp(k, "--free") != 0)
        usage();
}

/* Each worker's volume, with the folders a publisher writes into. */
static void open_outs(void)
{
    static const char *const sub[] = {"tmp", "artifacts", "ready"};
    char path[PATH_MAX];

    for (long i = 0; i < nouts; i++) {
        outfds[i] = open(outs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (outfds[i] < 0)
            die(outs[i]);
        for (int d = 0; d < 3; d++) {
            snprintf(path, sizeof(path), "%s/%s", outs[i], sub[d]);
            if (mkdir(path, 0755) < 0 && errno != EEXIST)
                die(path);
        }
    }
}

/* inotify on STORE/status: the leader renames each status into place. */
static void watch_status(void)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/status", store);
    statfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (statfd < 0)
        die(path);
    inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inofd < 0 || inotify_add_watch(inofd, path, IN_MOVED_TO) < 0)
        die("inotify");
}

/* Publishes every result at once, then waits for all; 0, 1 on timeout. */
static int run_burst(int64_t *t0, int64_t *t1, long long *cpu)
{
    int64_t last_scan;
    long long cpu0;

    for (long i = 0; wait_only == 0 && i < count; i++)
        prepare(base + i);
    for (long i = 0; no_fsync && i < nouts; i++)
        syncfs(outfds[i]);
    warm_up(warm);
    cpu0 = cpu_ms();
    *t0 = now_us();
    for (long i = 0; i < count; i++) {
        t_pub[i] = now_us();
        if (!wait_only)
            publish(base + i);
    }
    if (wait_only)
        rescan_all();
    if (no_wait) {
        printf("published=%ld\n", count);
        exit(0);
    }

    last_scan = now_us();
    while (ndone < count) {
        if (now_us() - *t0 > (int64_t)timeout_ms * 1000) {
            fprintf(stderr, "brb: timeout: %ld of %ld installed\n", ndone,
                    count);
            return 1;
        }
        /* A full rescan after an overflow, and at most once every 2 s as
         * a backstop, so that the driver stays out of the way. */
        if (events(1000, mark) || now_us() - last_scan > 2000000) {
            rescan_all();
            last_scan = now_us();
        }
    }
    *t1 = 0;
    for (long i = 0; i < count; i++)
        if (t_done[i] > *t1)
            *t1 = t_done[i];
    *cpu = cpu_ms() - cpu0;
    return 0;
}

/* Result i alone: published, installed, acknowledged.  0, 1 on timeout. */
static int run_one(long i, long first_version, int64_t *busy, long long *cpu)
{
    long id = same_id ? base : base + i;
    long long cpu0;
    int64_t start;

    if (same_id)
        version = first_version + i;
    current = i;
    prepare(id);
    warm_up(warm);
    for (int f = 0; f < nfrees; f++)
        unlink(frees[f]);

    cpu0 = cpu_ms();
    start = now_us();
    t_pub[i] = start;
    publish(id);
    while (t_done[i] == 0) {
        if (now_us() - start > (int64_t)timeout_ms * 1000) {
            fprintf(stderr, "brb: timeout waiting for %ld\n", id);
            return 1;
        }
        if (events(100, same_id ? mark_same : mark) ||
            now_us() - start > 200000)
            (same_id ? mark_same : mark)(id);
    }
    *busy += t_done[i] - start;

    /* The worker's acknowledgement, bounded. */
    while (still_ready(id) && now_us() - start < timeout_ms * 1000LL)
        usleep(200);
    *cpu += cpu_ms() - cpu0;
    return 0;
}

/* One result after the other; 0, or 1 on a timeout. */
static int run_sequential(int64_t *t0, int64_t *t1, long long *cpu)
{
    long first_version = version;
    int64_t busy = 0;

    *t0 = now_us();
    *cpu = 0;
    for (long i = 0; i < count; i++) {
        if (run_one(i, first_version, &busy, cpu) != 0)
            return 1;
    }
    *t1 = *t0 + busy;
    return 0;
}

static void report(int64_t *lat, int64_t t0, int64_t t1, long long cpu)
{
    for (long i = 0; i < count; i++)
        lat[i] = t_done[i] - t_pub[i];
    if (latfile != NULL) {
        FILE *f = fopen(latfile, "w");

        if (f == NULL)
            die(latfile);
        for (long i = 0; i < count; i++)
            fprintf(f, "%lld\n", (long long)lat[i]);
        fclose(f);
    }
    qsort(lat, (size_t)count, sizeof(*lat), cmp64);
#define PCT(p) ((long long)lat[(count - 1) * (p) / 100])
    printf("count=%ld\nbytes=%lld\nwall_us=%lld\ncpu_ms=%lld\n"
           "lat_p50_us=%lld\nlat_p90_us=%lld\nlat_p99_us=%lld\n"
           "lat_max_us=%lld\nmib_per_s=%.1f\n",
           count, size * count, (long long)(t1 - t0), cpu, PCT(50), PCT(90),
           PCT(99), (long long)lat[count - 1],
           (double)size * (double)count / 1048576.0 /
               ((double)(t1 - t0) / 1e6));
#undef PCT
}

int main(int argc, char **argv)
{
    int64_t t0 = 0, t1 = 0, *lat;
    long long cpu = 0;
    int rc;

    parse_args(argc, argv);
    if (floor_dir != NULL) {
        fill_chunk();
        return floor_run(floor_dir);
    }
    if (nouts == 0 && warm > 0) {
        warm_up(warm);
        return 0;
    }
    if (link_src != NULL) {
        struct stat st;

        if (stat(link_src, &st) < 0)
            die(link_src);
        size = st.st_size;
    }
    if (nouts == 0 || count <= 0 || size < 0 || (store == NULL && !no_wait))
        usage();

    open_outs();
    fill_chunk();
    t_pub = calloc((size_t)count, sizeof(*t_pub));
    t_done = calloc((size_t)count, sizeof(*t_done));
    lat = calloc((size_t)count, sizeof(*lat));
    if (t_pub == NULL || t_done == NULL || lat == NULL)
        die("calloc");
    if (!no_wait)
        watch_status();

    rc = burst || no_wait ? run_burst(&t0, &t1, &cpu)
                          : run_sequential(&t0, &t1, &cpu);
    if (rc != 0)
        return rc;
    report(lat, t0, t1, cpu);
    return 0;
}
