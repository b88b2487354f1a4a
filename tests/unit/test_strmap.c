/* test_strmap.c - the string-keyed map: copies, growth, removal, visits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strmap.h"

/* Values are small integers; 0 would read as "absent". */
#define VAL(i) ((void *)(intptr_t)((i) + 1))

static void test_empty(void **state)
{
    struct strmap *m = strmap_new();

    (void)state;
    assert_non_null(m);
    assert_int_equal(strmap_count(m), 0);
    assert_null(strmap_get(m, "a"));
    assert_null(strmap_del(m, "a"));
    assert_null(strmap_get(m, ""));
    strmap_free(m);
}

static void test_put_get_del(void **state)
{
    struct strmap *m = strmap_new();
    int a, b;

    (void)state;
    assert_int_equal(strmap_put(m, "7", &a), 0);
    assert_int_equal(strmap_put(m, "", &b), 0);
    assert_int_equal(strmap_count(m), 2);
    assert_ptr_equal(strmap_get(m, "7"), &a);
    assert_ptr_equal(strmap_get(m, ""), &b);
    assert_null(strmap_get(m, "70"));

    assert_ptr_equal(strmap_del(m, "7"), &a);
    assert_int_equal(strmap_count(m), 1);
    assert_null(strmap_get(m, "7"));
    assert_null(strmap_del(m, "7"));
    assert_ptr_equal(strmap_get(m, ""), &b);

    /* A removed key can come back. */
    assert_int_equal(strmap_put(m, "7", &b), 0);
    assert_ptr_equal(strmap_get(m, "7"), &b);
    assert_int_equal(strmap_count(m), 2);
    strmap_free(m);
}

static void test_overwrite(void **state)
{
    struct strmap *m = strmap_new();
    int a, b;

    (void)state;
    assert_int_equal(strmap_put(m, "17", &a), 0);
    assert_int_equal(strmap_put(m, "17", &b), 0);
    assert_int_equal(strmap_count(m), 1);
    assert_ptr_equal(strmap_get(m, "17"), &b);
    assert_ptr_equal(strmap_del(m, "17"), &b);
    assert_int_equal(strmap_count(m), 0);
    strmap_free(m);
}

/* The map holds its own copy: the caller's buffer may change or go. */
static void test_keys_are_copied(void **state)
{
    struct strmap *m = strmap_new();
    char *key = strdup("pipeline-1");
    int a;

    (void)state;
    assert_int_equal(strmap_put(m, key, &a), 0);
    key[9] = '2';
    assert_ptr_equal(strmap_get(m, "pipeline-1"), &a);
    assert_null(strmap_get(m, key));
    free(key);
    assert_ptr_equal(strmap_get(m, "pipeline-1"), &a);
    strmap_free(m);
}

static void put_all(struct strmap *m, int n, int shift)
{
    char key[32];

    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%d", i);
        assert_int_equal(strmap_put(m, key, VAL(i + shift)), 0);
    }
}

/*
 * Many times the first table's size.  Every third key is removed once
 * all are in, so removals land in the middle of probe chains, and the
 * keys after them must still be found; then they come back.
 */
static void test_many_keys(void **state)
{
    struct strmap *m = strmap_new();
    const int n = 20000;
    char key[32];

    (void)state;
    put_all(m, n, 0);
    assert_int_equal(strmap_count(m), n);
    for (int i = 0; i < n; i += 3) {
        snprintf(key, sizeof(key), "%d", i);
        assert_ptr_equal(strmap_del(m, key), VAL(i));
    }
    assert_int_equal(strmap_count(m), n - (n + 2) / 3);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%d", i);
        if (i % 3 == 0)
            assert_null(strmap_get(m, key));
        else
            assert_ptr_equal(strmap_get(m, key), VAL(i));
    }

    put_all(m, n, n);
    assert_int_equal(strmap_count(m), n);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%d", i);
        assert_ptr_equal(strmap_get(m, key), VAL(i + n));
    }
    strmap_free(m);
}

/* Few live keys but endless churn: the tombstones must be swept, or a
 * lookup of an absent key would never find an empty slot. */
static void test_churn_without_growth(void **state)
{
    struct strmap *m = strmap_new();
    char key[32];

    (void)state;
    assert_int_equal(strmap_put(m, "stays", VAL(0)), 0);
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "gone-%d", i);
        assert_int_equal(strmap_put(m, key, VAL(i)), 0);
        assert_ptr_equal(strmap_del(m, key), VAL(i));
    }
    assert_int_equal(strmap_count(m), 1);
    assert_null(strmap_get(m, "never-there"));
    assert_ptr_equal(strmap_get(m, "stays"), VAL(0));
    strmap_free(m);
}

struct visits {
    int *seen;
    int n;
    int calls;
};

static void count_visit(const char *key, void *value, void *cls)
{
    struct visits *v = cls;
    int i = (int)((intptr_t)value - 1);
    char expect[32];

    v->calls++;
    if (i < 0 || i >= v->n)
        return;
    snprintf(expect, sizeof(expect), "k%d", i);
    if (strcmp(key, expect) == 0)
        v->seen[i]++;
}

static void test_each_visits_every_key_once(void **state)
{
    struct strmap *m = strmap_new();
    struct visits v = {.n = 1000};
    char key[32];

    (void)state;
    v.seen = calloc((size_t)v.n, sizeof(*v.seen));
    for (int i = 0; i < v.n; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(strmap_put(m, key, VAL(i)), 0);
    }
    /* A removed key is not visited. */
    assert_int_equal(strmap_put(m, "removed", VAL(v.n)), 0);
    strmap_del(m, "removed");

    strmap_each(m, count_visit, &v);
    assert_int_equal(v.calls, v.n);
    for (int i = 0; i < v.n; i++)
        assert_int_equal(v.seen[i], 1);
    free(v.seen);
    strmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_overwrite),
        cmocka_unit_test(test_keys_are_copied),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_churn_without_growth),
        cmocka_unit_test(test_each_visits_every_key_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
