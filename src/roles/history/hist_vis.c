/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed copies of a run's custom search attributes for the visibility store: each
 * SearchAttributes.indexed_fields payload is JSON (json/plain) whose type comes from the
 * payload's "type" metadata (what typed SDK APIs send) or, failing that, from the namespace's
 * registered custom attributes. Keyword lists become one entry per element. Values that do not
 * parse as their type are skipped (logged), never fatal: visibility is best effort, the
 * record's raw SearchAttributes blob is kept as is. Pure apart from the namespace lookup;
 * called by hist_queue.c on the loop thread.
 */
#define TD_LOG_COMPONENT "history"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "roles/history/hist_int.h"
#include "roles/nsreg.h"
#include "server.h"
#include "temporal/api/common/v1/message.pb-c.h"

/* ---- a small JSON reader: strings, numbers, booleans, arrays of them ---- */

typedef struct {
    const char *p, *end;
} td_hist_json_t;

static void td_hist_json_ws(td_hist_json_t *j)
{
    while (j->p < j->end && isspace((unsigned char)*j->p)) {
        j->p++;
    }
}

static void td_hist_utf8(char **o, unsigned cp)
{
    char *q = *o;
    if (cp < 0x80) {
        *q++ = (char)cp;
    } else if (cp < 0x800) {
        *q++ = (char)(0xc0 | (cp >> 6));
        *q++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *q++ = (char)(0xe0 | (cp >> 12));
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *q++ = (char)(0xf0 | (cp >> 18));
        *q++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (char)(0x80 | (cp & 0x3f));
    }
    *o = q;
}

static int td_hist_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* Reads a JSON string into the arena; NULL when malformed. */
static char *td_hist_json_str(td_hist_json_t *j, td_arena_t *a)
{
    char *out, *o;

    if (j->p >= j->end || *j->p != '"') {
        return NULL;
    }
    j->p++;
    out = o = td_arena_alloc(a, (size_t)(j->end - j->p) * 2 + 1);
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        unsigned cp, lo;
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        if (j->p >= j->end) {
            return NULL;
        }
        c = *j->p++;
        switch (c) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u':
            if (j->end - j->p < 4 || td_hist_hex4(j->p, &cp) < 0) {
                return NULL;
            }
            j->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u' && td_hist_hex4(j->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                j->p += 6;
            }
            td_hist_utf8(&o, cp);
            break;
        default:
            *o++ = c;
            break;
        }
    }
    if (j->p >= j->end) {
        return NULL;
    }
    j->p++;
    *o = 0;
    return out;
}

/* RFC 3339 ("2024-01-02T03:04:05.5Z", "+01:00" offsets) to Unix ns; -1 when malformed. */
static int td_hist_rfc3339(const char *s, int64_t *out)
{
    struct tm tm;
    const char *p;
    int64_t frac = 0, scale = 1000000000, off = 0;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL) {
        return -1;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
            p++;
        }
    }
    if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) {
            return -1;
        }
        off = (int64_t)(hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z' && *p != 'z') {
        return -1;
    }
    t = timegm(&tm);
    *out = ((int64_t)t - off) * 1000000000 + frac;
    return 0;
}

typedef struct {
    td_store_sa_t *v;
    int n, cap;
} td_hist_sav_t;

static void td_hist_sa_push(td_hist_sav_t *sv, td_arena_t *a, const td_store_sa_t *sa)
{
    if (sv->n == sv->cap) {
        td_store_sa_t *nv;
        sv->cap = sv->cap ? sv->cap * 2 : 16;
        nv = td_arena_alloc(a, (size_t)sv->cap * sizeof(*nv));
        if (sv->n > 0) {
            memcpy(nv, sv->v, (size_t)sv->n * sizeof(*nv));
        }
        sv->v = nv;
    }
    sv->v[sv->n++] = *sa;
}

/* Parses one scalar of `type` at j->p into sa; TD_OK or TD_EINVAL. */
static int td_hist_sa_scalar(td_hist_json_t *j, td_arena_t *a, int type, td_store_sa_t *sa)
{
    char *end = NULL, *s, num[64];
    size_t n;

    td_hist_json_ws(j);
    switch (type) {
    case TD_STORE_SA_TEXT:
    case TD_STORE_SA_KEYWORD:
    case TD_STORE_SA_KEYWORD_LIST:
        sa->s = td_hist_json_str(j, a);
        return sa->s != NULL ? TD_OK : TD_EINVAL;
    case TD_STORE_SA_INT:
    case TD_STORE_SA_DOUBLE:
        /* payload bytes are not NUL-terminated: parse a bounded copy */
        n = 0;
        while (j->p + n < j->end && n < sizeof(num) - 1 &&
               strchr("+-0123456789.eE", j->p[n]) != NULL) {
            num[n] = j->p[n];
            n++;
        }
        num[n] = 0;
        if (type == TD_STORE_SA_INT) {
            sa->i = strtoll(num, &end, 10);
        } else {
            sa->d = strtod(num, &end);
        }
        if (n == 0 || end == num) {
            return TD_EINVAL;
        }
        j->p += end - num;
        return TD_OK;
    case TD_STORE_SA_BOOL:
        if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
            sa->i = 1;
            j->p += 4;
            return TD_OK;
        }
        if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
            sa->i = 0;
            j->p += 5;
            return TD_OK;
        }
        return TD_EINVAL;
    case TD_STORE_SA_DATETIME:
        s = td_hist_json_str(j, a);
        return s != NULL && td_hist_rfc3339(s, &sa->i) == 0 ? TD_OK : TD_EINVAL;
    default:
        return TD_EINVAL;
    }
}

static int td_hist_meta_type(const Temporal__Api__Common__V1__Payload *p)
{
    for (size_t i = 0; i < p->n_metadata; i++) {
        const Temporal__Api__Common__V1__Payload__MetadataEntry *m = p->metadata[i];
        if (m->key != NULL && strcmp(m->key, "type") == 0 && m->value.len > 0 &&
            m->value.len < 32) {
            char buf[32];
            memcpy(buf, m->value.data, m->value.len);
            buf[m->value.len] = 0;
            return td_sa_type_parse(buf);
        }
    }
    return 0;
}

static int td_hist_ns_type(td_hist_t *h, const char *namespace_id, const char *key)
{
    const td_ns_t *ns;

    if (h->srv == NULL || h->srv->nsreg == NULL) {
        return 0;
    }
    ns = td_nsreg_by_id(h->srv->nsreg, namespace_id);
    if (ns == NULL || ns->rec == NULL) {
        return 0;
    }
    for (size_t i = 0; i < ns->rec->n_custom_search_attributes; i++) {
        if (strcmp(ns->rec->custom_search_attributes[i]->key, key) == 0) {
            return (int)ns->rec->custom_search_attributes[i]->value;
        }
    }
    return 0;
}

void td_hist__vis_sas(td_hist_t *h, const char *namespace_id, const uint8_t *blob, size_t len,
                      td_arena_t *a, const td_store_sa_t **out, int *n_out)
{
    Temporal__Api__Common__V1__SearchAttributes *sa = td_hist__unblob(
            a, blob, len, &temporal__api__common__v1__search_attributes__descriptor);
    td_hist_sav_t sv = { 0 };

    *out = NULL;
    *n_out = 0;
    for (size_t i = 0; sa != NULL && i < sa->n_indexed_fields; i++) {
        const char *key = sa->indexed_fields[i]->key;
        const Temporal__Api__Common__V1__Payload *p = sa->indexed_fields[i]->value;
        int type;
        td_hist_json_t j;
        td_store_sa_t one;

        if (key == NULL || p == NULL || p->data.len == 0) {
            continue;
        }
        type = td_hist_meta_type(p);
        if (type == 0) {
            type = td_hist_ns_type(h, namespace_id, key);
        }
        if (type == 0) {
            continue; /* unknown attribute: kept in the blob only */
        }
        j.p = (const char *)p->data.data;
        j.end = j.p + p->data.len;
        memset(&one, 0, sizeof(one));
        one.name = key;
        one.type = type;
        td_hist_json_ws(&j);
        if (j.p < j.end && *j.p == '[') {
            /* a list: each element is one entry (keyword lists; other types take all) */
            j.p++;
            for (;;) {
                td_hist_json_ws(&j);
                if (j.p < j.end && *j.p == ']') {
                    break;
                }
                if (td_hist_sa_scalar(&j, a, type, &one) != TD_OK) {
                    td_log_debug("search attribute %s: malformed list element", key);
                    break;
                }
                td_hist_sa_push(&sv, a, &one);
                td_hist_json_ws(&j);
                if (j.p < j.end && *j.p == ',') {
                    j.p++;
                }
            }
        } else if (td_hist_sa_scalar(&j, a, type, &one) == TD_OK) {
            td_hist_sa_push(&sv, a, &one);
        } else {
            td_log_debug("search attribute %s: value does not parse as its type", key);
        }
    }
    *out = sv.v;
    *n_out = sv.n;
}
