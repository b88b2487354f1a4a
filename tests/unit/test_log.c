/* test_log.c - log lines: quoting of any bytes, and masked values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static void quoted_is(const char *in, size_t size, const char *want)
{
    char buf[256];

    assert_true(size <= sizeof(buf));
    assert_ptr_equal(log_quote(buf, size, in), buf);
    assert_string_equal(buf, want);
}

static void test_plain_and_escapes(void **state)
{
    (void)state;
    quoted_is("a b", 256, "\"a b\"");
    quoted_is("", 256, "\"\"");
    quoted_is("say \"hi\" \\o/", 256, "\"say \\\"hi\\\" \\\\o/\"");
    quoted_is("two\nlines\tand\x7f", 256, "\"two\\x0alines\\x09and\\x7f\"");
}

static void test_utf8_is_kept(void **state)
{
    (void)state;
    /* é (2 bytes), € (3 bytes), 😀 (4 bytes) */
    quoted_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 256,
              "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void test_bad_bytes_are_escaped(void **state)
{
    (void)state;
    quoted_is("\xff", 256, "\"\\xff\"");
    /* A continuation byte alone, a sequence cut short. */
    quoted_is("a\x80z", 256, "\"a\\x80z\"");
    quoted_is("\xc3z", 256, "\"\\xc3z\"");
    quoted_is("\xe2\x82", 256, "\"\\xe2\\x82\"");
    /* Overlong '/', a surrogate, a code point past U+10FFFF. */
    quoted_is("\xc0\xaf", 256, "\"\\xc0\\xaf\"");
    quoted_is("\xed\xa0\x80", 256, "\"\\xed\\xa0\\x80\"");
    quoted_is("\xf4\x90\x80\x80", 256, "\"\\xf4\\x90\\x80\\x80\"");
    quoted_is("\xf8\x88\x80\x80\x80", 256, "\"\\xf8\\x88\\x80\\x80\\x80\"");
}

static void test_cut_on_a_boundary(void **state)
{
    (void)state;
    /* 8 bytes: quote, 5 bytes of text, quote, NUL. */
    quoted_is("abcdefgh", 8, "\"abcde\"");
    /* Neither an escape nor a character is cut in half. */
    quoted_is("ab\xff", 8, "\"ab\"");
    quoted_is("abc\xe2\x82\xac", 8, "\"abc\"");
    quoted_is("ab\xe2\x82\xac", 8, "\"ab\xe2\x82\xac\"");
    quoted_is("a\"b", 4, "\"a\"");
    quoted_is("abc", 3, "\"\"");
}

/* Runs log_info() with stderr in a file, and returns what it wrote. */
static char *logged(const char *msg, const char *value)
{
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);
    char *text = calloc(1, 9000);
    ssize_t n;

    assert_true(f != NULL && saved >= 0 && text != NULL);
    dup2(fileno(f), STDERR_FILENO);
    log_info(msg, "value=%s", value);
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = pread(fileno(f), text, 8999, 0);
    fclose(f);
    assert_true(n > 0);
    return text;
}

static void test_masked_values(void **state)
{
    static const char *const masks[] = {"s3cr3t-value", "tok", NULL};
    char *line;

    (void)state;
    log_mask(masks);
    line = logged("saw s3cr3t-value", "x=s3cr3t-values3cr3t-value;tok");
    assert_null(strstr(line, "s3cr3t"));
    assert_non_null(strstr(line, "msg=\"saw ***\""));
    /* Values shorter than LOG_MASK_MIN are left alone. */
    assert_non_null(strstr(line, "value=x=******;tok\n"));
    free(line);

    log_mask(NULL);
    line = logged("plain", "s3cr3t-value");
    assert_non_null(strstr(line, "value=s3cr3t-value\n"));
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_escapes),
        cmocka_unit_test(test_utf8_is_kept),
        cmocka_unit_test(test_bad_bytes_are_escaped),
        cmocka_unit_test(test_cut_on_a_boundary),
        cmocka_unit_test(test_masked_values),
    };

    log_init("test_log");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
