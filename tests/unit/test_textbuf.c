/* test_textbuf.c - the growable text buffer behind hand-built JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "textbuf.h"

static void test_empty_is_a_string(void **state)
{
    struct textbuf b = {0};
    size_t len = 99;
    char *text;

    (void)state;
    text = textbuf_take(&b, &len);
    assert_non_null(text);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    free(text);
}

/* Many appends across several doublings keep every byte in order. */
static void test_grows_in_order(void **state)
{
    struct textbuf b = {0};
    size_t len;
    char *text;

    (void)state;
    for (int i = 0; i < 100000; i++)
        textbuf_add(&b, i % 2 ? "ab" : "c", i % 2 ? 2 : 1);
    textbuf_puts(&b, "!");
    text = textbuf_take(&b, &len);
    assert_non_null(text);
    assert_int_equal(len, 150001);
    assert_int_equal(strlen(text), len);
    assert_memory_equal(text, "cabcab", 6);
    assert_string_equal(text + len - 4, "cab!");
    assert_null(b.data);
    free(text);
}

/* A failed append poisons the buffer: nothing half-built is handed out. */
static void test_failure_is_sticky(void **state)
{
    struct textbuf b = {0};
    size_t len = 7;

    (void)state;
    textbuf_puts(&b, "start");
    textbuf_add(&b, "x", (size_t)-1 / 2);
    textbuf_puts(&b, "more");
    assert_null(textbuf_take(&b, &len));
    assert_int_equal(len, 0);
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_is_a_string),
        cmocka_unit_test(test_grows_in_order),
        cmocka_unit_test(test_failure_is_sticky),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
