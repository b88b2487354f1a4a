/* job.c - starting, stopping and reaping builds, and keeping their output. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsio.h"
#include "job.h"
#include "log.h"

extern char **environ;

#define JOB_ENV_MAX     256
#define JOB_BOOT_ID_LEN 40

/* Variables a build may inherit: toolchains and compiler caches. */
static const char *const job_env_names[] = {
    "PATH",     "LANG",      "LC_ALL",     "TZ",          "RUSTC_WRAPPER",
    "CC",       "CXX",       "CFLAGS",     "CXXFLAGS",    "LDFLAGS",
    "CPPFLAGS", "MAKEFLAGS", "CARGO_HOME", "RUSTUP_HOME",
};

/* The compiler caches' own settings. */
static const char *const job_env_prefixes[] = {
    "SCCACHE_",
    "CCACHE_",
};

/*
 * Of AWS's variables, only those that sccache's S3 backend reads for
 * its credentials: keys, session token, profile and its files, region,
 * and the role of EKS's IRSA.
 */
static const char *const job_env_aws[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
};

/* Whether 'var' ("NAME=...") is named, as a whole, in 'names'. */
static int job_env_named(const char *var, size_t len, const char *const *names,
                         size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strlen(names[i]) == len && strncmp(var, names[i], len) == 0)
            return 1;
    }
    return 0;
}

static int job_env_allowed(const char *var)
{
    const char *eq = strchr(var, '=');
    size_t len = eq ? (size_t)(eq - var) : strlen(var);

    if (job_env_named(var, len, job_env_names,
                      sizeof(job_env_names) / sizeof(*job_env_names)) ||
        job_env_named(var, len, job_env_aws,
                      sizeof(job_env_aws) / sizeof(*job_env_aws)))
        return 1;
    for (size_t i = 0; i < sizeof(job_env_prefixes) / sizeof(*job_env_prefixes);
         i++) {
        if (strncmp(var, job_env_prefixes[i], strlen(job_env_prefixes[i])) == 0)
            return 1;
    }
    return 0;
}

/* Space for the variables a job sets itself, kept with the array. */
struct job_envp {
    char *vars[JOB_ENV_MAX + 16];
    char own[6 + JOB_FILES_MAX][PATH_MAX + 32];
    int n;
};

static void job_env_set(struct job_envp *ev, int slot, const char *name,
                        const char *value)
{
    snprintf(ev->own[slot], sizeof(ev->own[slot]), "%s=%s", name, value);
    ev->vars[ev->n++] = ev->own[slot];
}

/*
 * The environment is an allow-list, not a deny-list: whatever else the
 * builder was given (BINRELAY_* with the upload token first of all)
 * must never reach code that a pipeline's author controls.
 */
/* True when 'var' is named in 'over' ("NAME=..." entries). */
static int job_env_overridden(const char *var, const char *const *over)
{
    size_t len = strcspn(var, "=");

    for (; over != NULL && *over != NULL; over++) {
        if (strncmp(*over, var, len) == 0 && (*over)[len] == '=')
            return 1;
    }
    return 0;
}

static void job_env_base(struct job_envp *ev, const char *home,
                         const char *const *over, const char *const *files)
{
    int has_path = 0;

    ev->n = 0;
    for (char **v = environ; *v != NULL && ev->n < JOB_ENV_MAX; v++) {
        if (!job_env_allowed(*v) || job_env_overridden(*v, over) ||
            job_env_overridden(*v, files))
            continue;
        has_path |= strncmp(*v, "PATH=", 5) == 0;
        ev->vars[ev->n++] = *v;
    }
    if (!has_path)
        ev->vars[ev->n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    for (; over != NULL && *over != NULL && ev->n < JOB_ENV_MAX; over++) {
        if ((*over)[strcspn(*over, "=") + 1] != '\0')
            ev->vars[ev->n++] = (char *)*over;
    }
    job_env_set(ev, 0, "HOME", home);
    job_env_set(ev, 1, "TMPDIR", home);
    ev->vars[ev->n] = NULL;
}

/* Each "NAME=file" of 'files' as NAME=<dir>/file. */
static void job_env_files(struct job_envp *ev, const char *dir,
                          const char *const *files)
{
    char path[PATH_MAX + 8];

    for (int i = 0; files != NULL && files[i] != NULL && i < JOB_FILES_MAX;
         i++) {
        size_t len = strcspn(files[i], "=");
        char name[64];

        snprintf(name, sizeof(name), "%.*s", (int)len, files[i]);
        snprintf(path, sizeof(path), "%s/%s", dir, files[i] + len + 1);
        job_env_set(ev, 6 + i, name, path);
    }
    ev->vars[ev->n] = NULL;
}

static void job_env_build(struct job_envp *ev, const struct job *j,
                          const struct job_env *e)
{
    char version[24];
    char src[PATH_MAX], work[PATH_MAX];
    const char *const *files = j->nocache ? NULL : e->files;

    snprintf(work, sizeof(work), "%s/" JOB_WORK_DIR, j->dir);
    job_env_base(ev, work, j->nocache ? e->nocache : NULL, files);
    job_env_files(ev, j->dir, files);
    snprintf(version, sizeof(version), "%lld", (long long)j->version);
    snprintf(src, sizeof(src), "%s/%s", e->pipelines, j->id);
    job_env_set(ev, 2, "PIPELINE_ID", j->id);
    job_env_set(ev, 3, "PIPELINE_VERSION", version);
    job_env_set(ev, 4, "PIPELINE_SRC", src);
    job_env_set(ev, 5, "PIPELINE_OUT", j->artifact);
    ev->vars[ev->n] = NULL;
}

static void job_boot_id(char *buf, size_t size)
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

    snprintf(buf, size, "unknown");
    if (f == NULL)
        return;
    if (fgets(buf, (int)size, f) != NULL)
        buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

/*
 * In the child: written before exec, so before any grandchild exists,
 * the record survives even a builder SIGKILLed a moment after fork.
 * It is one small write to a new file, with no fsync: what it is for
 * is a builder that died, not a machine, and after a reboot the boot
 * id no longer matches anyway.  A record torn short lacks the boot id
 * or names another, so the next builder ignores it.
 */
static void job_child_record_pgid(const char *dir)
{
    char line[JOB_BOOT_ID_LEN + 32], boot[JOB_BOOT_ID_LEN];
    char path[PATH_MAX];
    int fd;

    job_boot_id(boot, sizeof(boot));
    snprintf(line, sizeof(line), "%ld %s\n", (long)getpid(), boot);
    snprintf(path, sizeof(path), "%s/" JOB_PGID_FILE, dir);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || fsio_write_all(fd, line, strlen(line)) < 0)
        log_warn("cannot record build process group", "error=\"%s\"",
                 strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void job_child(const struct job *j, const struct job_env *e,
                      struct job_envp *ev, int outfd, pid_t parent)
{
    char *argv[] = {"sh", "-c", (char *)e->cmd, NULL};
    char work[PATH_MAX];
    sigset_t none;
    int devnull;

    setpgid(0, 0);
    /* The shell dies with the builder; the rest of its group is killed
     * by the next builder from the pgid record. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);

    snprintf(work, sizeof(work), "%s/" JOB_WORK_DIR, j->dir);
    if (chdir(work) < 0)
        _exit(127);
    job_child_record_pgid(j->dir);
    devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
        dup2(outfd, STDOUT_FILENO) < 0 || dup2(outfd, STDERR_FILENO) < 0)
        _exit(127);
    execve("/bin/sh", argv, ev->vars);
    dprintf(STDERR_FILENO, "cannot run /bin/sh: %s\n", strerror(errno));
    _exit(127);
}

/* OUT/tmp/.tmp-build-<id>@<v>-<pid>-<n>/ and its work/. */
static int job_make_dir(struct job *j, const struct job_env *e)
{
    static unsigned counter;
    char name[IDENT_NAME_MAX], work[PATH_MAX];

    ident_format_name(name, j->id, j->version);
    snprintf(j->dir, sizeof(j->dir), "%s/" FSIO_TMP_PREFIX "build-%s-%ld-%u",
             e->tmpdir, name, (long)getpid(), counter++);
    snprintf(j->artifact, sizeof(j->artifact), "%s/artifact", j->dir);
    snprintf(work, sizeof(work), "%s/" JOB_WORK_DIR, j->dir);
    if (mkdir(j->dir, 0755) < 0) {
        j->dir[0] = '\0';
        return -1;
    }
    return mkdir(work, 0755);
}

/*
 * The pipe the build prints into, and the ring that keeps its tail.
 * Only the read end is non-blocking: a build that prints faster than
 * the builder reads waits, as it would on a terminal.
 */
static int job_open_output(struct job *j, int *writefd)
{
    int fds[2];

    j->tail.buf = malloc(JOB_TAIL_MAX);
    if (j->tail.buf == NULL)
        return -1;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
        int saved = errno;

        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    j->outfd = fds[0];
    *writefd = fds[1];
    return 0;
}

int job_start(struct job *j, const struct job_env *e)
{
    static struct job_envp ev;
    pid_t parent = getpid();
    int writefd, saved;

    j->outfd = -1;
    memset(&j->tail, 0, sizeof(j->tail));
    if (job_make_dir(j, e) < 0 || job_open_output(j, &writefd) < 0)
        goto out_release;
    job_env_build(&ev, j, e);

    j->pid = fork();
    if (j->pid == 0)
        job_child(j, e, &ev, writefd, parent);
    saved = errno;
    /* Closed here, so that the end of output is the build's own. */
    close(writefd);
    if (j->pid < 0) {
        errno = saved;
        goto out_release;
    }

    /* Also here, so that a signal sent before the child ran reaches it. */
    setpgid(j->pid, j->pid);
    j->end = JOB_RUNNING;
    j->started_ms = timeutil_mono_ms();
    j->deadline_ms = j->started_ms + e->timeout_s * 1000;
    return 0;

out_release:
    saved = errno;
    j->pid = 0;
    job_release(j);
    errno = saved;
    return -1;
}

void job_signal(const struct job *j, int sig)
{
    if (j->pid > 0)
        kill(-j->pid, sig);
}

pid_t job_reap(int *status)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return -1;
    if (si.si_pid == 0)
        return 0;

    /* The zombie still holds its pid, so the group id is still ours. */
    kill(-si.si_pid, SIGKILL);
    if (waitpid(si.si_pid, status, 0) < 0)
        return -1;
    return si.si_pid;
}

/* Keeps the last JOB_TAIL_MAX bytes of all that was appended. */
static void job_tail_append(struct job_tail *t, const char *data, size_t n)
{
    t->total += n;
    if (n >= JOB_TAIL_MAX) {
        memcpy(t->buf, data + n - JOB_TAIL_MAX, JOB_TAIL_MAX);
        t->head = 0;
        t->len = JOB_TAIL_MAX;
        return;
    }
    while (n > 0) {
        size_t room = JOB_TAIL_MAX - t->head;
        size_t k = n < room ? n : room;

        memcpy(t->buf + t->head, data, k);
        t->head = (t->head + k) % JOB_TAIL_MAX;
        t->len = t->len + k > JOB_TAIL_MAX ? JOB_TAIL_MAX : t->len + k;
        data += k;
        n -= k;
    }
}

/* Reads at most 'rounds' times; returns -1 at the end of the output. */
static int job_read_rounds(struct job *j, int rounds)
{
    static char chunk[64 * 1024];

    while (rounds-- > 0) {
        ssize_t n = read(j->outfd, chunk, sizeof(chunk));

        if (n > 0) {
            job_tail_append(&j->tail, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        return -1;
    }
    return 0;
}

static void job_close_output(struct job *j)
{
    if (j->outfd >= 0)
        close(j->outfd);
    j->outfd = -1;
}

void job_read_output(struct job *j)
{
    /* 16 reads of 64 KiB: a chatty build cannot hold up the loop. */
    if (j->outfd >= 0 && job_read_rounds(j, 16) < 0)
        job_close_output(j);
}

void job_collect(struct job *j)
{
    /*
     * The group is dead, so what it printed is all in the pipe, at
     * most the pipe's capacity; a writer outside the group gets that
     * much more and no wait.
     */
    if (j->outfd >= 0)
        job_read_rounds(j, 64);
    job_close_output(j);
}

int job_log_tail(const struct job *j, size_t max, char **buf, size_t *len,
                 int *cut)
{
    const struct job_tail *t = &j->tail;
    size_t n = t->len < max ? t->len : max;
    size_t from = (t->head + JOB_TAIL_MAX - n) % JOB_TAIL_MAX, skip = 0;
    size_t first = JOB_TAIL_MAX - from < n ? JOB_TAIL_MAX - from : n;

    *buf = malloc(n + 1);
    if (*buf == NULL)
        return -1;
    if (n > 0) {
        memcpy(*buf, t->buf + from, first);
        memcpy(*buf + first, t->buf, n - first);
    }
    /* Cut before a character, not inside one. */
    while (n < t->total && skip < 3 && skip < n &&
           ((unsigned char)(*buf)[skip] & 0xc0) == 0x80)
        skip++;
    memmove(*buf, *buf + skip, n - skip);
    *len = n - skip;
    (*buf)[*len] = '\0';
    if (cut != NULL)
        *cut = n < t->total;
    return 0;
}

void job_release(struct job *j)
{
    job_close_output(j);
    free(j->tail.buf);
    memset(&j->tail, 0, sizeof(j->tail));
    if (j->dir[0] != '\0' && fsio_remove_tree(AT_FDCWD, j->dir) < 0) {
        char quoted[PATH_MAX + 8];

        log_warn("cannot remove build directory", "path=%s error=\"%s\"",
                 log_quote(quoted, sizeof(quoted), j->dir), strerror(errno));
    }
    j->dir[0] = '\0';
}

/* The group recorded in 'name'/pgid, if it was recorded since boot. */
static pid_t job_recorded_pgid(int tmpfd, const char *name)
{
    char path[PATH_MAX], boot[JOB_BOOT_ID_LEN], rec[JOB_BOOT_ID_LEN];
    char *text;
    size_t len;
    long pgid;

    snprintf(path, sizeof(path), "%s/" JOB_PGID_FILE, name);
    if (fsio_read_small(tmpfd, path, 256, &text, &len) < 0)
        return 0;
    rec[0] = '\0';
    if (sscanf(text, "%ld %39s", &pgid, rec) != 2)
        pgid = 0;
    free(text);

    /* After a reboot the number may belong to anyone. */
    job_boot_id(boot, sizeof(boot));
    if (strcmp(boot, rec) != 0 || pgid <= 1)
        return 0;
    return (pid_t)pgid;
}

int job_kill_leftovers(int tmpfd)
{
    struct dirent *de;
    DIR *dir;
    int fd = dup(tmpfd), killed = 0;

    if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    while ((de = readdir(dir)) != NULL) {
        pid_t pgid;

        if (de->d_name[0] == '.' &&
            (de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0))
            continue;
        pgid = job_recorded_pgid(tmpfd, de->d_name);
        if (pgid > 0 && kill(-pgid, SIGKILL) == 0) {
            log_warn("killed build left by a previous builder", "pgid=%ld",
                     (long)pgid);
            killed++;
        }
    }
    closedir(dir);
    return killed;
}

/* In the helper's child: its own session, output to 'outfd'. */
static void job_helper_child(const char *dir, struct job_envp *ev, char **argv,
                             int outfd)
{
    int devnull = open("/dev/null", O_RDONLY);
    sigset_t none;

    /* Its own session: no build's group kill may reach it. */
    setsid();
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (chdir(dir) < 0 || devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
        dup2(outfd, STDOUT_FILENO) < 0 || dup2(outfd, STDERR_FILENO) < 0)
        _exit(127);
    execve("/bin/sh", argv, ev->vars);
    _exit(127);
}

/* Copies the start of the helper's output file to 'out'. */
static void job_helper_output(int fd, char *out, size_t size)
{
    ssize_t n = pread(fd, out, size - 1, 0);

    out[n > 0 ? n : 0] = '\0';
}

int job_run_helper(const char *cmd, const char *dir, const char *extra,
                   const char *outname, char *out, size_t size)
{
    static struct job_envp ev;
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    char path[PATH_MAX];
    int status = 0, fd, saved = 0;
    pid_t pid, got = -1;

    job_env_base(&ev, dir, NULL, NULL);
    if (extra != NULL)
        ev.vars[ev.n++] = (char *)extra;
    ev.vars[ev.n] = NULL;
    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/%s", dir, outname);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;

    pid = fork();
    if (pid == 0)
        job_helper_child(dir, &ev, argv, fd);
    while (pid > 0 && (got = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (got < 0)
        saved = errno;
    job_helper_output(fd, out, size);
    close(fd);
    unlink(path);
    if (got < 0) {
        errno = saved;
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
