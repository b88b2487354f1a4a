/* state.h - the states a pipeline goes through, as the HTTP API names them. */
#ifndef BINRELAY_STATE_H
#define BINRELAY_STATE_H

enum state {
    STATE_PENDING,
    STATE_COMPILING,
    STATE_UPLOADING,
    STATE_SUCCESS,
    STATE_COMPILE_ERROR,
    STATE_SYSTEM_ERROR,
    STATE_INVALID = -1,
};

/* "pending", "compiling", ...; "invalid" for anything else. */
const char *state_name(enum state s);

/* The state named 's', or STATE_INVALID. */
enum state state_parse(const char *s);

/*
 * For two reports of the same version: a report may replace the recorded
 * one only if its rank is not lower.  Final states outrank transient
 * ones, and success outranks every error, so a late "compiling" never
 * hides a result and a retried upload that succeeds clears its error.
 */
int state_rank(enum state s);

#endif
