/* timeutil.c - monotonic milliseconds and RFC 3339 timestamps. */
#include <stdio.h>

#include "timeutil.h"

int64_t timeutil_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *timeutil_rfc3339(char buf[TIMEUTIL_RFC3339_LEN], time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, TIMEUTIL_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

char *timeutil_now_rfc3339(char buf[TIMEUTIL_RFC3339_LEN])
{
    return timeutil_rfc3339(buf, time(NULL));
}
