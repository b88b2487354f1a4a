/* scan.c - which pipelines exist, and at which version. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsio.h"
#include "ident.h"
#include "manifest.h"
#include "scan.h"

int scan_names(int rootfd, void (*fn)(const char *name, void *arg), void *arg)
{
    struct dirent *de;
    DIR *dir;
    int fd = dup(rootfd);

    if (fd < 0)
        return -1;
    dir = fdopendir(fd);
    if (dir == NULL) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    rewinddir(dir);
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] != '.')
            fn(de->d_name, arg);
    }
    closedir(dir);
    return 0;
}

bool scan_is_dir(int rootfd, const char *name)
{
    struct stat st;

    return fstatat(rootfd, name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/*
 * A version can still be read from JSON that has junk after its object.
 * Every result is filed under a version (the manifest is
 * ready/<id>@<version>.json), so such a pipeline gets a compile_error
 * under that one instead of silence.
 */
static int64_t scan_lenient_version(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *root, *v;
    int64_t version = 0;

    root = json_loadb(text, len, JSON_DISABLE_EOF_CHECK, &jerr);
    if (root == NULL)
        return 0;
    v = json_object_get(root, "version");
    if (json_is_object(root) && json_is_integer(v) && json_integer_value(v) > 0)
        version = json_integer_value(v);
    json_decref(root);
    return version;
}

void scan_pipeline(int rootfd, const char *name, struct scan_result *r)
{
    char *text;
    size_t len;
    int fd;

    memset(r, 0, sizeof(*r));
    r->valid_id = ident_valid(name);
    fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(r->err, sizeof(r->err), "not a directory: %s",
                 strerror(errno));
        return;
    }
    /* git-sync checkouts and hand-made trees may link it elsewhere. */
    if (fsio_read_small_follow(fd, "pipeline.json", PIPELINE_FILE_MAX, &text,
                               &len) < 0) {
        if (errno == EINVAL)
            snprintf(r->err, sizeof(r->err),
                     "pipeline.json is not a regular file");
        else
            snprintf(r->err, sizeof(r->err), "cannot read pipeline.json: %s",
                     strerror(errno));
        close(fd);
        return;
    }
    close(fd);

    if (manifest_parse_pipeline(text, len, &r->version, r->err,
                                sizeof(r->err)) < 0) {
        r->version = 0;
        r->bad_version = scan_lenient_version(text, len);
    }
    free(text);
}
