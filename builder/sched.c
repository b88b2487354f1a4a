/* sched.c - the pipeline table, and when builds start, end or die. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "manifest.h"
#include "scan.h"
#include "sched.h"

/*
 * A bad pipeline.json is acted on only once it has stayed bad this
 * long: a file rewritten in place is briefly half-written, and that
 * must neither be logged nor published as the pipeline's result.
 */
/* Less free space than this after a failed build: the volume is full. */
#define SCHED_LOW_SPACE (1024 * 1024)
#define SCHED_SETTLE_MS 1500
/* After a failure to start or publish, wait before trying again. */
#define SCHED_HOLD_MS 2000
/* How the log of a report on a bad pipeline.json starts. */
#define SCHED_INVALID "invalid pipeline.json: "
/* Room kept in a manifest's log for the builder's own last lines. */
#define SCHED_NOTE_MAX 768

struct pipe {
    char id[IDENT_ID_MAX + 1];
    int64_t want;      /* the version pipeline.json names; 0: none */
    int64_t published; /* the highest in ready/ or done/ */
    uint64_t seq;      /* when it became due: oldest builds first */
    unsigned gen;      /* the rescan that last saw it */
    struct job *job;   /* its live (not cancelled) build */
    char err[256];     /* what is wrong with pipeline.json, or "" */
    int64_t err_since;
    int err_done; /* err was logged and, if it can be, published */
    int64_t bad_version;
    /*
     * A version whose only result is an invalid pipeline.json report
     * (0: none): once the file is valid at that version, it is built.
     * 'checked' is the published version whose manifest was read (or
     * written here) to know.
     */
    int64_t invalid_at;
    int64_t checked;
    int64_t older_warned; /* the older version last warned about */
};

/* A directory whose name is no id: reported once while it exists. */
struct badname {
    char *name;
    unsigned gen;
};

struct sched {
    struct sched_config cfg;
    struct pipe *p;
    int n, cap;
    struct job *jobs; /* cfg.jobs slots; pid 0 marks a free one */
    struct badname *bad;
    int nbad;
    unsigned gen;
    uint64_t seq;
    int64_t settle_due; /* a rescan to act on a settled bad file; 0 none */
    int64_t hold_until;
    int64_t kill_at; /* while stopping: when SIGTERM turns to SIGKILL */
    int stopping;
    int root_warned;
};

struct sched *sched_new(const struct sched_config *cfg)
{
    struct sched *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->cfg = *cfg;
    s->jobs = calloc((size_t)cfg->jobs, sizeof(*s->jobs));
    if (s->jobs == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void sched_free(struct sched *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->nbad; i++)
        free(s->bad[i].name);
    free(s->bad);
    free(s->p);
    free(s->jobs);
    free(s);
}

/* The table is kept sorted by id, for bsearch. */
static int sched_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct pipe *)elem)->id);
}

static struct pipe *sched_find(const struct sched *s, const char *id)
{
    if (s->n == 0)
        return NULL;
    return bsearch(id, s->p, (size_t)s->n, sizeof(*s->p), sched_cmp);
}

static struct pipe *sched_insert(struct sched *s, const char *id)
{
    int lo = 0, hi = s->n;
    struct pipe *p;

    while (lo < hi) {
        int mid = (lo + hi) / 2;

        if (strcmp(s->p[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        struct pipe *np = realloc(s->p, sizeof(*np) * (size_t)cap);

        if (np == NULL)
            return NULL;
        s->p = np;
        s->cap = cap;
    }
    memmove(&s->p[lo + 1], &s->p[lo], sizeof(*p) * (size_t)(s->n - lo));
    s->n++;
    p = &s->p[lo];
    memset(p, 0, sizeof(*p));
    snprintf(p->id, sizeof(p->id), "%s", id);
    return p;
}

static void sched_remove(struct sched *s, struct pipe *p)
{
    int i = (int)(p - s->p);

    memmove(p, p + 1, sizeof(*p) * (size_t)(s->n - i - 1));
    s->n--;
}

/* Whether the version pipeline.json names still wants a build. */
static int sched_wants_build(const struct pipe *p)
{
    return p->want > p->published ||
           (p->want > 0 && p->want == p->published && p->want == p->invalid_at);
}

static struct job *sched_job_by_pid(struct sched *s, pid_t pid)
{
    for (long i = 0; i < s->cfg.jobs; i++) {
        if (s->jobs[i].pid == pid)
            return &s->jobs[i];
    }
    return NULL;
}

/* Kills a build's group; its end is handled when the shell is reaped. */
static void sched_cancel(struct pipe *p, const char *why)
{
    struct job *j = p->job;
    char quoted[128];

    log_info("build cancelled", "pipeline=%s version=%lld reason=%s", j->id,
             (long long)j->version, log_quote(quoted, sizeof(quoted), why));
    job_signal(j, SIGKILL);
    j->end = JOB_CANCELLED;
    p->job = NULL;
}

static void sched_bad_name(struct sched *s, const char *name)
{
    char quoted[300];
    struct badname *nb;

    for (int i = 0; i < s->nbad; i++) {
        if (strcmp(s->bad[i].name, name) == 0) {
            s->bad[i].gen = s->gen;
            return;
        }
    }
    nb = realloc(s->bad, sizeof(*nb) * (size_t)(s->nbad + 1));
    if (nb == NULL)
        return;
    s->bad = nb;
    s->bad[s->nbad].name = strdup(name);
    if (s->bad[s->nbad].name == NULL)
        return;
    s->bad[s->nbad++].gen = s->gen;
    log_warn("bad pipeline: not a valid id, never built", "name=%s",
             log_quote(quoted, sizeof(quoted), name));
}

static void sched_forget_bad_names(struct sched *s)
{
    for (int i = 0; i < s->nbad;) {
        if (s->bad[i].gen == s->gen) {
            i++;
            continue;
        }
        free(s->bad[i].name);
        s->bad[i] = s->bad[--s->nbad];
    }
}

static void sched_want(struct sched *s, struct pipe *p, int64_t version)
{
    if (p->want != version)
        p->seq = ++s->seq;
    p->want = version;
}

static void sched_good(struct sched *s, struct pipe *p, int64_t version)
{
    if (p->err[0] != '\0' && p->err_done)
        log_info("pipeline.json is valid again", "pipeline=%s version=%lld",
                 p->id, (long long)version);
    p->err[0] = '\0';
    p->err_done = 0;
    sched_want(s, p, version);
}

static void sched_bad(struct sched *s, struct pipe *p,
                      const struct scan_result *r)
{
    int64_t now = timeutil_mono_ms();

    if (strcmp(p->err, r->err) != 0 || p->bad_version != r->bad_version) {
        snprintf(p->err, sizeof(p->err), "%s", r->err);
        p->bad_version = r->bad_version;
        p->err_since = now;
        p->err_done = 0;
    }
    if (!p->err_done &&
        (s->settle_due == 0 || p->err_since + SCHED_SETTLE_MS < s->settle_due))
        s->settle_due = p->err_since + SCHED_SETTLE_MS;
}

struct sched_scan {
    struct sched *s;
    int rootfd;
};

static void sched_entry(const char *name, void *arg)
{
    struct sched_scan *sc = arg;
    struct sched *s = sc->s;
    struct scan_result r;
    struct pipe *p;

    if (!ident_valid(name)) {
        /*
         * Every worker sees it; one report is enough.  Only directories
         * are reported: a README or a LICENSE at the top of a git-sync
         * checkout is no pipeline gone wrong.
         */
        if (s->cfg.worker_id == 0 && scan_is_dir(sc->rootfd, name))
            sched_bad_name(s, name);
        return;
    }
    if (ident_worker(name, s->cfg.workers) != s->cfg.worker_id)
        return;

    /* Watched before it is read, so no change can fall in between. */
    if (s->cfg.watch != NULL)
        pipewatch_pipeline(s->cfg.watch, name);
    scan_pipeline(sc->rootfd, name, &r);
    p = sched_find(s, name);
    if (p == NULL && (p = sched_insert(s, name)) == NULL)
        return;
    p->gen = s->gen;
    if (r.version > 0)
        sched_good(s, p, r.version);
    else
        sched_bad(s, p, &r);
}

static void sched_published(const char *id, int64_t version, void *arg)
{
    struct pipe *p = sched_find(arg, id);

    if (p != NULL && version > p->published)
        p->published = version;
}

/* Pipelines whose directory is gone: their builds are pointless now. */
static void sched_sweep(struct sched *s)
{
    for (int i = 0; i < s->n;) {
        struct pipe *p = &s->p[i];

        if (p->gen == s->gen) {
            i++;
            continue;
        }
        if (p->job != NULL)
            sched_cancel(p, "pipeline removed");
        log_info("pipeline removed", "pipeline=%s", p->id);
        sched_remove(s, p);
    }
}

/* A manifest's log from text of the builder's own, redacted. */
static int sched_set_log(struct manifest *m, const char *text)
{
    size_t len = strlen(text);
    char *r = compcache_redact(text, len, &len);
    int rc;

    if (r == NULL)
        return -1;
    rc = manifest_set_log(m, r, len);
    free(r);
    return rc;
}

/*
 * Every result is filed under a version (ready/<id>@<version>.json,
 * and the leader's status of that version).  A pipeline.json that
 * is still bad after settling is reported where it can be: as a
 * compile_error under the version it names, if it names one; without
 * a version there is nothing to file it under, and inventing one
 * would hide the real build of that number, so it is only logged.
 */
static void sched_report_bad(struct sched *s, struct pipe *p)
{
    char reason[300], log[400];
    struct manifest m;

    p->err_done = 1;
    log_warn("bad pipeline: invalid pipeline.json", "pipeline=%s reason=%s",
             p->id, log_quote(reason, sizeof(reason), p->err));
    /* Only a version newer than every good one is a new result. */
    if (p->bad_version <= p->published || p->bad_version <= p->want)
        return;

    if (p->job != NULL)
        sched_cancel(p, "pipeline.json became invalid");
    memset(&m, 0, sizeof(m));
    snprintf(m.pipeline_id, sizeof(m.pipeline_id), "%s", p->id);
    m.version = p->bad_version;
    m.state = STATE_COMPILE_ERROR;
    m.worker_id = s->cfg.worker_id;
    timeutil_now_rfc3339(m.started_at);
    memcpy(m.finished_at, m.started_at, sizeof(m.finished_at));
    snprintf(log, sizeof(log), SCHED_INVALID "%s\n", p->err);
    if (sched_set_log(&m, log) == 0 &&
        outdir_publish(s->cfg.out, &m, NULL) == 0) {
        p->published = p->bad_version;
        p->invalid_at = p->checked = p->bad_version;
        log_info("published", "pipeline=%s version=%lld state=compile_error",
                 p->id, (long long)m.version);
    } else {
        log_error("cannot publish result", "pipeline=%s error=\"%s\"", p->id,
                  strerror(errno));
        p->err_done = 0;
    }
    manifest_free(&m);
}

/* True for a manifest that only reports a bad pipeline.json. */
static int sched_is_invalid_report(const struct manifest *m)
{
    const char *nl = strchr(m->log, '\n');

    return m->state == STATE_COMPILE_ERROR &&
           strncmp(m->log, SCHED_INVALID, strlen(SCHED_INVALID)) == 0 &&
           nl != NULL && nl[1] == '\0';
}

/*
 * Versions are meant to grow: a pipeline.json that names one older than
 * what is published is not built.  That is said once per version, so
 * that whoever rewrote the file knows why nothing happens.
 */
static void sched_check_older(struct sched *s)
{
    for (int i = 0; i < s->n; i++) {
        struct pipe *p = &s->p[i];

        if (p->want == 0 || p->want >= p->published ||
            p->want == p->older_warned)
            continue;
        p->older_warned = p->want;
        log_warn("pipeline.json names an older version; not built",
                 "pipeline=%s version=%lld published=%lld", p->id,
                 (long long)p->want, (long long)p->published);
    }
}

/*
 * A version published as an invalid pipeline.json report is not built
 * yet: when the file is valid at that version, the build is due.  The
 * manifest is read once per published version, and only for pipelines
 * whose pipeline.json names exactly that version, so that a builder
 * started again after such a report builds the fixed file too.
 */
static void sched_check_invalid(struct sched *s)
{
    for (int i = 0; i < s->n; i++) {
        struct pipe *p = &s->p[i];
        struct manifest m;

        if (p->want == 0 || p->want != p->published ||
            p->checked == p->published)
            continue;
        if (outdir_read_result(s->cfg.out, p->id, p->published, &m) < 0) {
            /* Gone between listing and reading: look again next time. */
            if (errno != ENOENT)
                p->checked = p->published;
            continue;
        }
        p->checked = p->published;
        if (sched_is_invalid_report(&m))
            p->invalid_at = p->published;
        manifest_free(&m);
    }
}

static void sched_settle(struct sched *s)
{
    int64_t now = timeutil_mono_ms();

    s->settle_due = 0;
    for (int i = 0; i < s->n; i++) {
        struct pipe *p = &s->p[i];

        if (p->err[0] == '\0' || p->err_done)
            continue;
        if (now >= p->err_since + SCHED_SETTLE_MS)
            sched_report_bad(s, p);
        else if (s->settle_due == 0 ||
                 p->err_since + SCHED_SETTLE_MS < s->settle_due)
            s->settle_due = p->err_since + SCHED_SETTLE_MS;
    }
}

static int sched_open_root(struct sched *s)
{
    int fd = open(s->cfg.pipelines, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char quoted[PATH_MAX + 8];

    if (fd < 0 && !s->root_warned) {
        log_warn("cannot open pipelines directory; waiting for it",
                 "path=%s error=\"%s\"",
                 log_quote(quoted, sizeof(quoted), s->cfg.pipelines),
                 strerror(errno));
        s->root_warned = 1;
    } else if (fd >= 0) {
        s->root_warned = 0;
    }
    return fd;
}

static void sched_kick(struct sched *s);

void sched_rescan(struct sched *s)
{
    struct sched_scan sc = {.s = s};
    char quoted[PATH_MAX + 8];

    s->gen++;
    if (s->cfg.watch != NULL)
        pipewatch_begin(s->cfg.watch);
    sc.rootfd = sched_open_root(s);
    /* A root that cannot be read is more likely a hiccup than a fleet
     * with no pipelines: keep what is known until it reads again. */
    if (sc.rootfd < 0)
        return;
    if (scan_names(sc.rootfd, sched_entry, &sc) < 0) {
        log_warn("cannot read pipelines directory", "path=%s error=\"%s\"",
                 log_quote(quoted, sizeof(quoted), s->cfg.pipelines),
                 strerror(errno));
        close(sc.rootfd);
        return;
    }
    close(sc.rootfd);
    if (s->cfg.watch != NULL)
        pipewatch_end(s->cfg.watch);
    sched_sweep(s);
    sched_forget_bad_names(s);
    outdir_published(s->cfg.out, sched_published, s);
    sched_check_invalid(s);
    sched_check_older(s);
    sched_settle(s);
    sched_kick(s);
}

static struct job *sched_free_slot(struct sched *s)
{
    for (long i = 0; i < s->cfg.jobs; i++) {
        if (s->jobs[i].pid == 0)
            return &s->jobs[i];
    }
    return NULL;
}

static struct pipe *sched_next_due(struct sched *s)
{
    struct pipe *best = NULL;

    for (int i = 0; i < s->n; i++) {
        struct pipe *p = &s->p[i];

        if (p->job != NULL || !sched_wants_build(p))
            continue;
        if (best == NULL || p->seq < best->seq)
            best = p;
    }
    return best;
}

static int sched_start(struct sched *s, struct pipe *p, struct job *j)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", p->id);
    j->version = p->want;
    timeutil_now_rfc3339(j->started_at);
    /* Marked first, so that no output of the build precedes its marker. */
    if (outdir_mark_building(s->cfg.out, j->id, j->version, s->cfg.worker_id,
                             j->started_at) < 0)
        log_warn("cannot write building marker",
                 "pipeline=%s version=%lld error=\"%s\"", j->id,
                 (long long)j->version, strerror(errno));
    if (job_start(j, &s->cfg.env) < 0) {
        log_error("cannot start build", "pipeline=%s version=%lld error=\"%s\"",
                  p->id, (long long)p->want, strerror(errno));
        outdir_unmark_building(s->cfg.out, j->id, j->version);
        memset(j, 0, sizeof(*j));
        return -1;
    }
    p->job = j;
    log_info("build started", "pipeline=%s version=%lld pid=%ld", j->id,
             (long long)j->version, (long)j->pid);
    return 0;
}

/* Cancels overtaken builds, then fills free slots, oldest due first. */
static void sched_kick(struct sched *s)
{
    struct pipe *p;
    struct job *j;

    for (int i = 0; i < s->n; i++) {
        p = &s->p[i];
        if (p->job != NULL && p->job->version != p->want)
            sched_cancel(p, p->want > p->job->version
                                ? "a newer version arrived"
                                : "pipeline.json names an older version");
    }
    if (s->stopping || timeutil_mono_ms() < s->hold_until)
        return;
    while ((j = sched_free_slot(s)) != NULL &&
           (p = sched_next_due(s)) != NULL) {
        if (sched_start(s, p, j) < 0) {
            s->hold_until = timeutil_mono_ms() + SCHED_HOLD_MS;
            return;
        }
    }
}

/*
 * A build may print what it was given (AWS_SECRET_ACCESS_KEY reaches
 * every build, with a compiler cache or without), and a cache may quote
 * its store's URL: no credential leaves in a result.  'cut' says the
 * text starts where older output was dropped, maybe inside a secret.
 */
static int sched_redact(char **text, size_t *len, int cut)
{
    size_t rlen;
    char *r = cut ? compcache_redact_tail(*text, *len, &rlen)
                  : compcache_redact(*text, *len, &rlen);

    if (r == NULL)
        return -1;
    free(*text);
    *text = r;
    *len = rlen;
    return 0;
}

/* The tail of the output, then lines of the builder's own if any. */
static int sched_result_log(struct manifest *m, const struct job *j,
                            const char *note)
{
    char *text, *all;
    size_t len, nlen = note ? strlen(note) : 0;
    int rc, cut;

    if (job_log_tail(j, MANIFEST_LOG_MAX - SCHED_NOTE_MAX, &text, &len, &cut) <
        0)
        return -1;
    all = realloc(text, len + nlen + 2);
    if (all == NULL) {
        free(text);
        return -1;
    }
    if (nlen > 0) {
        if (len > 0 && all[len - 1] != '\n')
            all[len++] = '\n';
        memcpy(all + len, note, nlen);
        len += nlen;
    }
    if (sched_redact(&all, &len, cut) < 0) {
        free(all);
        return -1;
    }
    rc = manifest_set_log(m, all, len);
    free(all);
    return rc;
}

/* What a file that is not a regular one is, for a message. */
static const char *sched_file_kind(mode_t mode)
{
    if (S_ISLNK(mode))
        return "a symlink, not a file";
    if (S_ISDIR(mode))
        return "a directory, not a file";
    if (S_ISFIFO(mode))
        return "a FIFO, not a file";
    if (S_ISSOCK(mode))
        return "a socket, not a file";
    return "a device, not a file";
}

/* Decides success or compile_error; 'note' explains a failure. */
static enum state sched_outcome(const struct job *j, int status, char *note,
                                size_t size, long timeout_s)
{
    struct stat st;

    note[0] = '\0';
    if (j->end == JOB_TIMED_OUT) {
        snprintf(note, size, "build timed out after %ld s\n", timeout_s);
        return STATE_COMPILE_ERROR;
    }
    if (WIFSIGNALED(status)) {
        snprintf(note, size, "build killed by signal %d\n", WTERMSIG(status));
        return STATE_COMPILE_ERROR;
    }
    if (WEXITSTATUS(status) != 0)
        return STATE_COMPILE_ERROR;
    if (lstat(j->artifact, &st) < 0) {
        snprintf(note, size,
                 "build exited 0 but left no file at PIPELINE_OUT\n");
        return STATE_COMPILE_ERROR;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(note, size, "build exited 0 but PIPELINE_OUT is %s\n",
                 sched_file_kind(st.st_mode));
        return STATE_COMPILE_ERROR;
    }
    return STATE_SUCCESS;
}

/*
 * A build that fails on a full volume often cannot even log why: its
 * log lives on that volume too.  Say it for it.
 */
static void sched_disk_note(const struct sched *s, char *note, size_t size)
{
    struct statvfs vfs;
    uint64_t avail;

    if (note[0] != '\0' || fstatvfs(s->cfg.out->fd, &vfs) < 0)
        return;
    avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (avail < SCHED_LOW_SPACE)
        snprintf(note, size,
                 "binrelay: no space left on the volume: %llu bytes free",
                 (unsigned long long)avail);
}

/* Puts what became of the compiler cache before the other notes. */
static void sched_cache_note(const struct job *j, char *note, size_t size)
{
    char rest[SCHED_NOTE_MAX];

    if (j->cache_failure[0] == '\0')
        return;
    snprintf(rest, sizeof(rest), "%s", note);
    if (j->nocache)
        snprintf(
            note, size,
            "binrelay: the compiler cache failed, so this was built again without it: %s\n%s",
            j->cache_failure, rest);
    else
        snprintf(
            note, size,
            "binrelay: the compiler cache is degraded (its shared store failed; the local cache was used): %s\n%s",
            j->cache_failure, rest);
}

static int sched_publish(struct sched *s, const struct job *j, int status)
{
    char note[SCHED_NOTE_MAX];
    struct manifest m;
    int rc = -1;

    memset(&m, 0, sizeof(m));
    snprintf(m.pipeline_id, sizeof(m.pipeline_id), "%s", j->id);
    m.version = j->version;
    m.worker_id = s->cfg.worker_id;
    m.state =
        sched_outcome(j, status, note, sizeof(note), s->cfg.env.timeout_s);
    if (m.state != STATE_SUCCESS)
        sched_disk_note(s, note, sizeof(note));
    memcpy(m.started_at, j->started_at, sizeof(m.started_at));
    timeutil_now_rfc3339(m.finished_at);
    sched_cache_note(j, note, sizeof(note));
    if (sched_result_log(&m, j, note[0] ? note : NULL) < 0)
        goto out_free;
    /*
     * A failed build may have filled the volume with half an output;
     * give the space back before the manifest needs some of it.
     */
    if (m.state != STATE_SUCCESS && j->artifact[0] != '\0')
        unlink(j->artifact);
    if (outdir_publish(s->cfg.out, &m, j->artifact) < 0)
        goto out_free;
    log_info("published", "pipeline=%s version=%lld state=%s ms=%lld", j->id,
             (long long)j->version, state_name(m.state),
             (long long)(timeutil_mono_ms() - j->started_ms));
    rc = 0;

out_free:
    manifest_free(&m);
    return rc;
}

/* Gives up on a build that could not be started again. */
static void sched_drop(struct sched *s, struct job *j)
{
    struct pipe *p = sched_find(s, j->id);

    if (p != NULL && p->job == j)
        p->job = NULL;
    outdir_unmark_building(s->cfg.out, j->id, j->version);
    memset(j, 0, sizeof(*j));
    s->hold_until = timeutil_mono_ms() + SCHED_HOLD_MS;
}

/* How the compiler cache fared in a build, from its log and files. */
static enum compcache_verdict sched_cache_verdict(const struct sched *s,
                                                  const struct job *j,
                                                  char *reason, size_t size)
{
    enum compcache_verdict v;
    size_t len;
    char *log;

    if (job_log_tail(j, MANIFEST_LOG_MAX, &log, &len, NULL) < 0)
        return COMPCACHE_FINE;
    v = compcache_judge(s->cfg.cache, j->dir, log, reason, size);
    free(log);
    return v;
}

/*
 * A build that failed because the compiler cache did (a bucket out of
 * reach, a server that would not start) says nothing about the code:
 * it gets one more try without the cache, in the same slot.  Returns 0
 * when the build is taken care of, -1 when its result stands.
 */
static int sched_retry_plain(struct sched *s, struct job *j)
{
    char quoted[COMPCACHE_REASON_MAX + 16];
    int64_t started_ms = j->started_ms;

    log_warn("compiler cache failed; building again without it",
             "pipeline=%s version=%lld reason=%s", j->id, (long long)j->version,
             log_quote(quoted, sizeof(quoted), j->cache_failure));
    job_release(j);
    j->nocache = 1;
    if (job_start(j, &s->cfg.env) < 0) {
        log_error("cannot start build", "pipeline=%s version=%lld error=\"%s\"",
                  j->id, (long long)j->version, strerror(errno));
        sched_drop(s, j);
        return 0;
    }
    /* One build, as far as the manifest is concerned. */
    j->started_ms = started_ms;
    return 0;
}

/*
 * Keeps the heartbeat's word on the cache up to date after a build
 * through it, and retries without it a build the cache failed.
 * Returns 0 when the build was started again, -1 when it stands.
 */
static int sched_check_cache(struct sched *s, struct job *j, int status)
{
    char reason[COMPCACHE_REASON_MAX], note[SCHED_NOTE_MAX], quoted[400];
    enum compcache_verdict v;
    int ok;

    if (s->cfg.cache == COMPCACHE_NONE || j->nocache || j->end != JOB_RUNNING)
        return -1;
    ok = sched_outcome(j, status, note, sizeof(note), s->cfg.env.timeout_s) ==
         STATE_SUCCESS;
    v = sched_cache_verdict(s, j, reason, sizeof(reason));
    if (v == COMPCACHE_FINE) {
        /* A compile error says nothing about the cache. */
        if (ok)
            compcache_note(NULL);
        return -1;
    }
    compcache_note(reason);
    snprintf(j->cache_failure, sizeof(j->cache_failure), "%s", reason);
    if (v == COMPCACHE_BROKEN && !ok)
        return sched_retry_plain(s, j);
    log_warn("compiler cache degraded", "pipeline=%s version=%lld reason=%s",
             j->id, (long long)j->version,
             log_quote(quoted, sizeof(quoted), reason));
    return -1;
}

static void sched_finish(struct sched *s, struct job *j, int status)
{
    struct pipe *p;

    job_collect(j);
    if (sched_check_cache(s, j, status) == 0)
        return;
    p = sched_find(s, j->id);

    if (p != NULL && p->job == j)
        p->job = NULL;
    if (j->end == JOB_CANCELLED) {
        log_debug("cancelled build reaped", "pipeline=%s version=%lld", j->id,
                  (long long)j->version);
    } else if (sched_publish(s, j, status) == 0) {
        if (p != NULL && j->version > p->published)
            p->published = j->version;
        if (p != NULL && j->version == p->published)
            p->checked = j->version;
        if (p != NULL && j->version == p->invalid_at)
            p->invalid_at = 0;
    } else {
        log_error("cannot publish result",
                  "pipeline=%s version=%lld error=\"%s\"", j->id,
                  (long long)j->version, strerror(errno));
        s->hold_until = timeutil_mono_ms() + SCHED_HOLD_MS;
    }
    outdir_unmark_building(s->cfg.out, j->id, j->version);
    job_release(j);
    memset(j, 0, sizeof(*j));
}

void sched_reaped(struct sched *s, pid_t pid, int status)
{
    struct job *j = sched_job_by_pid(s, pid);

    if (j == NULL)
        return;
    sched_finish(s, j, status);
    sched_kick(s);
}

int sched_pollfds(const struct sched *s, struct pollfd *fds)
{
    for (long i = 0; i < s->cfg.jobs; i++) {
        const struct job *j = &s->jobs[i];

        fds[i].fd = j->pid != 0 ? j->outfd : -1;
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    return (int)s->cfg.jobs;
}

void sched_output(struct sched *s, const struct pollfd *fds)
{
    for (long i = 0; i < s->cfg.jobs; i++) {
        if (fds[i].fd >= 0 && fds[i].fd == s->jobs[i].outfd &&
            (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            job_read_output(&s->jobs[i]);
    }
}

void sched_tick(struct sched *s)
{
    int64_t now = timeutil_mono_ms();

    for (long i = 0; i < s->cfg.jobs; i++) {
        struct job *j = &s->jobs[i];

        if (j->pid == 0 || j->end != JOB_RUNNING || now < j->deadline_ms)
            continue;
        log_warn("build timed out", "pipeline=%s version=%lld timeout_s=%ld",
                 j->id, (long long)j->version, s->cfg.env.timeout_s);
        job_signal(j, SIGKILL);
        j->end = JOB_TIMED_OUT;
    }
    if (s->stopping && s->kill_at != 0 && now >= s->kill_at) {
        for (long i = 0; i < s->cfg.jobs; i++)
            job_signal(&s->jobs[i], SIGKILL);
        s->kill_at = 0;
    }
    sched_kick(s);
}

static int64_t sched_min_due(int64_t a, int64_t b)
{
    if (a <= 0)
        return b;
    if (b <= 0)
        return a;
    return a < b ? a : b;
}

int64_t sched_next_ms(const struct sched *s)
{
    int64_t due = 0, now = timeutil_mono_ms();

    for (long i = 0; i < s->cfg.jobs; i++) {
        if (s->jobs[i].pid != 0 && s->jobs[i].end == JOB_RUNNING)
            due = sched_min_due(due, s->jobs[i].deadline_ms);
    }
    due = sched_min_due(due, s->settle_due);
    if (s->stopping)
        due = sched_min_due(due, s->kill_at);
    else if (s->hold_until > now)
        due = sched_min_due(due, s->hold_until);
    if (due <= 0)
        return -1;
    return due > now ? due - now : 0;
}

int sched_rescan_due(const struct sched *s)
{
    return s->settle_due != 0 && timeutil_mono_ms() >= s->settle_due;
}

void sched_stop(struct sched *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    s->kill_at = timeutil_mono_ms() + s->cfg.stop_grace_s * 1000;
    for (int i = 0; i < s->n; i++)
        s->p[i].job = NULL;
    for (long i = 0; i < s->cfg.jobs; i++) {
        struct job *j = &s->jobs[i];

        if (j->pid == 0)
            continue;
        log_info("stopping build", "pipeline=%s version=%lld", j->id,
                 (long long)j->version);
        job_signal(j, SIGTERM);
        j->end = JOB_CANCELLED;
    }
}

void sched_abort(struct sched *s)
{
    int status;
    pid_t pid;

    sched_stop(s);
    for (long i = 0; i < s->cfg.jobs; i++)
        job_signal(&s->jobs[i], SIGKILL);
    while (sched_running(s) > 0) {
        pid = job_reap(&status);
        if (pid < 0)
            break;
        if (pid == 0) {
            usleep(10000);
            continue;
        }
        sched_reaped(s, pid, status);
    }
}

int sched_running(const struct sched *s)
{
    int n = 0;

    for (long i = 0; i < s->cfg.jobs; i++)
        n += s->jobs[i].pid != 0;
    return n;
}

void sched_counts(const struct sched *s, int *building, int *queued)
{
    *building = 0;
    *queued = 0;
    for (long i = 0; i < s->cfg.jobs; i++)
        *building += s->jobs[i].pid != 0 && s->jobs[i].end != JOB_CANCELLED;
    for (int i = 0; i < s->n; i++)
        *queued += s->p[i].job == NULL && sched_wants_build(&s->p[i]);
}
