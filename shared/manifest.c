/* manifest.c - result manifests and pipeline.json, through jansson. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "utf8.h"

static int manifest_fail(char *err, size_t errsize, const char *fmt,
                         const char *what)
{
    snprintf(err, errsize, fmt, what);
    return -1;
}

int manifest_artifact_valid(const char *path)
{
    size_t len = strlen(path);
    const char *p = path;

    if (len == 0 || len >= MANIFEST_ARTIFACT_MAX || path[0] == '/')
        return 0;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        if (n == 0 || (n == 1 && p[0] == '.') ||
            (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n;
        if (*p == '/')
            p++;
        else
            break;
    }
    return path[len - 1] != '/';
}

static int manifest_copy_str(json_t *root, const char *key, char *dst,
                             size_t size, int required)
{
    json_t *v = json_object_get(root, key);
    const char *s;

    if (v == NULL)
        return required ? -1 : 0;
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    if (strlen(s) >= size)
        return -1;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int manifest_fields(json_t *root, struct manifest *m, char *err,
                           size_t errsize)
{
    json_t *v;

    if (manifest_copy_str(root, "pipeline_id", m->pipeline_id,
                          sizeof(m->pipeline_id), 1) < 0 ||
        !ident_valid(m->pipeline_id))
        return manifest_fail(err, errsize, "bad or missing %s", "pipeline_id");

    v = json_object_get(root, "version");
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return manifest_fail(err, errsize, "bad or missing %s", "version");
    m->version = json_integer_value(v);

    v = json_object_get(root, "state");
    m->state =
        json_is_string(v) ? state_parse(json_string_value(v)) : STATE_INVALID;
    if (m->state != STATE_SUCCESS && m->state != STATE_COMPILE_ERROR)
        return manifest_fail(err, errsize, "bad or missing %s", "state");

    v = json_object_get(root, "worker_id");
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0))
        return manifest_fail(err, errsize, "bad %s", "worker_id");
    m->worker_id = v ? (long)json_integer_value(v) : -1;

    if (manifest_copy_str(root, "started_at", m->started_at,
                          sizeof(m->started_at), 0) < 0 ||
        manifest_copy_str(root, "finished_at", m->finished_at,
                          sizeof(m->finished_at), 0) < 0)
        return manifest_fail(err, errsize, "bad %s", "timestamps");
    return 0;
}

static int manifest_artifact(json_t *root, struct manifest *m, char *err,
                             size_t errsize)
{
    if (m->state != STATE_SUCCESS)
        return 0;
    if (manifest_copy_str(root, "artifact", m->artifact, sizeof(m->artifact),
                          1) < 0 ||
        !manifest_artifact_valid(m->artifact))
        return manifest_fail(err, errsize, "bad or missing %s", "artifact");
    return 0;
}

static int manifest_log(json_t *root, struct manifest *m, char *err,
                        size_t errsize)
{
    json_t *v = json_object_get(root, "log");
    const char *s = "";
    size_t len = 0;

    if (v != NULL && !json_is_string(v))
        return manifest_fail(err, errsize, "bad %s", "log");
    if (v != NULL) {
        s = json_string_value(v);
        len = json_string_length(v);
    }
    if (manifest_set_log(m, s, len) < 0)
        return manifest_fail(err, errsize, "%s", strerror(errno));
    return 0;
}

int manifest_parse(const char *json, size_t len, struct manifest *m, char *err,
                   size_t errsize)
{
    json_error_t jerr;
    json_t *root;
    int rc = -1;

    memset(m, 0, sizeof(*m));
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errsize, "invalid JSON at line %d: %s", jerr.line,
                 jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        manifest_fail(err, errsize, "%s", "manifest is not a JSON object");
        goto out_decref;
    }
    if (manifest_fields(root, m, err, errsize) < 0 ||
        manifest_artifact(root, m, err, errsize) < 0 ||
        manifest_log(root, m, err, errsize) < 0)
        goto out_decref;
    rc = 0;

out_decref:
    json_decref(root);
    return rc;
}

char *manifest_encode(const struct manifest *m)
{
    json_t *root = json_object();
    char *out;

    if (root == NULL)
        return NULL;
    json_object_set_new(root, "pipeline_id", json_string(m->pipeline_id));
    json_object_set_new(root, "version", json_integer(m->version));
    json_object_set_new(root, "state", json_string(state_name(m->state)));
    if (m->state == STATE_SUCCESS)
        json_object_set_new(root, "artifact", json_string(m->artifact));
    json_object_set_new(root, "log", json_string(m->log ? m->log : ""));
    if (m->worker_id >= 0)
        json_object_set_new(root, "worker_id", json_integer(m->worker_id));
    if (m->started_at[0] != '\0')
        json_object_set_new(root, "started_at", json_string(m->started_at));
    if (m->finished_at[0] != '\0')
        json_object_set_new(root, "finished_at", json_string(m->finished_at));

    out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (out == NULL)
        errno = ENOMEM;
    return out;
}

int manifest_set_log(struct manifest *m, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    char *out;
    size_t n = 0;

    if (len > MANIFEST_LOG_MAX) {
        s += len - MANIFEST_LOG_MAX;
        len = MANIFEST_LOG_MAX;
        /* Start on a character, not inside one cut in half. */
        while (len > 0 && (*s & 0xc0) == 0x80) {
            s++;
            len--;
        }
    }

    out = malloc(len + 1);
    if (out == NULL)
        return -1;
    for (size_t i = 0; i < len;) {
        size_t k = s[i] == 0 ? 0 : utf8_len(s + i, len - i);

        if (k == 0) {
            out[n++] = '?';
            i++;
            continue;
        }
        memcpy(out + n, s + i, k);
        n += k;
        i += k;
    }
    out[n] = '\0';
    free(m->log);
    m->log = out;
    return 0;
}

void manifest_free(struct manifest *m)
{
    free(m->log);
    m->log = NULL;
}

int manifest_parse_pipeline(const char *json, size_t len, int64_t *version,
                            char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *root, *v;
    int rc = -1;

    root = json_loadb(json, len, 0, &jerr);
    if (root == NULL) {
        snprintf(err, errsize, "invalid JSON at line %d: %s", jerr.line,
                 jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errsize, "pipeline.json is not a JSON object");
        goto out_decref;
    }
    v = json_object_get(root, "version");
    if (v == NULL) {
        snprintf(err, errsize, "pipeline.json has no \"version\"");
        goto out_decref;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        snprintf(err, errsize,
                 "\"version\" in pipeline.json is not a positive integer");
        goto out_decref;
    }
    *version = json_integer_value(v);
    rc = 0;

out_decref:
    json_decref(root);
    return rc;
}
