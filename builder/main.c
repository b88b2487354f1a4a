/* main.c - the builder: flags, start-up, and the one main loop. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "compcache.h"
#include "config.h"
#include "fleet.h"
#include "job.h"
#include "log.h"
#include "outdir.h"
#include "sched.h"
#include "timeutil.h"
#include "pipewatch.h"

#define PROG "builder"
/* Events come in bursts (a checkout, a rename dance); scan once after. */
#define DEBOUNCE_MS       100
#define DEFAULT_BUILD_CMD "make -C \"$PIPELINE_SRC\" OUT=\"$PIPELINE_OUT\""

struct options {
    const char *pipelines, *out, *build_cmd;
    const char *log_level, *compiler_cache, *ccache_remote;
    struct fleet_opts fleet;
    enum compcache_kind cache;
    long jobs, build_timeout, heartbeat_interval, stop_timeout;
    long rescan_interval;
};

struct loop {
    struct options opt;
    struct fleet fleet;
    struct outdir out;
    enum compcache_kind cache;
    char cachedir[PATH_MAX];
    struct pipewatch *watch;
    struct sched *sched;
    struct pollfd *fds; /* signals, inotify, then one per build slot */
    char pipelines[PATH_MAX];
    int sigfd;
    int64_t rescan_at, backstop_at, heartbeat_at;
    int stopping;
};

/* The flags, with their defaults; parse_options() fills and checks them. */
static struct options opt = {
    .fleet = FLEET_OPTS_DEFAULT,
    .build_cmd = DEFAULT_BUILD_CMD,
    .log_level = "info",
    .jobs = 1,
    .build_timeout = 3600,
    .heartbeat_interval = 2,
    .rescan_interval = 30,
    .stop_timeout = 10,
};

#define S(name, dst, ...) CONFIG_S(name, opt.dst, __VA_ARGS__)
#define L(name, dst, ...) CONFIG_L(name, opt.dst, __VA_ARGS__)

static const struct config_opt options[] = {
    S("pipelines", pipelines, "DIR", "the pipelines directory (required)"),
    S("out", out, "DIR",
      "the shared volume results are published into (required)"),
    FLEET_CONFIG_OPTS(opt.fleet),
    S("build-cmd", build_cmd, "CMD",
      "run by /bin/sh -c in a directory of its own (" DEFAULT_BUILD_CMD ")"),
    L("jobs", jobs, "N", "builds at once (1)", 1, 1024),
    L("build-timeout", build_timeout, "SECONDS",
      "a build running longer is killed: a compile error (3600)", 1, 604800),
    L("heartbeat-interval", heartbeat_interval, "SECONDS",
      "how often OUT/heartbeat is renewed (2)", 1, 3600),
    L("rescan-interval", rescan_interval, "SECONDS",
      "full rescan of the pipelines even without inotify events (30)", 1,
      86400),
    L("stop-timeout", stop_timeout, "SECONDS",
      "on SIGTERM, builds get SIGTERM, then SIGKILL after this (10)", 1, 3600),
    S("compiler-cache", compiler_cache, "none|sccache|ccache",
      "compile through this cache (sccache if SCCACHE_BUCKET is set, "
      "else none)"),
    S("ccache-remote-storage", ccache_remote, "URL",
      "ccache's shared store, e.g. redis://host:6379 "
      "(CCACHE_REMOTE_STORAGE)"),
    S("log-level", log_level, "LEVEL", "debug, info (default), warn or error"),
};

#undef S
#undef L

/* Checked with the other flags, before anything is set up. */
static void parse_cache(struct options *o)
{
    const char *name = o->compiler_cache;

    if (name == NULL || name[0] == '\0')
        name = compcache_default();
    o->compiler_cache = name;
    if (compcache_parse(name, &o->cache) < 0)
        config_die(PROG,
                   "--compiler-cache: '%s' is not none, sccache or ccache",
                   name);
    if (o->ccache_remote != NULL && o->ccache_remote[0] == '\0')
        o->ccache_remote = NULL;
    if (o->ccache_remote != NULL && o->cache != COMPCACHE_CCACHE)
        config_die(PROG,
                   "--ccache-remote-storage needs --compiler-cache ccache");
}

/* Fills 'o' from the flags and their variables; exits 2 on bad usage. */
static void parse_options(struct options *o, int argc, char **argv)
{
    config_parse(PROG,
                 "Builds the pipelines assigned to this worker and publishes "
                 "each result into the shared volume.",
                 options, (int)(sizeof(options) / sizeof(options[0])), argc,
                 argv);
    if (opt.pipelines == NULL || opt.pipelines[0] == '\0')
        config_die(PROG, "--pipelines is required");
    if (opt.out == NULL || opt.out[0] == '\0')
        config_die(PROG, "--out is required");
    if (opt.build_cmd[0] == '\0')
        config_die(PROG, "--build-cmd is empty");
    if (log_set_level(opt.log_level) < 0)
        config_die(PROG, "--log-level: '%s' is not debug, info, warn or error",
                   opt.log_level);
    parse_cache(&opt);
    *o = opt;
}

/* The path as given, made absolute, symlinks left for the watcher. */
static void absolute_path(char *buf, size_t size, const char *path)
{
    char cwd[PATH_MAX];
    size_t len;

    if (path[0] == '/') {
        snprintf(buf, size, "%s", path);
    } else {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            config_die(PROG, "cannot get the working directory: %s",
                       strerror(errno));
        snprintf(buf, size, "%s/%s", cwd, path);
    }
    len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
}

static void start_fleet(struct loop *l)
{
    fleet_resolve(PROG, &l->opt.fleet, &l->fleet);
}

static void start_cache(struct loop *l)
{
    char err[PATH_MAX + 64];

    l->cache = l->opt.cache;
    /* In the volume, so the cache outlives a restarted builder. */
    snprintf(l->cachedir, sizeof(l->cachedir), "%s/cache", l->out.path);
    if (compcache_setup(l->cache, l->cachedir, l->opt.ccache_remote, err,
                        sizeof(err)) < 0)
        config_die(PROG, "--compiler-cache %s: %s", l->opt.compiler_cache, err);
}

static int start_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void start_out(struct loop *l)
{
    if (outdir_open(&l->out, l->opt.out) < 0) {
        if (errno == EBUSY)
            config_die(PROG, "--out: another builder is using '%s'",
                       l->opt.out);
        config_die(PROG, "--out: cannot set up '%s': %s", l->opt.out,
                   strerror(errno));
    }
    outdir_clean(&l->out);
}

static void start_sched(struct loop *l)
{
    struct sched_config sc = {
        .worker_id = l->fleet.worker_id,
        .workers = l->fleet.workers,
        .jobs = l->opt.jobs,
        .stop_grace_s = l->opt.stop_timeout,
        .pipelines = l->pipelines,
        .env = {.cmd = l->opt.build_cmd,
                .pipelines = l->pipelines,
                .tmpdir = l->out.tmp,
                .timeout_s = l->opt.build_timeout,
                .nocache = compcache_plain_env(),
                .files = compcache_build_files(l->cache)},
        .out = &l->out,
        .watch = l->watch,
        .cache = l->cache,
    };

    l->sched = sched_new(&sc);
    l->fds = calloc((size_t)l->opt.jobs + 2, sizeof(*l->fds));
    if (l->sched == NULL || l->fds == NULL) {
        log_error("out of memory", NULL);
        exit(1);
    }
}

/* Where the worker id and the count came from, and what it watches. */
static void log_started(const struct loop *l)
{
    char pipelines[PATH_MAX + 8], out[PATH_MAX + 8], sts[300], source[320];

    log_quote(sts, sizeof(sts), l->fleet.statefulset);
    snprintf(source, sizeof(source), "%s%s", l->fleet.from_k8s ? "k8s" : "flag",
             l->fleet.from_k8s ? " statefulset=" : "");
    log_info(
        "builder started",
        "pipelines=%s out=%s worker_id=%ld workers=%ld source=%s%s jobs=%ld",
        log_quote(pipelines, sizeof(pipelines), l->pipelines),
        log_quote(out, sizeof(out), l->out.path), l->fleet.worker_id,
        l->fleet.workers, source, l->fleet.from_k8s ? sts : "", l->opt.jobs);
}

static void start(struct loop *l, int argc, char **argv)
{
    parse_options(&l->opt, argc, argv);
    absolute_path(l->pipelines, sizeof(l->pipelines), l->opt.pipelines);
    start_fleet(l);
    start_out(l);
    start_cache(l);

    l->sigfd = start_signals();
    if (l->sigfd < 0) {
        log_error("cannot set up signals", "error=\"%s\"", strerror(errno));
        exit(1);
    }
    l->watch = pipewatch_open(l->pipelines);
    if (l->watch == NULL)
        log_warn("inotify unavailable; relying on the periodic rescan",
                 "error=\"%s\"", strerror(errno));

    start_sched(l);
    log_started(l);
}

static void on_signals(struct loop *l)
{
    struct signalfd_siginfo si;
    char name[64];
    int status;
    pid_t pid;

    while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD || l->stopping)
            continue;
        log_info("stopping", "signal=%s sender_pid=%u",
                 log_quote(name, sizeof(name), strsignal((int)si.ssi_signo)),
                 si.ssi_pid);
        l->stopping = 1;
        sched_stop(l->sched);
    }
    /* One SIGCHLD may stand for several exits. */
    while ((pid = job_reap(&status)) > 0)
        sched_reaped(l->sched, pid, status);
}

static void write_heartbeat(struct loop *l, bool stopped)
{
    int building, queued;
    char *cache;

    sched_counts(l->sched, &building, &queued);
    cache = compcache_status_json(l->cache);
    if (outdir_heartbeat(&l->out, l->fleet.worker_id, building, queued, cache,
                         stopped) < 0)
        log_warn("cannot write heartbeat", "error=\"%s\"", strerror(errno));
    free(cache);
}

static void heartbeat(struct loop *l, int64_t now)
{
    if (now < l->heartbeat_at)
        return;
    l->heartbeat_at = now + l->opt.heartbeat_interval * 1000;
    write_heartbeat(l, false);
}

static void maybe_rescan(struct loop *l, int64_t now)
{
    if (l->stopping)
        return;
    if (now >= l->backstop_at || sched_rescan_due(l->sched) ||
        (l->rescan_at != 0 && now >= l->rescan_at)) {
        l->rescan_at = 0;
        l->backstop_at = now + l->opt.rescan_interval * 1000;
        sched_rescan(l->sched);
    }
}

static int64_t min_wait(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static int poll_timeout(const struct loop *l, int64_t now)
{
    int64_t wait = l->heartbeat_at - now;

    if (!l->stopping) {
        wait = min_wait(wait, l->backstop_at - now);
        if (l->rescan_at != 0)
            wait = min_wait(wait, l->rescan_at - now);
        wait = min_wait(wait, fleet_next_ms(&l->fleet));
    }
    wait = min_wait(wait, sched_next_ms(l->sched));
    if (wait < 0)
        wait = 0;
    return wait > INT_MAX ? INT_MAX : (int)wait;
}

/* Returns 0, or -1 when poll(2) itself fails and the loop cannot go on. */
static int wait_events(struct loop *l)
{
    struct pollfd *fds = l->fds;
    int64_t now = timeutil_mono_ms();
    int n;

    fds[0] = (struct pollfd){.fd = l->sigfd, .events = POLLIN};
    fds[1] = (struct pollfd){.fd = l->watch ? pipewatch_fd(l->watch) : -1,
                             .events = POLLIN};
    n = 2 + sched_pollfds(l->sched, fds + 2);
    if (poll(fds, (nfds_t)n, poll_timeout(l, now)) < 0) {
        if (errno == EINTR)
            return 0;
        log_error("cannot wait for events", "error=\"%s\"", strerror(errno));
        return -1;
    }
    /* Output first: a build that just exited may have left some. */
    sched_output(l->sched, fds + 2);
    if (fds[0].revents & POLLIN)
        on_signals(l);
    if ((fds[1].revents & POLLIN) && pipewatch_read(l->watch) &&
        l->rescan_at == 0)
        l->rescan_at = timeutil_mono_ms() + DEBOUNCE_MS;
    return 0;
}

/* Kills what still builds, then stops the cache server and frees all. */
static void finish(struct loop *l, bool abort)
{
    if (abort)
        sched_abort(l->sched);
    write_heartbeat(l, true);
    compcache_stop(l->cache, l->cachedir);
    sched_free(l->sched);
    free(l->fds);
    pipewatch_close(l->watch);
}

int main(int argc, char **argv)
{
    struct loop l;

    memset(&l, 0, sizeof(l));
    log_init(PROG);
    start(&l, argc, argv);

    for (;;) {
        int64_t now = timeutil_mono_ms();

        heartbeat(&l, now);
        if (!l.stopping && fleet_check(&l.fleet) < 0)
            goto out_abort;
        maybe_rescan(&l, now);
        sched_tick(l.sched);
        if (l.stopping && sched_running(l.sched) == 0)
            break;
        if (wait_events(&l) < 0)
            goto out_abort;
    }
    finish(&l, false);
    log_info("builder stopped", NULL);
    return 0;

out_abort:
    finish(&l, true);
    return 1;
}
