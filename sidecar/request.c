/* request.c - the checks of a write's headers and of a status report. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int64_t request_length(const char *cl, const char *te)
{
    int64_t v = 0;

    if (cl == NULL)
        return -1;
    /* Both would let two hops read two different bodies. */
    if (te != NULL || *cl == '\0')
        return -2;
    for (const char *p = cl; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT64_MAX / 10 - 10)
            return -2;
        v = v * 10 + (*p - '0');
    }
    return v;
}

long request_worker(const char *w)
{
    long v = 0;

    if (w == NULL)
        return -1;
    if (*w == '\0')
        return -2;
    for (const char *p = w; *p; p++) {
        if (*p < '0' || *p > '9')
            return -2;
        v = v * 10 + (*p - '0');
        if (v >= REQUEST_WORKER_MAX)
            return -2;
    }
    return v;
}

/* The reason 'o' is no report, or NULL when its fields are good. */
static const char *request_report_flaw(json_t *o, enum state *state)
{
    json_t *s = json_object_get(o, "state");
    json_t *w = json_object_get(o, "worker_id");
    json_t *m = json_object_get(o, "message");

    *state =
        json_is_string(s) ? state_parse(json_string_value(s)) : STATE_INVALID;
    if (!json_is_object(o))
        return "the body must be a JSON object";
    if (*state == STATE_INVALID || *state == STATE_SUCCESS)
        return "\"state\" must name a state that carries no binary";
    if (w != NULL && !json_is_null(w) &&
        (!json_is_integer(w) || json_integer_value(w) < 0 ||
         json_integer_value(w) >= REQUEST_WORKER_MAX))
        return "\"worker_id\" must be a worker's number";
    if (m != NULL && !json_is_null(m) && !json_is_string(m))
        return "\"message\" must be a string";
    return NULL;
}

int request_report(const char *body, size_t len, struct request_report *r,
                   char *err, size_t errsize)
{
    json_error_t jerr;
    const char *why, *msg;
    json_t *o, *w;

    memset(r, 0, sizeof(*r));
    o = json_loadb(body ? body : "", len, 0, &jerr);
    if (o == NULL) {
        snprintf(err, errsize, "the body is not JSON: %s", jerr.text);
        return -1;
    }
    why = request_report_flaw(o, &r->state);
    if (why != NULL) {
        snprintf(err, errsize, "%s", why);
        json_decref(o);
        return -1;
    }

    w = json_object_get(o, "worker_id");
    r->worker = json_is_integer(w) ? (long)json_integer_value(w) : -1;
    msg = json_string_value(json_object_get(o, "message"));
    r->message = strdup(msg ? msg : "");
    json_decref(o);
    if (r->message == NULL) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    return 0;
}

void request_report_free(struct request_report *r)
{
    free(r->message);
    r->message = NULL;
}
