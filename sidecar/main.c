/* main.c - the sidecar: ships this pod's results; on worker 0, receives. */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config.h"
#include "fleet.h"
#include "health.h"
#include "log.h"
#include "pending.h"
#include "server.h"
#include "shipper.h"
#include "store.h"
#include "timeutil.h"
#include "token.h"

#define PROG "sidecar"

struct options {
    const char *watch, *listen, *leader, *store;
    const char *pipelines, *token_file, *tls_cert, *tls_key, *ca_file;
    const char *url_template, *log_level;
    struct fleet_opts fleet;
    bool insecure_no_auth;
    long retries, retry_delay_ms, concurrency, upload_timeout;
    long keep_uploaded, keep_versions, max_binary_bytes;
    long health_timeout_ms, heartbeat_timeout, reconcile_interval;
    long shutdown_timeout, http_threads;
};

static struct options opt = {
    .listen = "8085",
    .fleet = FLEET_OPTS_DEFAULT,
    .log_level = "info",
    .retries = 10,
    .retry_delay_ms = 1000,
    .concurrency = 2,
    .upload_timeout = 600,
    .keep_uploaded = 0,
    .keep_versions = 2,
    .max_binary_bytes = 4LL * 1024 * 1024 * 1024,
    .health_timeout_ms = 2000,
    .heartbeat_timeout = 30,
    .reconcile_interval = 300,
    .shutdown_timeout = 25,
    .http_threads = 4,
};

#define S(name, dst, ...) CONFIG_S(name, opt.dst, __VA_ARGS__)
#define L(name, dst, ...) CONFIG_L(name, opt.dst, __VA_ARGS__)

static const struct config_opt options[] = {
    S("watch", watch, "DIR", "the shared volume (the builder's --out)"),
    S("listen", listen, "[ADDR:]PORT", "HTTP address (default 8085)"),
    FLEET_CONFIG_OPTS(opt.fleet),
    S("leader", leader, "URL", "base URL of worker 0's sidecar"),
    S("store", store, "DIR", "leader: where binaries and status live"),
    S("pipelines", pipelines, "DIR", "leader: list unreported as pending"),
    S("token-file", token_file, "FILE", "shared bearer token"),
    {"insecure-no-auth", CONFIG_BOOL, &opt.insecure_no_auth, NULL,
     "leader: accept writes without a token", 0, 0},
    L("upload-retries", retries, "N", "retries after the first (10)", 0, 1000),
    L("upload-retry-delay-ms", retry_delay_ms, "MS",
      "first delay, doubled each retry (1000)", 1, 3600000),
    L("upload-concurrency", concurrency, "N", "uploads at once (2)", 1, 64),
    L("upload-timeout", upload_timeout, "SECONDS", "limit for one upload (600)",
      1, 86400),
    L("keep-uploaded", keep_uploaded, "N",
      "acknowledged artifacts kept in the volume (0)", 0, 1000000),
    L("keep-versions", keep_versions, "N",
      "leader: installed versions kept per pipeline (2)", 1, 1000),
    L("max-binary-bytes", max_binary_bytes, "N",
      "leader: largest upload accepted (4 GiB)", 1, INT64_MAX),
    S("tls-cert", tls_cert, "FILE", "serve HTTPS with this certificate"),
    S("tls-key", tls_key, "FILE", "and this key"),
    S("ca-file", ca_file, "FILE", "trust this CA for other sidecars"),
    S("worker-url-template", url_template, "URL",
      "leader: worker K's sidecar, {k} replaced by K"),
    L("health-timeout-ms", health_timeout_ms, "MS",
      "leader: per-worker /healthz timeout (2000)", 10, 60000),
    L("heartbeat-timeout", heartbeat_timeout, "SECONDS",
      "builder heartbeat age that counts as dead (30)", 1, 86400),
    L("reconcile-interval", reconcile_interval, "SECONDS",
      "backstop rescan of ready/ (300)", 1, 86400),
    L("shutdown-timeout", shutdown_timeout, "SECONDS",
      "on SIGTERM, wait this long for uploads in flight (25)", 0, 3600),
    L("http-threads", http_threads, "N", "HTTP server threads (4)", 1, 64),
    S("log-level", log_level, "LEVEL", "debug, info, warn or error"),
};

#define NOPTIONS ((int)(sizeof(options) / sizeof(options[0])))

static struct fleet fleet;
static struct store *store;
static struct server *server;

/* Addresses and files named by flags, checked before anything starts. */
static void check_addresses(void)
{
    struct sockaddr_storage addr;
    unsigned len;

    if (server_parse_listen(opt.listen, &addr, &len) < 0)
        config_die(PROG, "--listen: '%s' is not [ADDR:]PORT", opt.listen);
    if (opt.leader != NULL && strncmp(opt.leader, "http://", 7) != 0 &&
        strncmp(opt.leader, "https://", 8) != 0)
        config_die(PROG, "--leader: '%s' is not an http:// or https:// URL",
                   opt.leader);
    if (opt.ca_file != NULL && access(opt.ca_file, R_OK) < 0)
        config_die(PROG, "cannot read --ca-file '%s': %s", opt.ca_file,
                   strerror(errno));
}

static void check_options(void)
{
    if (opt.watch == NULL)
        config_die(PROG, "--watch is required");
    if (log_set_level(opt.log_level) < 0)
        config_die(PROG, "--log-level: '%s' is not debug, info, warn or error",
                   opt.log_level);

    if ((opt.tls_cert == NULL) != (opt.tls_key == NULL))
        config_die(PROG, "--tls-cert and --tls-key go together");
    if (opt.tls_cert != NULL && access(opt.tls_cert, R_OK) < 0)
        config_die(PROG, "cannot read --tls-cert '%s': %s", opt.tls_cert,
                   strerror(errno));
    if (opt.tls_key != NULL && access(opt.tls_key, R_OK) < 0)
        config_die(PROG, "cannot read --tls-key '%s': %s", opt.tls_key,
                   strerror(errno));

    /* Which role this worker has decides what else it needs. */
    if (fleet.worker_id == 0 && opt.store == NULL)
        config_die(PROG, "--store is required on worker 0 (the leader)");
    if (fleet.worker_id != 0 && opt.leader == NULL)
        config_die(PROG, "--leader is required on worker %ld", fleet.worker_id);

    if (opt.token_file != NULL && token_init(opt.token_file) < 0)
        config_die(PROG, "cannot read token file '%s': %s", opt.token_file,
                   strerror(errno));
}

/*
 * Without a token the leader still serves reads and installs its own
 * results, but every upload and status report from elsewhere is
 * refused (401): said at start, since it is rarely what was meant.
 */
static void warn_auth(void)
{
    if (opt.insecure_no_auth && store != NULL)
        log_warn("accepting uploads and reports without a token",
                 "flag=--insecure-no-auth");
    else if (opt.token_file == NULL && store != NULL)
        log_warn("no token: uploads and reports from workers are refused",
                 "hint=--token-file");
    else if (opt.token_file == NULL)
        log_warn("no token: the leader will refuse this worker's uploads",
                 "hint=--token-file");
}

/* Thousands of idle clients must not exhaust descriptors first. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int signal_fd(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Blocked before any thread starts, so every thread inherits it. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static bool signalled(int sfd)
{
    struct signalfd_siginfo si;
    bool got = false;

    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        log_info("signal received, shutting down", "signal=%u", si.ssi_signo);
        got = true;
    }
    return got;
}

/* Keeps health_worker_problem() fresh for the pending messages. */
static void *cluster_watch(void *arg)
{
    (void)arg;
    for (;;) {
        bool all;

        json_decref(health_cluster(&all));
        sleep(10);
    }
    return NULL;
}

static void open_leader(void)
{
    struct store_config sc = {
        .dir = opt.store,
        .keep_versions = opt.keep_versions,
        .max_binary_bytes = opt.max_binary_bytes,
    };
    char q[4200];

    store = store_open(&sc);
    if (store == NULL) {
        log_error("cannot open store", "dir=%s error=\"%s\"",
                  log_quote(q, sizeof(q), opt.store), strerror(errno));
        exit(1);
    }
    pending_init(opt.pipelines, fleet.workers);
    pending_refresh();
    if (opt.pipelines != NULL && opt.url_template != NULL) {
        pthread_t t;

        /* Without it pending entries only lack the worker's reason. */
        if (pthread_create(&t, NULL, cluster_watch, NULL) != 0)
            log_warn("cannot start the cluster check", NULL);
        else
            pthread_detach(t);
    }
}

static void start_parts(void)
{
    struct health_config hc = {
        .out = opt.watch,
        .worker_id = fleet.worker_id,
        .workers = fleet.workers,
        .heartbeat_timeout = opt.heartbeat_timeout,
        .url_template = opt.url_template,
        .ca_file = opt.ca_file,
        .timeout_ms = opt.health_timeout_ms,
    };
    struct shipper_config sc = {
        .out = opt.watch,
        .leader = store ? NULL : opt.leader,
        .store = store,
        .worker_id = fleet.worker_id,
        .retries = opt.retries,
        .retry_delay_ms = opt.retry_delay_ms,
        .concurrency = opt.concurrency,
        .upload_timeout = opt.upload_timeout,
        .keep_uploaded = opt.keep_uploaded,
        .reconcile_interval = opt.reconcile_interval,
        .ca_file = opt.ca_file,
    };
    struct server_config srv = {
        .listen = opt.listen,
        .tls_cert = opt.tls_cert,
        .tls_key = opt.tls_key,
        .store = store,
        .worker_id = fleet.worker_id,
        .workers = fleet.workers,
        .insecure_no_auth = opt.insecure_no_auth,
        .threads = opt.http_threads,
    };
    char q[4200];

    health_init(&hc);
    if (shipper_init(&sc) < 0) {
        log_error("cannot watch the shared volume", "dir=%s error=\"%s\"",
                  log_quote(q, sizeof(q), opt.watch), strerror(errno));
        exit(1);
    }
    server = server_start(&srv);
    if (server == NULL)
        exit(1);
}

/* Leader chores: the pending list every 2 s, stale temporaries hourly. */
static void leader_chores(int64_t now)
{
    static int64_t next_pending, next_clean;

    if (store == NULL)
        return;
    if (now >= next_pending) {
        pending_refresh();
        next_pending = now + 2000;
    }
    if (now >= next_clean) {
        if (next_clean != 0)
            store_clean_temps(store);
        next_clean = now + 3600 * 1000;
    }
}

/* Whether the leader is still receiving uploads begun before SIGTERM. */
static bool receiving(void)
{
    static size_t last = (size_t)-1;
    size_t n;

    if (store == NULL)
        return false;
    n = store_receiving(store);
    if (n > 0 && n != last)
        log_info("draining incoming uploads", "active=%zu", n);
    last = n;
    return n > 0;
}

static int run(int sfd)
{
    struct pollfd extra = {.fd = sfd, .events = POLLIN};
    int64_t deadline = 0;

    for (;;) {
        int64_t now = timeutil_mono_ms();
        int64_t wait = shipper_run();

        if (fleet_check(&fleet) < 0)
            return 1;
        leader_chores(now);
        if (deadline == 0 && signalled(sfd)) {
            deadline = now + opt.shutdown_timeout * 1000;
            server_drain(server);
        }
        if (deadline != 0 && shipper_drain() && !receiving())
            return 0;
        if (deadline != 0 && now >= deadline) {
            shipper_abandon();
            return 0;
        }
        shipper_wait(&extra, 1, wait < 500 ? wait : 500);
    }
}

int main(int argc, char **argv)
{
    int sfd, rc;

    log_init(PROG);
    config_parse(PROG,
                 "Watches the shared volume and ships each result to "
                 "the leader; on worker 0, receives and installs.",
                 options, NOPTIONS, argc, argv);
    check_addresses();
    fleet_resolve(PROG, &opt.fleet, &fleet);
    check_options();
    raise_fd_limit();
    sfd = signal_fd();
    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (fleet.worker_id == 0)
        open_leader();
    start_parts();
    warn_auth();
    log_info("sidecar started", "worker=%ld workers=%ld role=%s statefulset=%s",
             fleet.worker_id, fleet.workers, store ? "leader" : "worker",
             fleet.from_k8s ? fleet.statefulset : "-");

    rc = run(sfd);
    server_stop(server);
    shipper_close();
    store_close(store);
    curl_global_cleanup();
    log_info("sidecar stopped", "exit=%d", rc);
    return rc;
}
