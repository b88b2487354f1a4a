/* compcache.c - wrapping the compilers of every build in a cache. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compcache.h"
#include "fsio.h"
#include "job.h"
#include "log.h"
#include "redact.h"

extern char **environ;

#define COMPCACHE_SECRETS_MAX 32
/* The sccache helper's output, in the cache directory for a moment. */
#define COMPCACHE_HELPER_OUT ".sccache-start.out"

static const char *const compcache_tools[] = {
    [COMPCACHE_NONE] = "none",
    [COMPCACHE_SCCACHE] = "sccache",
    [COMPCACHE_CCACHE] = "ccache",
};

/* ccache writes what it did, remote storage failures included, here. */
static const char *const compcache_ccache_files[] = {
    "CCACHE_LOGFILE=ccache.log",
    "CCACHE_STATSLOG=ccache.stats",
    NULL,
};

/* CC, CXX and RUSTC_WRAPPER before the wrapping, and a NULL. */
static char compcache_plain[3][PATH_MAX + 16];
static const char *compcache_plain_ptrs[4];
/* The last failure of the cache itself; "" while it works. */
static char compcache_reason[COMPCACHE_REASON_MAX];
/* Values that must never leave the builder; NULL-terminated. */
static char *compcache_secrets[COMPCACHE_SECRETS_MAX + 1];
static int compcache_nsecrets;

static void compcache_keep_plain(int slot, const char *var,
                                 const char *fallback)
{
    const char *cur = getenv(var);

    snprintf(compcache_plain[slot], sizeof(compcache_plain[slot]), "%s=%s", var,
             cur ? cur : fallback);
    compcache_plain_ptrs[slot] = compcache_plain[slot];
}

const char *const *compcache_plain_env(void)
{
    return compcache_plain_ptrs;
}

const char *const *compcache_build_files(enum compcache_kind kind)
{
    return kind == COMPCACHE_CCACHE ? compcache_ccache_files : NULL;
}

int compcache_parse(const char *name, enum compcache_kind *kind)
{
    for (size_t i = 0; i < sizeof(compcache_tools) / sizeof(*compcache_tools);
         i++) {
        if (strcmp(name, compcache_tools[i]) == 0) {
            *kind = (enum compcache_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *compcache_default(void)
{
    const char *bucket = getenv("SCCACHE_BUCKET");

    return bucket != NULL && bucket[0] != '\0' ? "sccache" : "none";
}

/* ---- secrets ------------------------------------------------------------ */

static void compcache_add_secret(const char *s, size_t n)
{
    char *copy;

    if (n < REDACT_MIN_SECRET || compcache_nsecrets == COMPCACHE_SECRETS_MAX)
        return;
    copy = strndup(s, n);
    if (copy != NULL)
        compcache_secrets[compcache_nsecrets++] = copy;
}

/*
 * The passwords and query strings of the URLs in 'value' (ccache takes
 * several, separated by spaces): a message that quotes one cut short,
 * without its "://", is still masked.
 */
static void compcache_url_secrets(const char *value)
{
    const char *p = value;

    while ((p = strstr(p, "://")) != NULL) {
        size_t n, q;
        const char *at, *colon;

        p += 3;
        n = strcspn(p, "/?#| \t");
        at = memrchr(p, '@', n);
        if (at != NULL) {
            colon = memchr(p, ':', (size_t)(at - p));
            p = colon ? colon + 1 : p;
            compcache_add_secret(p, (size_t)(at - p));
            p = at;
        }
        p += strcspn(p, "?| \t");
        if (*p == '?') {
            q = strcspn(p + 1, "| \t");
            compcache_add_secret(p + 1, q);
            p += 1 + q;
        }
    }
}

/* Whether a variable's name says its value is a credential. */
static int compcache_secret_name(const char *var, size_t len)
{
    static const char *const words[] = {"SECRET", "TOKEN", "PASSWORD", "PASSWD",
                                        "CONNECTION_STRING"};
    char name[128];

    if (len >= sizeof(name) ||
        (len > 5 && memcmp(var + len - 5, "_FILE", 5) == 0))
        return 0;
    memcpy(name, var, len);
    name[len] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
        if (strstr(name, words[i]) != NULL)
            return 1;
    }
    return 0;
}

/* What the cache's variables hold that must never be shown. */
static void compcache_find_secrets(void)
{
    static const char *const prefixes[] = {"SCCACHE_", "CCACHE_", "AWS_"};

    for (char **v = environ; *v != NULL; v++) {
        size_t len = strcspn(*v, "=");
        const char *value = *v + len + ((*v)[len] == '=');
        int ours = 0;

        for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
            ours |= strncmp(*v, prefixes[i], strlen(prefixes[i])) == 0;
        if (!ours)
            continue;
        if (compcache_secret_name(*v, len))
            compcache_add_secret(value, strlen(value));
        compcache_url_secrets(value);
    }
}

/* Copies 'line' to 'out', its URLs masked when it is the cache's. */
static void compcache_redact_line(FILE *out, const char *line, size_t n)
{
    size_t rlen;
    char *r;

    if (memmem(line, n, "ccache:", 7) == NULL) {
        fwrite(line, 1, n, out);
        return;
    }
    r = redact_urls(line, n, &rlen);
    if (r != NULL)
        fwrite(r, 1, rlen, out);
    free(r);
}

char *compcache_redact(const char *text, size_t len, size_t *outlen)
{
    char *masked, *buf = NULL;
    size_t mlen, blen = 0;
    FILE *out;

    masked = redact_secrets(text, len, (const char *const *)compcache_secrets,
                            &mlen);
    if (masked == NULL)
        return NULL;
    out = open_memstream(&buf, &blen);
    if (out == NULL) {
        free(masked);
        return NULL;
    }
    for (size_t i = 0; i < mlen;) {
        const char *nl = memchr(masked + i, '\n', mlen - i);
        size_t n = nl ? (size_t)(nl - (masked + i)) + 1 : mlen - i;

        compcache_redact_line(out, masked + i, n);
        i += n;
    }
    free(masked);
    if (fclose(out) != 0) {
        free(buf);
        return NULL;
    }
    *outlen = blen;
    return buf;
}

char *compcache_redact_tail(const char *text, size_t len, size_t *outlen)
{
    size_t skip =
        redact_cut_secret(text, len, (const char *const *)compcache_secrets);
    size_t mlen = strlen(REDACT_MASK), rlen;
    char *rest, *out;

    if (skip == 0)
        return compcache_redact(text, len, outlen);
    rest = compcache_redact(text + skip, len - skip, &rlen);
    if (rest == NULL)
        return NULL;
    out = malloc(mlen + rlen + 1);
    if (out != NULL) {
        memcpy(out, REDACT_MASK, mlen);
        memcpy(out + mlen, rest, rlen + 1);
        *outlen = mlen + rlen;
    }
    free(rest);
    return out;
}

/* Copies 'line', redacted, into 'reason'. */
static void compcache_reason_of(const char *line, size_t n, char *reason,
                                size_t size)
{
    size_t rlen;
    char *r = compcache_redact(line, n, &rlen);

    snprintf(reason, size, "%.*s", r ? (int)rlen : 0, r ? r : "");
    free(r);
}

/* ---- setting up --------------------------------------------------------- */

/* Looks 'tool' up on PATH, as the build's shell will. */
static int compcache_on_path(const char *tool)
{
    const char *path = getenv("PATH");
    char dir[PATH_MAX], file[PATH_MAX + 64];

    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");

        snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
        snprintf(file, sizeof(file), "%s/%s", n ? dir : ".", tool);
        if (access(file, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

/* CC=gcc becomes CC="sccache gcc"; an unset one wraps make's default. */
static void compcache_wrap(const char *var, const char *tool,
                           const char *fallback)
{
    const char *cur = getenv(var);
    char value[PATH_MAX];

    if (cur != NULL && strncmp(cur, tool, strlen(tool)) == 0)
        return;
    snprintf(value, sizeof(value), "%s %s", tool,
             cur && cur[0] ? cur : fallback);
    setenv(var, value, 1);
}

/* The cache's own directory, unless the operator chose one. */
static int compcache_dir(const char *var, const char *cachedir,
                         const char *tool, char *err, size_t errsize)
{
    char dir[PATH_MAX];

    if (getenv(var) != NULL)
        return 0;
    snprintf(dir, sizeof(dir), "%s/%s", cachedir, tool);
    if (fsio_mkdirs(dir, 0755) < 0) {
        snprintf(err, errsize, "cannot create '%s': %s", dir, strerror(errno));
        return -1;
    }
    setenv(var, dir, 1);
    return 0;
}

/* The line of 'out' that says why sccache failed, or its last line. */
static void compcache_start_reason(const char *out, int rc, char *reason,
                                   size_t size)
{
    const char *hit = strstr(out, "sccache: error");
    size_t n;

    if (hit == NULL) {
        snprintf(reason, size, "sccache --start-server exited with status %d",
                 rc);
        return;
    }
    n = strcspn(hit, "\n");
    compcache_reason_of(hit, n, reason, size);
}

/*
 * Left to the first build, the server would start inside that build's
 * process group and die with it; started here it serves every build.
 * The output is kept, not passed on: it may quote the store's URL.
 */
static void compcache_start_sccache(const char *cachedir)
{
    char out[2048], reason[COMPCACHE_REASON_MAX], quoted[COMPCACHE_REASON_MAX];
    int rc, tries = 0;

    /*
     * sccache 0.4 now and then (a few starts in a hundred, more under
     * load) loses its server's startup notice and gives up after 10 s
     * with no server running; a second start then succeeds.
     */
    do {
        rc = job_run_helper("sccache --start-server", cachedir,
                            "SCCACHE_IDLE_TIMEOUT=0", COMPCACHE_HELPER_OUT, out,
                            sizeof(out));
    } while (rc != 0 && ++tries < 2 &&
             strstr(out, "Timed out waiting for server startup") != NULL);
    if (rc == 0) {
        log_info("sccache server started", NULL);
        return;
    }
    compcache_start_reason(out, rc, reason, sizeof(reason));
    compcache_note(reason);
    /* Builds still try it, and fall back to building without it. */
    log_warn("cannot start the sccache server", "status=%d reason=%s", rc,
             log_quote(quoted, sizeof(quoted), reason));
}

/* Says where ccache shares its objects, without the credentials. */
static void compcache_log_remote(void)
{
    const char *remote = getenv("CCACHE_REMOTE_STORAGE");
    char quoted[PATH_MAX];
    size_t len;
    char *urls, *shown = NULL;

    if (remote == NULL || remote[0] == '\0')
        return;
    urls = redact_urls(remote, strlen(remote), &len);
    if (urls != NULL)
        shown = redact_secrets(urls, len,
                               (const char *const *)compcache_secrets, &len);
    if (shown != NULL)
        log_info("ccache remote storage", "url=%s",
                 log_quote(quoted, sizeof(quoted), shown));
    free(urls);
    free(shown);
}

int compcache_setup(enum compcache_kind kind, const char *cachedir,
                    const char *remote, char *err, size_t errsize)
{
    const char *tool = compcache_tools[kind];
    const char *dirvar =
        kind == COMPCACHE_SCCACHE ? "SCCACHE_DIR" : "CCACHE_DIR";
    char quoted[PATH_MAX + 8];

    if (remote != NULL)
        setenv("CCACHE_REMOTE_STORAGE", remote, 1);
    /* These variables reach every build, with a cache or without. */
    compcache_find_secrets();
    log_mask((const char *const *)compcache_secrets);
    if (kind == COMPCACHE_NONE)
        return 0;
    if (!compcache_on_path(tool)) {
        snprintf(err, errsize, "'%s' is not on PATH", tool);
        return -1;
    }
    if (fsio_mkdirs(cachedir, 0755) < 0) {
        snprintf(err, errsize, "cannot create '%s': %s", cachedir,
                 strerror(errno));
        return -1;
    }
    if (compcache_dir(dirvar, cachedir, tool, err, errsize) < 0)
        return -1;
    /* An unset CC or CXX is make's default, so "cc" is no change. */
    compcache_keep_plain(0, "CC", "cc");
    compcache_keep_plain(1, "CXX", "c++");
    compcache_keep_plain(2, "RUSTC_WRAPPER", "");
    compcache_wrap("CC", tool, "cc");
    compcache_wrap("CXX", tool, "c++");
    if (kind == COMPCACHE_SCCACHE) {
        setenv("RUSTC_WRAPPER", tool, 1);
        compcache_start_sccache(cachedir);
    } else {
        compcache_log_remote();
    }
    log_info("compiler cache enabled", "tool=%s cc=%s", tool,
             log_quote(quoted, sizeof(quoted), getenv("CC")));
    return 0;
}

/* ---- judging a build ---------------------------------------------------- */

/* Whether 'path' has a line equal to one of 'words' (NULL-terminated). */
static int compcache_file_has_line(const char *path, const char *const *words)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int found = 0;
    FILE *f = fopen(path, "re");

    if (f == NULL)
        return 0;
    while (!found && (n = getline(&line, &cap, f)) > 0) {
        line[strcspn(line, "\n")] = '\0';
        for (const char *const *w = words; *w != NULL; w++)
            found |= strcmp(line, *w) == 0;
    }
    free(line);
    fclose(f);
    return found;
}

/* A line of ccache's log that tells how its remote storage failed. */
static int compcache_remote_line(const char *msg)
{
    static const char *const where[] = {"://", "storage", "Redis", NULL};
    /* Not "timeout": ccache names its timeouts when it connects. */
    static const char *const what[] = {"ailed", "rror", "timed out", NULL};
    int w = 0, x = 0;

    if (strncmp(msg, "Config:", 7) == 0 || strstr(msg, "failed earlier") ||
        strncmp(msg, "Result:", 7) == 0)
        return 0;
    for (const char *const *p = where; *p != NULL; p++)
        w |= strstr(msg, *p) != NULL;
    for (const char *const *p = what; *p != NULL; p++)
        x |= strstr(msg, *p) != NULL;
    return w && x;
}

/* ccache's first words on the failure, without its time and pid. */
static void compcache_ccache_reason(const char *dir, char *reason, size_t size)
{
    char path[PATH_MAX], line_out[COMPCACHE_REASON_MAX];
    char *line = NULL;
    size_t cap = 0;
    FILE *f;

    snprintf(reason, size, "ccache: remote storage failed");
    snprintf(path, sizeof(path), "%s/ccache.log", dir);
    f = fopen(path, "re");
    if (f == NULL)
        return;
    while (getline(&line, &cap, f) > 0) {
        char *msg = line[0] == '[' ? strstr(line, "] ") : NULL;

        msg = msg ? msg + 2 : line;
        msg[strcspn(msg, "\n")] = '\0';
        if (!compcache_remote_line(msg))
            continue;
        snprintf(line_out, sizeof(line_out), "ccache: remote storage: %s", msg);
        compcache_reason_of(line_out, strlen(line_out), reason, size);
        break;
    }
    free(line);
    fclose(f);
}

/* Whether ccache counted a remote storage failure in this build. */
static int compcache_ccache_degraded(const char *dir)
{
    static const char *const counters[] = {"remote_storage_error",
                                           "remote_storage_timeout", NULL};
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/ccache.stats", dir);
    return compcache_file_has_line(path, counters);
}

enum compcache_verdict compcache_judge(enum compcache_kind kind,
                                       const char *dir, const char *log,
                                       char *reason, size_t size)
{
    char mark[32];
    const char *hit;

    if (kind == COMPCACHE_NONE)
        return COMPCACHE_FINE;
    snprintf(mark, sizeof(mark), "%s: error", compcache_tools[kind]);
    hit = strstr(log, mark);
    if (hit != NULL) {
        compcache_reason_of(hit, strcspn(hit, "\n"), reason, size);
        return COMPCACHE_BROKEN;
    }
    if (kind == COMPCACHE_CCACHE && compcache_ccache_degraded(dir)) {
        compcache_ccache_reason(dir, reason, size);
        return COMPCACHE_DEGRADED;
    }
    return COMPCACHE_FINE;
}

void compcache_note(const char *reason)
{
    snprintf(compcache_reason, sizeof(compcache_reason), "%s",
             reason ? reason : "");
}

char *compcache_status_json(enum compcache_kind kind)
{
    json_t *o;
    char *text;

    if (kind == COMPCACHE_NONE)
        return NULL;
    o = json_pack("{s:s, s:s}", "tool", compcache_tools[kind], "status",
                  compcache_reason[0] ? "degraded" : "ok");
    if (o != NULL && compcache_reason[0])
        json_object_set_new(o, "reason", json_string(compcache_reason));
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

void compcache_stop(enum compcache_kind kind, const char *cachedir)
{
    char out[512];

    if (kind == COMPCACHE_SCCACHE &&
        job_run_helper("sccache --stop-server", cachedir, NULL,
                       COMPCACHE_HELPER_OUT, out, sizeof(out)) != 0)
        log_warn("cannot stop the sccache server", NULL);
}
