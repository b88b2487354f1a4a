/* test_store.c - the leader's store: installs, refusals, sweeps, reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsio.h"
#include "hash.h"
#include "log.h"
#include "store.h"
#include "textbuf.h"

struct fixture {
    char dir[64];
    struct store *s;
    char err[256];
};

static struct store *open_store(const char *dir, long keep)
{
    struct store_config cfg = {
        .dir = dir,
        .keep_versions = keep,
        .max_binary_bytes = 1 << 20,
    };

    return store_open(&cfg);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->s = open_store(f->dir, 2);
    assert_non_null(f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    store_close(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void hex_of(const char *data, char hex[HASH_HEX_LEN])
{
    struct hash_state *h = hash_new();

    hash_update(h, data, strlen(data));
    hash_hex(h, hex);
    hash_free(h);
}

/* Uploads 'data' as id@version in one piece; returns the HTTP status. */
static int upload(struct fixture *f, const char *id, int64_t version,
                  const char *data)
{
    char hex[HASH_HEX_LEN];
    struct store_upload *up;
    int code;

    hex_of(data, hex);
    code = store_upload_begin(f->s, id, version, (int64_t)strlen(data), hex, 1,
                              &up, f->err, sizeof(f->err));
    if (code != 0)
        return code;
    code = store_upload_write(up, data, strlen(data), f->err, sizeof(f->err));
    if (code != 0) {
        store_upload_abort(up);
        return code;
    }
    return store_upload_commit(up, f->err, sizeof(f->err));
}

static const char *field(struct fixture *f, const char *id, const char *k)
{
    static char buf[128];
    json_t *o = store_entry_json(f->s, id, NULL);
    json_t *v = json_object_get(o, k);

    if (json_is_string(v))
        snprintf(buf, sizeof(buf), "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, sizeof(buf), "%s", o ? "null" : "none");
    json_decref(o);
    return buf;
}

static int count_dir(struct fixture *f, const char *sub)
{
    char cmd[160];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -A '%s/%s' | wc -l", f->dir, sub);
    p = popen(cmd, "r");
    if (p != NULL && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p != NULL)
        pclose(p);
    return n;
}

static void test_install_and_answers(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(upload(f, "7", 1, "one"), 201);
    assert_string_equal(field(f, "7", "state"), "success");
    assert_string_equal(field(f, "7", "worker_id"), "1");
    assert_int_equal(upload(f, "7", 1, "one"), 200);
    assert_int_equal(upload(f, "7", 2, "two"), 201);
    /* Still kept: a retry that lost its answer is told it is done. */
    assert_int_equal(upload(f, "7", 1, "one"), 200);
    assert_int_equal(upload(f, "7", 1, "uno"), 409);
    assert_string_equal(field(f, "7", "version"), "2");
    assert_int_equal(count_dir(f, "tmp"), 0);
}

static void test_mismatch_and_length(void **state)
{
    struct fixture *f = *state;
    char hex[HASH_HEX_LEN];
    struct store_upload *up;

    hex_of("other", hex);
    assert_int_equal(store_upload_begin(f->s, "8", 1, 5, hex, 0, &up, f->err,
                                        sizeof(f->err)),
                     0);
    assert_int_equal(store_upload_write(up, "wrong", 5, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(store_upload_commit(up, f->err, sizeof(f->err)), 422);

    hex_of("short", hex);
    assert_int_equal(store_upload_begin(f->s, "8", 1, 9, hex, 0, &up, f->err,
                                        sizeof(f->err)),
                     0);
    assert_int_equal(store_upload_write(up, "short", 5, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(
        store_upload_write(up, "toolong", 7, f->err, sizeof(f->err)), 422);
    store_upload_abort(up);
    assert_int_equal(store_upload_begin(f->s, "8", 1, 2 << 20, hex, 0, &up,
                                        f->err, sizeof(f->err)),
                     413);
    assert_string_equal(field(f, "8", "state"), "none");
    assert_int_equal(count_dir(f, "tmp"), 0);
    assert_int_equal(count_dir(f, "binaries"), 0);
}

/* The hourly sweep removes dead temporaries, never a live upload's. */
static void test_sweep_spares_live_uploads(void **state)
{
    struct fixture *f = *state;
    char hex[HASH_HEX_LEN], path[128];
    struct store_upload *up;
    FILE *dead;

    hex_of("live", hex);
    assert_int_equal(store_upload_begin(f->s, "9", 1, 4, hex, 0, &up, f->err,
                                        sizeof(f->err)),
                     0);
    assert_string_equal(field(f, "9", "state"), "uploading");
    snprintf(path, sizeof(path), "%s/tmp/" FSIO_TMP_PREFIX "dead", f->dir);
    dead = fopen(path, "w");
    assert_non_null(dead);
    fclose(dead);

    assert_int_equal(store_clean_temps(f->s), 1);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(store_upload_write(up, "live", 4, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(store_upload_commit(up, f->err, sizeof(f->err)), 201);
    assert_string_equal(field(f, "9", "state"), "success");
}

static void test_gc_and_reopen(void **state)
{
    struct fixture *f = *state;
    int64_t v = 0;
    int64_t size;
    char hex[HASH_HEX_LEN];
    int fd;

    for (int i = 1; i <= 4; i++) {
        char data[16];

        snprintf(data, sizeof(data), "version %d", i);
        assert_int_equal(upload(f, "10", i, data), 201);
    }
    assert_int_equal(count_dir(f, "binaries"), 2);
    v = 2;
    assert_int_equal(store_open_binary(f->s, "10", &v, &fd, &size, hex), 404);

    store_close(f->s);
    f->s = open_store(f->dir, 1);
    assert_non_null(f->s);
    assert_string_equal(field(f, "10", "version"), "4");
    assert_int_equal(count_dir(f, "binaries"), 1);
    v = 0;
    assert_int_equal(store_open_binary(f->s, "10", &v, &fd, &size, hex), 200);
    assert_int_equal(v, 4);
    assert_int_equal(size, 9);
    close(fd);
}

static void test_reports(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_report(f->s, "11", 1, STATE_COMPILING, 2, "", f->err,
                                  sizeof(f->err)),
                     200);
    assert_int_equal(upload(f, "11", 1, "built"), 201);
    /* A late report of a lower rank is accepted and ignored. */
    assert_int_equal(store_report(f->s, "11", 1, STATE_UPLOADING, 2, "", f->err,
                                  sizeof(f->err)),
                     200);
    assert_string_equal(field(f, "11", "state"), "success");
    assert_int_equal(store_report(f->s, "11", 2, STATE_COMPILE_ERROR, 2,
                                  "error: x", f->err, sizeof(f->err)),
                     200);
    assert_string_equal(field(f, "11", "message"), "error: x");
    assert_int_equal(store_report(f->s, "11", 1, STATE_COMPILING, 2, "", f->err,
                                  sizeof(f->err)),
                     409);
    assert_int_equal(upload(f, "11", 1, "built"), 200);
    assert_int_equal(upload(f, "11", 1, "rebuilt"), 409);
}

/* ---- the status list, as text ---------------------------------------- */

struct extra_item {
    const char *id;
    int64_t version;
};

static const char *extra_item(void *cls, size_t i, int64_t *version)
{
    const struct extra_item *items = cls;

    *version = items[i].version;
    return items[i].id;
}

static void extra_append(void *cls, size_t i, struct textbuf *out)
{
    const struct extra_item *items = cls;
    char text[96];

    snprintf(text, sizeof(text),
             "{\"pipeline_id\":\"%s\",\"version\":%lld,"
             "\"state\":\"pending\"}",
             items[i].id, (long long)items[i].version);
    textbuf_puts(out, text);
}

/* The listing, parsed; 'n' gets what store_list_text() returned. */
static json_t *list(struct fixture *f, struct extra_item *items, size_t count,
                    size_t *n)
{
    struct store_extra x = {.count = count,
                            .cls = items,
                            .item = extra_item,
                            .append = extra_append};
    struct textbuf b = {0};
    json_error_t jerr;
    size_t len;
    char *text;
    json_t *o;

    textbuf_puts(&b, "[");
    *n = store_list_text(f->s, items ? &x : NULL, &b);
    textbuf_puts(&b, "]");
    text = textbuf_take(&b, &len);
    assert_non_null(text);
    o = json_loadb(text, len, 0, &jerr);
    free(text);
    assert_non_null(o);
    assert_int_equal(json_array_size(o), *n);
    return o;
}

static const char *listed_id(json_t *entry)
{
    return json_string_value(json_object_get(entry, "pipeline_id"));
}

/* The listed entry of 'id', whose field 'k' must be 'want'. */
static void assert_listed(json_t *l, const char *id, const char *k,
                          const char *want)
{
    json_t *e;
    size_t i;

    json_array_foreach(l, i, e)
    {
        json_t *v;
        char got[64];

        if (strcmp(listed_id(e), id) != 0)
            continue;
        v = json_object_get(e, k);
        if (json_is_integer(v))
            snprintf(got, sizeof(got), "%lld",
                     (long long)json_integer_value(v));
        else
            snprintf(got, sizeof(got), "%s", json_string_value(v));
        assert_string_equal(got, want);
        return;
    }
    fail_msg("'%s' is not listed", id);
}

/* Each listed entry is exactly what GET /v1/status/{id} shows. */
static void assert_list_matches_entries(struct fixture *f, json_t *l)
{
    json_t *e;
    size_t i;

    json_array_foreach(l, i, e)
    {
        json_t *one = store_entry_json(f->s, listed_id(e), NULL);

        assert_true(json_equal(e, one));
        json_decref(one);
    }
}

static void test_list_text(void **state)
{
    struct fixture *f = *state;
    char hex[HASH_HEX_LEN];
    struct store_upload *up;
    size_t n;
    json_t *l;

    assert_int_equal(upload(f, "20", 1, "one"), 201);
    assert_int_equal(store_report(f->s, "21", 3, STATE_COMPILE_ERROR, 1,
                                  "error: \"quoted\"\n", f->err,
                                  sizeof(f->err)),
                     200);
    l = list(f, NULL, 0, &n);
    assert_int_equal(n, 2);
    assert_list_matches_entries(f, l);
    assert_listed(l, "21", "message", "error: \"quoted\"\n");
    json_decref(l);

    /* A change after a listing shows in the next one. */
    assert_int_equal(upload(f, "21", 4, "four"), 201);
    hex_of("two", hex);
    assert_int_equal(store_upload_begin(f->s, "20", 2, 3, hex, 1, &up, f->err,
                                        sizeof(f->err)),
                     0);
    l = list(f, NULL, 0, &n);
    assert_list_matches_entries(f, l);
    assert_listed(l, "21", "state", "success");
    assert_listed(l, "21", "version", "4");
    assert_listed(l, "20", "state", "uploading");
    assert_listed(l, "20", "version", "2");
    json_decref(l);
    store_upload_abort(up);
    l = list(f, NULL, 0, &n);
    assert_listed(l, "20", "state", "success");
    assert_listed(l, "20", "version", "1");
    json_decref(l);
}

static void test_list_merges_extra(void **state)
{
    struct fixture *f = *state;
    struct extra_item items[] = {
        {"30", 2}, /* newer than the store's: replaces it */
        {"31", 1}, /* as old as the store's: the store's stays */
        {"32", 5}, /* unknown to the store: appended */
    };
    size_t n;
    json_t *l;

    assert_int_equal(upload(f, "30", 1, "a"), 201);
    assert_int_equal(upload(f, "31", 1, "b"), 201);
    l = list(f, items, 3, &n);
    assert_int_equal(n, 3);
    assert_listed(l, "30", "state", "pending");
    assert_listed(l, "30", "version", "2");
    assert_listed(l, "31", "state", "success");
    assert_listed(l, "32", "state", "pending");
    assert_string_equal(listed_id(json_array_get(l, 0)), "30");
    json_decref(l);

    /* The store's entry is back once it catches up. */
    assert_int_equal(upload(f, "30", 2, "a2"), 201);
    l = list(f, items, 3, &n);
    assert_listed(l, "30", "state", "success");
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_install_and_answers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mismatch_and_length, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sweep_spares_live_uploads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gc_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_merges_extra, setup,
                                        teardown),
    };

    log_init("test_store");
    log_set_level("error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
