/* test_hash.c - XXH3-128 as `xxhsum -H2` prints it, however it is fed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hash.h"

/* Bytes with no period a buffer size could line up with. */
static unsigned char *pattern(size_t len)
{
    unsigned char *p = malloc(len);
    uint32_t x = 2463534242u;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static void hex_of(const void *data, size_t len, char hex[HASH_HEX_LEN])
{
    struct hash_state *st = hash_new();

    assert_non_null(st);
    hash_update(st, data, len);
    hash_hex(st, hex);
    hash_free(st);
}

/* Digests printed by `xxhsum -H2` for the same bytes. */
static void test_hash_matches_xxhsum(void **state)
{
    struct hash_state *st = hash_new();
    char hex[HASH_HEX_LEN];
    char path[] = "/tmp/binrelay-hash-XXXXXX";
    char *zeros = calloc(1, 1000000);
    int fd = mkstemp(path);
    off_t size;

    (void)state;
    hash_hex(st, hex);
    assert_string_equal(hex, "99aa06d3014798d86001c324468d497f");
    hash_update(st, "hello", 5);
    hash_hex(st, hex);
    assert_string_equal(hex, "b5e9c1ad071b3e7fc779cfaa5e523818");
    hash_free(st);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, zeros, 1000000), 1000000);
    assert_int_equal(hash_fd(fd, hex, &size), 0);
    assert_int_equal(size, 1000000);
    assert_string_equal(hex, "ef233fc372a159319d648391f361d99a");
    assert_true(hash_hex_valid(hex));
    assert_false(hash_hex_valid("EF233FC372A159319D648391F361D99A"));
    close(fd);
    unlink(path);
    free(zeros);
}

/* The tool itself, when installed, on bytes longer than hash_fd()'s
 * read buffer: the leader checks digests that workers computed so. */
static void test_hash_fd_matches_installed_xxhsum(void **state)
{
    const size_t len = 600000;
    unsigned char *data = pattern(len);
    char path[] = "/tmp/binrelay-hash-XXXXXX";
    char hex[HASH_HEX_LEN], cmd[96], line[128] = "";
    int fd = mkstemp(path);
    off_t size;
    FILE *p;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(hash_fd(fd, hex, &size), 0);
    assert_int_equal(size, (off_t)len);
    close(fd);
    free(data);

    if (system("command -v xxhsum >/dev/null 2>&1") != 0) {
        unlink(path);
        skip();
    }
    snprintf(cmd, sizeof(cmd), "xxhsum -H2 '%s'", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    assert_int_equal(pclose(p), 0);
    unlink(path);
    assert_true(strlen(line) > 32);
    assert_memory_equal(line, hex, 32);
}

/* A body arrives in whatever pieces the network gives. */
static void test_streaming_in_uneven_pieces(void **state)
{
    const size_t len = 70000;
    unsigned char *data = pattern(len);
    struct hash_state *st = hash_new();
    char whole[HASH_HEX_LEN], pieces[HASH_HEX_LEN];
    size_t off = 0, step = 0;

    (void)state;
    hex_of(data, len, whole);
    while (off < len) {
        /* 1, 2, 3, ... 1100 bytes: across stripes and blocks. */
        size_t n = step++ % 1100 + 1;

        if (n > len - off)
            n = len - off;
        hash_update(st, data + off, n);
        off += n;
    }
    hash_hex(st, pieces);
    assert_string_equal(pieces, whole);
    hash_free(st);
    free(data);
}

/* hash_hex() reports what was fed so far and lets the stream go on. */
static void test_hex_midway_changes_nothing(void **state)
{
    unsigned char *data = pattern(5000);
    struct hash_state *st = hash_new();
    char whole[HASH_HEX_LEN], half[HASH_HEX_LEN], end[HASH_HEX_LEN];
    char first[HASH_HEX_LEN];

    (void)state;
    hex_of(data, 5000, whole);
    hex_of(data, 2500, first);
    hash_update(st, data, 2500);
    hash_hex(st, half);
    hash_update(st, data + 2500, 2500);
    hash_hex(st, end);
    assert_string_equal(half, first);
    assert_string_equal(end, whole);
    assert_string_not_equal(half, whole);
    hash_free(st);
    free(data);
}

/* pread(2) from 0: where the descriptor's offset stands does not matter. */
static void test_hash_fd_reads_from_the_start(void **state)
{
    unsigned char *data = pattern(3000);
    char path[] = "/tmp/binrelay-hash-XXXXXX";
    char hex[HASH_HEX_LEN], expect[HASH_HEX_LEN];
    int fd = mkstemp(path);
    off_t size;

    (void)state;
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, data, 3000), 3000);
    assert_int_equal(lseek(fd, 1000, SEEK_SET), 1000);
    hex_of(data, 3000, expect);
    assert_int_equal(hash_fd(fd, hex, &size), 0);
    assert_int_equal(size, 3000);
    assert_string_equal(hex, expect);
    close(fd);
    free(data);
}

static void test_hash_fd_read_error(void **state)
{
    int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    char hex[HASH_HEX_LEN];
    off_t size = 7;

    (void)state;
    assert_true(fd >= 0);
    errno = 0;
    assert_int_equal(hash_fd(fd, hex, &size), -1);
    assert_int_equal(errno, EISDIR);
    assert_int_equal(size, 7);
    close(fd);
}

static void test_hex_valid(void **state)
{
    (void)state;
    assert_true(hash_hex_valid("0123456789abcdef0123456789abcdef"));
    assert_true(hash_hex_valid("ef233fc372a159319d648391f361d99a"));
    /* One capital is enough to refuse: the form is canonical. */
    assert_false(hash_hex_valid("ef233fc372a159319d648391f361d99A"));
    assert_false(hash_hex_valid("EF233FC372A159319D648391F361D99A"));
    assert_false(hash_hex_valid("ef233fc372a159319d648391f361d99"));
    assert_false(hash_hex_valid("ef233fc372a159319d648391f361d99a0"));
    assert_false(hash_hex_valid("ef233fc372a159319d648391f361d99g"));
    assert_false(hash_hex_valid("ef233fc372a159319d648391f361d9 a"));
    assert_false(hash_hex_valid("0x233fc372a159319d648391f361d99a"));
    assert_false(hash_hex_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_matches_xxhsum),
        cmocka_unit_test(test_hash_fd_matches_installed_xxhsum),
        cmocka_unit_test(test_streaming_in_uneven_pieces),
        cmocka_unit_test(test_hex_midway_changes_nothing),
        cmocka_unit_test(test_hash_fd_reads_from_the_start),
        cmocka_unit_test(test_hash_fd_read_error),
        cmocka_unit_test(test_hex_valid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
