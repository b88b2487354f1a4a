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

static const char *const compcache_tools[] = {
    [COMPCACHE_NONE] = "none",
    [COMPCACHE_SCCACHE] = "sccache",
    [COMPCACHE_CCACHE] = "ccache",
};

/* CC, CXX and RUSTC_WRAPPER before the wrapping, and a NULL. */
static char compcache_plain[3][PATH_MAX + 16];
static const char *compcache_plain_ptrs[4];
/* The last failure of the cache itself; "" while it works. */
static char compcache_reason[512];

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

/*
 * Left to the first build, the server would start inside that build's
 * process group and die with it; started here it serves every build.
 */
static void compcache_start_sccache(const char *cachedir)
{
    int rc = job_run_helper("sccache --start-server", cachedir,
                            "SCCACHE_IDLE_TIMEOUT=0");

    if (rc == 0)
        log_info("sccache server started", NULL);
    else
        log_warn("cannot start the sccache server; builds will try",
                 "status=%d", rc);
}

int compcache_setup(enum compcache_kind kind, const char *cachedir, char *err,
                    size_t errsize)
{
    const char *tool = compcache_tools[kind];
    const char *dirvar =
        kind == COMPCACHE_SCCACHE ? "SCCACHE_DIR" : "CCACHE_DIR";

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
    }
    log_info("compiler cache enabled", "tool=%s cc=\"%s\"", tool, getenv("CC"));
    return 0;
}

int compcache_failed(enum compcache_kind kind, const char *log, char *reason,
                     size_t size)
{
    char mark[32];
    const char *hit;

    if (kind == COMPCACHE_NONE)
        return 0;
    snprintf(mark, sizeof(mark), "%s: error", compcache_tools[kind]);
    hit = strstr(log, mark);
    if (hit == NULL)
        return 0;
    snprintf(reason, size, "%.*s", (int)strcspn(hit, "\n"), hit);
    return 1;
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
    if (kind == COMPCACHE_SCCACHE &&
        job_run_helper("sccache --stop-server >/dev/null", cachedir, NULL) != 0)
        log_warn("cannot stop the sccache server", NULL);
}
