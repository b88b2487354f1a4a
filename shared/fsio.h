/* fsio.h - durable writes, atomic renames and bounded reads. */
#ifndef BINRELAY_FSIO_H
#define BINRELAY_FSIO_H

#include <stddef.h>
#include <sys/types.h>

/* Temporaries start with this, so every watcher knows to skip them. */
#define FSIO_TMP_PREFIX ".tmp-"

/* write(2) until all of 'buf' is written.  Returns 0, or -1 with errno. */
int fsio_write_all(int fd, const void *buf, size_t len);

/* fsync(2) the directory open as 'dirfd', or 'path' relative to 'at'
 * (AT_FDCWD for the working directory).  Returns 0 or -1 with errno. */
int fsio_fsync_dirfd(int dirfd);
int fsio_fsync_dirat(int at, const char *path);

/*
 * Creates 'path' and its missing parents with 'mode'.  Returns 0, or -1
 * with errno.  An existing directory is not an error.
 */
int fsio_mkdirs(const char *path, mode_t mode);

/*
 * Writes 'len' bytes of 'data' to 'name' in 'dirfd' durably: a temporary
 * in the same directory (O_EXCL), write all, fsync, close, rename over
 * 'name', fsync the directory.  Readers see the old file or the new one.
 * Returns 0, or -1 with errno; no temporary is left on failure.
 */
int fsio_write_atomic(int dirfd, const char *name, const void *data, size_t len,
                      mode_t mode);

/*
 * Creates an O_EXCL temporary in 'dirfd' named FSIO_TMP_PREFIX + a
 * unique suffix, and copies its name into 'name' ('size' bytes).  Returns
 * the descriptor (O_CLOEXEC, read-write), or -1 with errno.
 */
int fsio_tmpfile(int dirfd, char *name, size_t size, mode_t mode);

/*
 * Renames 'from' in 'fromfd' to 'to' in 'tofd', then fsyncs the target
 * directory (and the source one when it differs).  Returns 0, or -1
 * with errno from rename(2) or fsync(2); after a failed fsync the file
 * is already under its new name.
 */
int fsio_rename_durable(int fromfd, const char *from, int tofd, const char *to);

/*
 * Reads all of regular file 'name' in 'dirfd' into a NUL-terminated
 * malloc'd buffer that the caller frees.  Symlinks are not followed
 * (ELOOP), non-regular files are refused (EINVAL), and files larger than
 * 'max' bytes are refused (EFBIG).  Returns 0, or -1 with errno.
 */
int fsio_read_small(int dirfd, const char *name, size_t max, char **buf,
                    size_t *len);

/*
 * As fsio_read_small(), but a symlink is followed: for files that a
 * ConfigMap or git-sync checkout presents through links.
 */
int fsio_read_small_follow(int dirfd, const char *name, size_t max, char **buf,
                           size_t *len);

/*
 * Opens 'path' (relative, without "..") beneath 'dirfd', one component
 * at a time with O_NOFOLLOW, so that no symlink anywhere on the way is
 * followed: the file opened is inside the tree, whatever links a hostile
 * writer placed.  'flags' apply to the last component; it opens what
 * exists and creates nothing (no O_CREAT).  Returns the
 * descriptor, or -1 with errno (ELOOP or ENOTDIR for a link).
 */
int fsio_open_beneath(int dirfd, const char *path, int flags);

/*
 * Removes every entry of 'dirfd' whose name starts with 'prefix', and
 * directories among them recursively; "." and ".." never match.
 * Returns how many were removed.
 */
int fsio_remove_prefixed(int dirfd, const char *prefix);

/*
 * Removes 'name' in 'dirfd' and everything below it, following no
 * symlink.  Returns 0, or -1 with errno: that of the folder's own
 * removal (ENOTEMPTY) when something below it could not be removed;
 * what could be removed is gone either way.
 */
int fsio_remove_tree(int dirfd, const char *name);

#endif
