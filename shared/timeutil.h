/* timeutil.h - the two clocks binrelay uses. */
#ifndef BINRELAY_TIMEUTIL_H
#define BINRELAY_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

#define TIMEUTIL_RFC3339_LEN 32

/* Milliseconds on CLOCK_MONOTONIC: for timeouts and durations. */
int64_t timeutil_mono_ms(void);

/* 't' as "2026-12-03T18:54:22Z" (UTC).  Returns 'buf'. */
char *timeutil_rfc3339(char buf[TIMEUTIL_RFC3339_LEN], time_t t);

/* The current time as timeutil_rfc3339() writes it.  Returns 'buf'. */
char *timeutil_now_rfc3339(char buf[TIMEUTIL_RFC3339_LEN]);

#endif
