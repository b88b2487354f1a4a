/* ship_publish.c - publishes many tiny results fast, as a builder would.
 *
 *   ship_publish OUT FIRST COUNT [VERSION]
 *
 * For each id from FIRST to FIRST + COUNT - 1: writes a small binary
 * ("binary <id>\n") under a dot name in OUT/tmp, renames it to
 * OUT/artifacts/<id>@<version>, then writes the manifest the same way
 * and renames it to OUT/ready/<id>@<version>.json.  No fsync: tests
 * want thousands a second, not durability.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int publish_file(int outfd, const char *tmp, const char *dst,
                        const char *text)
{
    int fd = openat(outfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);

    if (fd < 0)
        return -1;
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    if (close(fd) < 0)
        return -1;
    return renameat(outfd, tmp, outfd, dst);
}

static int publish_one(int outfd, long id, long version)
{
    char tmp[64], dst[128], text[512];

    snprintf(tmp, sizeof(tmp), "tmp/.bin-%ld", id);
    snprintf(dst, sizeof(dst), "artifacts/%ld@%ld", id, version);
    snprintf(text, sizeof(text), "binary %ld\n", id);
    if (publish_file(outfd, tmp, dst, text) < 0)
        return -1;
    snprintf(tmp, sizeof(tmp), "tmp/.man-%ld", id);
    snprintf(text, sizeof(text),
             "{\"pipeline_id\":\"%ld\",\"version\":%ld,"
             "\"state\":\"success\",\"artifact\":\"artifacts/%ld@%ld\","
             "\"log\":\"\",\"worker_id\":1}\n",
             id, version, id, version);
    snprintf(dst, sizeof(dst), "ready/%ld@%ld.json", id, version);
    return publish_file(outfd, tmp, dst, text);
}

int main(int argc, char **argv)
{
    long first, count, version;
    int outfd;

    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: ship_publish OUT FIRST COUNT [VERSION]\n");
        return 2;
    }
    first = atol(argv[2]);
    count = atol(argv[3]);
    version = argc == 5 ? atol(argv[4]) : 1;
    outfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (outfd < 0) {
        perror(argv[1]);
        return 1;
    }
    for (long i = first; i < first + count; i++) {
        if (publish_one(outfd, i, version) < 0) {
            perror("ship_publish");
            return 1;
        }
    }
    return 0;
}
