/* test_redact.c - passwords, query strings and secrets never get out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redact.h"

static void urls_is(const char *in, const char *want)
{
    size_t len;
    char *out = redact_urls(in, strlen(in), &len);

    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    free(out);
}

static void secrets_is(const char *in, const char *const *secrets,
                       const char *want)
{
    size_t len;
    char *out = redact_secrets(in, strlen(in), secrets, &len);

    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    free(out);
}

static void test_password(void **state)
{
    (void)state;
    urls_is("redis://user:secret@host", "redis://user:***@host");
    urls_is("redis://u:hunter2@127.0.0.1:1/0 refused",
            "redis://u:***@127.0.0.1:1/0 refused");
    /* An '@' inside the password: the last one ends the userinfo. */
    urls_is("http://u:p@ss@h/x", "http://u:***@h/x");
    urls_is("redis://:pw@h", "redis://:***@h");
}

static void test_bare_userinfo(void **state)
{
    (void)state;
    urls_is("redis://s3cr3t@host:6379", "redis://***@host:6379");
}

static void test_query(void **state)
{
    (void)state;
    urls_is("http://host/path?X-Amz-Signature=abc&X-Amz-Credential=k",
            "http://host/path?***");
    urls_is("error sending request for url (https://b.s3/k?sig=1): timed out",
            "error sending request for url (https://b.s3/k?***): timed out");
    urls_is("ccache: error: unknown remote storage URL: foo://h:1/x?sig=abc",
            "ccache: error: unknown remote storage URL: foo://h:1/x?***");
    /* ccache's attributes follow a '|' and are not part of the URL. */
    urls_is("http://u:pw@h:1/b?t=1|layout=flat",
            "http://u:***@h:1/b?***|layout=flat");
}

static void test_untouched(void **state)
{
    (void)state;
    urls_is("", "");
    urls_is("no url here: a@b c:d", "no url here: a@b c:d");
    urls_is("http://host:80/path", "http://host:80/path");
    urls_is("see http://host/a then mail me@example.org",
            "see http://host/a then mail me@example.org");
    urls_is("odd :// at the end://", "odd :// at the end://");
}

static void test_several_lines(void **state)
{
    (void)state;
    urls_is("a redis://u:x@h\nb http://h/?q=1\nc\n",
            "a redis://u:***@h\nb http://h/?***\nc\n");
}

static void test_binary_safe(void **state)
{
    const char in[] = "x\0redis://u:pw@h";
    size_t len;
    char *out;

    (void)state;
    out = redact_urls(in, sizeof(in) - 1, &len);
    assert_non_null(out);
    assert_int_equal(len, 17);
    assert_memory_equal(out, "x\0redis://u:***@h", 17);
    free(out);
}

static void test_secrets(void **state)
{
    const char *const secrets[] = {"wJalrXUtnFEMI/K7MDENG", "hunter2", "ab", "",
                                   NULL};

    (void)state;
    secrets_is("key=wJalrXUtnFEMI/K7MDENG and hunter2hunter2", secrets,
               "key=*** and ******");
    /* Too short to search for: it would mask plain text. */
    secrets_is("abc", secrets, "abc");
    secrets_is("nothing secret", secrets, "nothing secret");
    secrets_is("hunter2", NULL, "hunter2");
}

/* A tail of a log may start with what is left of a secret cut in two. */
static void test_cut_secret(void **state)
{
    const char *const secrets[] = {"wJalrXUtnFEMI/K7MDENG", "hunter2", "ab", "",
                                   NULL};
    const char *in;

    (void)state;
    in = "K7MDENG rest";
    assert_int_equal(redact_cut_secret(in, strlen(in), secrets), 7);
    in = "I/K7MDENG";
    assert_int_equal(redact_cut_secret(in, strlen(in), secrets), 9);
    /* The longest end wins; "nter2" is an end of hunter2. */
    in = "nter2 and more";
    assert_int_equal(redact_cut_secret(in, strlen(in), secrets), 5);
    /* A whole secret is redact_secrets()'s, not a cut one. */
    in = "hunter2";
    assert_int_equal(redact_cut_secret(in, strlen(in), secrets), 0);
    /* Under REDACT_MIN_SECRET bytes: plain text, most likely. */
    in = "NG at the start";
    assert_int_equal(redact_cut_secret(in, strlen(in), secrets), 0);
    in = "ENG";
    assert_int_equal(redact_cut_secret(in, strlen(in), secrets), 0);
    /* Only the start counts, and 'len' bounds what is looked at. */
    in = "x K7MDENG";
    assert_int_equal(redact_cut_secret(in, strlen(in), secrets), 0);
    assert_int_equal(redact_cut_secret("K7MDENG", 5, secrets), 0);
    assert_int_equal(redact_cut_secret("K7MDENG", 7, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_bare_userinfo),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_untouched),
        cmocka_unit_test(test_several_lines),
        cmocka_unit_test(test_binary_safe),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_cut_secret),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
