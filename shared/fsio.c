/* fsio.c - the durable-write recipe and friends, in one place. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsio.h"

int fsio_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fsio_fsync_dirfd(int dirfd)
{
    /* Some filesystems cannot fsync a directory; that is not a failure. */
    if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
        return -1;
    return 0;
}

int fsio_fsync_dirat(int at, const char *path)
{
    int fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc, saved;

    if (fd < 0)
        return -1;
    rc = fsio_fsync_dirfd(fd);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* 0 when 'path' is a directory (through links), else -1 with ENOTDIR. */
static int fsio_is_dir(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int fsio_mkdirs(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);

    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -1;
    return fsio_is_dir(buf);
}

int fsio_tmpfile(int dirfd, char *name, size_t size, mode_t mode)
{
    static atomic_uint counter;
    struct timespec ts;

    for (int tries = 0; tries < 100; tries++) {
        int fd;

        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(name, size, FSIO_TMP_PREFIX "%ld-%u-%lx", (long)getpid(),
                 atomic_fetch_add(&counter, 1), (unsigned long)ts.tv_nsec);
        fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

int fsio_rename_durable(int fromfd, const char *from, int tofd, const char *to)
{
    if (renameat(fromfd, from, tofd, to) < 0)
        return -1;
    if (fsio_fsync_dirfd(tofd) < 0)
        return -1;
    if (fromfd != tofd && fsio_fsync_dirfd(fromfd) < 0)
        return -1;
    return 0;
}

int fsio_write_atomic(int dirfd, const char *name, const void *data, size_t len,
                      mode_t mode)
{
    char tmp[64];
    int fd = fsio_tmpfile(dirfd, tmp, sizeof(tmp), mode);
    int saved;

    if (fd < 0)
        return -1;
    if (fsio_write_all(fd, data, len) < 0 || fsync(fd) < 0)
        goto out_close;
    if (close(fd) < 0) {
        fd = -1;
        goto out_unlink;
    }
    fd = -1;
    if (fsio_rename_durable(dirfd, tmp, dirfd, name) < 0)
        goto out_unlink;
    return 0;

out_close:
    saved = errno;
    close(fd);
    errno = saved;
out_unlink:
    saved = errno;
    unlinkat(dirfd, tmp, 0);
    errno = saved;
    return -1;
}

static int fsio_read_fd(int fd, size_t max, char **buf, size_t *len)
{
    struct stat st;
    char *p;
    size_t n = 0;

    if (fstat(fd, &st) < 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        return -1;
    }
    if ((size_t)st.st_size > max) {
        errno = EFBIG;
        return -1;
    }

    p = malloc((size_t)st.st_size + 1);
    if (p == NULL)
        return -1;
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, p + n, (size_t)st.st_size - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;

            free(p);
            errno = saved;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    p[n] = '\0';
    *buf = p;
    *len = n;
    return 0;
}

static int fsio_read_opened(int dirfd, const char *name, int flags, size_t max,
                            char **buf, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags);
    int rc, saved;

    if (fd < 0)
        return -1;
    rc = fsio_read_fd(fd, max, buf, len);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int fsio_read_small(int dirfd, const char *name, size_t max, char **buf,
                    size_t *len)
{
    return fsio_read_opened(dirfd, name, O_NOFOLLOW, max, buf, len);
}

int fsio_read_small_follow(int dirfd, const char *name, size_t max, char **buf,
                           size_t *len)
{
    return fsio_read_opened(dirfd, name, 0, max, buf, len);
}

int fsio_remove_tree(int dirfd, const char *name)
{
    struct dirent *de;
    DIR *dir;
    int fd;

    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;

    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return -1;
    }
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            fsio_remove_tree(fd, de->d_name);
    }
    closedir(dir);
    return unlinkat(dirfd, name, AT_REMOVEDIR);
}

int fsio_remove_prefixed(int dirfd, const char *prefix)
{
    size_t plen = strlen(prefix);
    struct dirent *de;
    DIR *dir;
    int fd = dup(dirfd);
    int removed = 0;

    if (fd < 0)
        return 0;
    dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return 0;
    }
    rewinddir(dir);
    while ((de = readdir(dir)) != NULL) {
        /* A prefix of "" or "." must never reach the folder or its parent. */
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strncmp(de->d_name, prefix, plen) != 0)
            continue;
        if (fsio_remove_tree(dirfd, de->d_name) == 0)
            removed++;
    }
    closedir(dir);
    return removed;
}

int fsio_open_beneath(int dirfd, const char *path, int flags)
{
    char comp[NAME_MAX + 1];
    int fd = dirfd;

    for (;;) {
        size_t n = strcspn(path, "/");
        int next, saved;

        if (n == 0 || n > NAME_MAX ||
            (n == 2 && path[0] == '.' && path[1] == '.')) {
            errno = EINVAL;
            goto out_close;
        }
        memcpy(comp, path, n);
        comp[n] = '\0';
        if (path[n] == '\0')
            next = openat(fd, comp, flags | O_NOFOLLOW | O_CLOEXEC);
        else
            next =
                openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        saved = errno;
        if (fd != dirfd)
            close(fd);
        errno = saved;
        if (next < 0 || path[n] == '\0')
            return next;
        fd = next;
        path += n + 1;
    }

out_close:
    if (fd != dirfd)
        close(fd);
    return -1;
}
