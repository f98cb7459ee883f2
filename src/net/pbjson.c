/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proto3 JSON <-> protobuf-c messages (see pbjson.h). The decoder walks a jansson tree and
 * the message descriptor together, keeping the JSON path of the field it is in for error
 * messages; the encoder walks the message. Sizes are bounded by the JSON text (parsed first,
 * by the caller or td_pbjson_decode_text), so nothing here allocates from a number it read.
 */
#include "net/pbjson.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "net/grpc_wire.h"

typedef ProtobufCMessage msg_t;
typedef ProtobufCFieldDescriptor fdesc_t;
typedef ProtobufCMessageDescriptor mdesc_t;

/* Decoder state: the path of the field being decoded ("a.b[2].c") and the error text. */
typedef struct {
    td_arena_t *a;
    const td_pbjson_opts_t *o;
    char path[512];
    size_t plen;
    char *err;
    size_t errlen;
    int depth;
} dec_t;

#define TD_PBJSON_MAX_DEPTH 100

static int dec_fail(dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int dec_fail(dec_t *d, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d->err != NULL && d->errlen > 0) {
        if (d->plen > 0) {
            snprintf(d->err, d->errlen, "%s: %s", d->path, msg);
        } else {
            snprintf(d->err, d->errlen, "%s", msg);
        }
    }
    return TD_EINVAL;
}

/* Appends ".name" (or "name" at the top, or "[i]" when name is NULL) to the path; returns the
 * old length for path_pop. */
static size_t path_push(dec_t *d, const char *name, long idx)
{
    size_t old = d->plen;
    int n;
    if (name != NULL) {
        n = snprintf(d->path + d->plen, sizeof(d->path) - d->plen, "%s%s", d->plen ? "." : "",
                     name);
    } else {
        n = snprintf(d->path + d->plen, sizeof(d->path) - d->plen, "[%ld]", idx);
    }
    if (n > 0) {
        d->plen += (size_t)n;
        if (d->plen >= sizeof(d->path)) {
            d->plen = sizeof(d->path) - 1;
        }
    }
    return old;
}

static void path_pop(dec_t *d, size_t old)
{
    d->plen = old;
    d->path[old] = '\0';
}

void td_pbjson_json_name(const char *name, char *out, size_t outlen)
{
    size_t j = 0;
    int up = 0;
    if (outlen == 0) {
        return;
    }
    for (const char *p = name; *p != '\0' && j + 1 < outlen; p++) {
        if (*p == '_') {
            up = 1;
            continue;
        }
        out[j++] = up ? (char)toupper((unsigned char)*p) : *p;
        up = 0;
    }
    out[j] = '\0';
}

/* The field of d whose original or JSON name is key, or NULL. */
static const fdesc_t *find_field(const mdesc_t *d, const char *key)
{
    const fdesc_t *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
    char jn[128];
    if (f != NULL) {
        return f;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        td_pbjson_json_name(d->fields[i].name, jn, sizeof(jn));
        if (strcmp(jn, key) == 0) {
            return &d->fields[i];
        }
    }
    return NULL;
}

static int is_type(const mdesc_t *d, const char *name)
{
    return strcmp(d->name, name) == 0;
}

/* Whether d is the entry type of a map field (a nested message "XxxEntry" of key, value). */
static int is_map_entry(const mdesc_t *d)
{
    size_t n = strlen(d->short_name);
    return d->n_fields == 2 && n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static size_t scalar_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static void *fptr(const msg_t *m, const fdesc_t *f)
{
    return (char *)m + f->offset;
}

static msg_t *new_msg(td_arena_t *a, const mdesc_t *d)
{
    msg_t *m = td_arena_calloc(a, d->sizeof_message);
    d->message_init(m);
    return m;
}

/* ---- base64 (grpc_wire.c's codec; JSON writes the padded form) ---- */

static int b64_decode(td_arena_t *a, const char *s, size_t n, ProtobufCBinaryData *out)
{
    return td_base64_decode(a, s, n, &out->data, &out->len) == TD_OK ? 0 : -1;
}

static json_t *b64_encode(const uint8_t *p, size_t n)
{
    td_arena_t a;
    char *s, *padded;
    size_t len;
    json_t *j;
    td_arena_init(&a, n / 3 * 4 + 64);
    s = td_base64_encode(&a, p, n);
    len = strlen(s);
    padded = td_arena_alloc(&a, len + 4);
    memcpy(padded, s, len);
    while (len % 4 != 0) {
        padded[len++] = '=';
    }
    j = json_stringn(padded, len);
    td_arena_destroy(&a);
    return j;
}

/* ---- Timestamp and Duration text ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    *y = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y += *m <= 2;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Fraction digits after '.' into nanoseconds; advances *p. -1 if none or more than 9. */
static int parse_nanos(const char **p, int32_t *nanos)
{
    const char *s = *p;
    int n = 0;
    int32_t v = 0;
    while (isdigit((unsigned char)s[n])) {
        if (n == 9) {
            return -1;
        }
        v = v * 10 + (s[n] - '0');
        n++;
    }
    if (n == 0) {
        return -1;
    }
    for (int i = n; i < 9; i++) {
        v *= 10;
    }
    *nanos = v;
    *p = s + n;
    return 0;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). 0 or -1. */
static int parse_rfc3339(const char *s, int64_t *secs, int32_t *nanos)
{
    int Y, M, D, h, mi, se, oh = 0, om = 0, sign = 0;
    const char *p;
    *nanos = 0;
    if (strlen(s) < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se)) {
        return -1;
    }
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || se > 60) {
        return -1;
    }
    p = s + 19;
    if (*p == '.') {
        p++;
        if (parse_nanos(&p, nanos) != 0) {
            return -1;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59) {
            return -1;
        }
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0') {
        return -1;
    }
    *secs = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 + se -
            sign * (oh * 3600 + om * 60);
    return 0;
}

/* Fraction text with 0, 3, 6 or 9 digits, as protojson writes it. */
static void frac_text(int32_t nanos, char *out, size_t n)
{
    if (nanos == 0) {
        out[0] = '\0';
    } else if (nanos % 1000000 == 0) {
        snprintf(out, n, ".%03d", nanos / 1000000);
    } else if (nanos % 1000 == 0) {
        snprintf(out, n, ".%06d", nanos / 1000);
    } else {
        snprintf(out, n, ".%09d", nanos);
    }
}

static json_t *timestamp_json(int64_t secs, int32_t nanos)
{
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400, y;
    unsigned m, d;
    char frac[16], buf[64];
    civil_from_days(days, &y, &m, &d);
    frac_text(nanos, frac, sizeof(frac));
    snprintf(buf, sizeof(buf), "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d%sZ", y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
    return json_string(buf);
}

/* "-1.5s" etc. 0 or -1. */
static int parse_duration(const char *s, int64_t *secs, int32_t *nanos)
{
    const char *p = s;
    int neg = 0;
    char *end;
    long long v;
    *nanos = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return -1;
    }
    errno = 0;
    v = strtoll(p, &end, 10);
    if (errno != 0 || v > 315576000000LL) {
        return -1;
    }
    p = end;
    if (*p == '.') {
        p++;
        if (parse_nanos(&p, nanos) != 0) {
            return -1;
        }
    }
    if (p[0] != 's' || p[1] != '\0') {
        return -1;
    }
    *secs = neg ? -v : v;
    if (neg) {
        *nanos = -*nanos;
    }
    return 0;
}

static json_t *duration_json(int64_t secs, int32_t nanos)
{
    char frac[16], buf[64];
    int neg = secs < 0 || nanos < 0;
    frac_text(nanos < 0 ? -nanos : nanos, frac, sizeof(frac));
    snprintf(buf, sizeof(buf), "%s%" PRId64 "%ss", neg ? "-" : "", secs < 0 ? -secs : secs, frac);
    return json_string(buf);
}

/* ---- scalars ---- */

/* A JSON number or numeric string as an integer within [lo, hi] (signed) . */
static int dec_int(dec_t *d, const json_t *j, int64_t lo, int64_t hi, int64_t *out)
{
    if (json_is_integer(j)) {
        *out = json_integer_value(j);
    } else if (json_is_real(j)) {
        double v = json_real_value(j);
        if (v != floor(v) || v < -9.2e18 || v > 9.2e18) {
            return dec_fail(d, "expected an integer");
        }
        *out = (int64_t)v;
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end;
        errno = 0;
        *out = strtoll(s, &end, 10);
        if (s[0] == '\0' || *end != '\0' || errno != 0 || isspace((unsigned char)s[0])) {
            return dec_fail(d, "expected an integer, got \"%.40s\"", s);
        }
    } else {
        return dec_fail(d, "expected an integer");
    }
    if (*out < lo || *out > hi) {
        return dec_fail(d, "integer out of range");
    }
    return TD_OK;
}

static int dec_uint(dec_t *d, const json_t *j, uint64_t hi, uint64_t *out)
{
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end;
        errno = 0;
        if (!isdigit((unsigned char)s[0])) {
            return dec_fail(d, "expected an unsigned integer, got \"%.40s\"", s);
        }
        *out = strtoull(s, &end, 10);
        if (*end != '\0' || errno != 0) {
            return dec_fail(d, "expected an unsigned integer, got \"%.40s\"", s);
        }
    } else {
        int64_t v;
        int rc = dec_int(d, j, 0, INT64_MAX, &v);
        if (rc != TD_OK) {
            return rc;
        }
        *out = (uint64_t)v;
    }
    if (*out > hi) {
        return dec_fail(d, "integer out of range");
    }
    return TD_OK;
}

static int dec_double(dec_t *d, const json_t *j, double *out)
{
    if (json_is_number(j)) {
        *out = json_number_value(j);
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end;
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
        } else if (strcmp(s, "Infinity") == 0) {
            *out = INFINITY;
        } else if (strcmp(s, "-Infinity") == 0) {
            *out = -INFINITY;
        } else {
            *out = strtod(s, &end);
            if (s[0] == '\0' || *end != '\0' || isspace((unsigned char)s[0]) || !isfinite(*out)) {
                return dec_fail(d, "expected a number, got \"%.40s\"", s);
            }
        }
    } else {
        return dec_fail(d, "expected a number");
    }
    return TD_OK;
}

/* Enum value by full name, by Temporal's short form (the part after the type prefix, any
 * case, underscores optional), or by number. */
static int dec_enum(dec_t *d, const ProtobufCEnumDescriptor *ed, const json_t *j, int32_t *out)
{
    const char *s;
    const ProtobufCEnumValue *v;
    if (json_is_integer(j)) {
        json_int_t n = json_integer_value(j);
        if (n < INT32_MIN || n > INT32_MAX) {
            return dec_fail(d, "enum number out of range");
        }
        *out = (int32_t)n;
        return TD_OK;
    }
    if (!json_is_string(j)) {
        return dec_fail(d, "expected an enum name of %s", ed->name);
    }
    s = json_string_value(j);
    v = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
    if (v != NULL) {
        *out = v->value;
        return TD_OK;
    }
    /* Short form: compare the suffix after the longest common "PREFIX_" of the names. */
    for (unsigned i = 0; i < ed->n_values; i++) {
        const char *name = ed->values[i].name;
        const char *suffix = NULL;
        const char *a, *b;
        /* the prefix is the type's upper-snake name: everything up to the part that
         * differs between values; use the first value's prefix up to "_UNSPECIFIED" */
        const char *first = ed->values[0].name;
        const char *us = strstr(first, "_UNSPECIFIED");
        size_t plen = us != NULL ? (size_t)(us - first) + 1 : 0;
        if (plen == 0 || strncmp(name, first, plen) != 0) {
            continue;
        }
        suffix = name + plen;
        for (a = suffix, b = s; *a != '\0' && *b != '\0';) {
            if (*a == '_') {
                a++;
                continue;
            }
            if (*b == '_') {
                b++;
                continue;
            }
            if (toupper((unsigned char)*a) != toupper((unsigned char)*b)) {
                break;
            }
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            *out = ed->values[i].value;
            return TD_OK;
        }
    }
    return dec_fail(d, "unknown value \"%.60s\" of enum %s", s, ed->name);
}

static int dec_message(dec_t *d, const json_t *j, msg_t *m);

/* Decodes one value of field f's type into dst (a slot of scalar_size(f->type)). */
static int dec_value(dec_t *d, const fdesc_t *f, const json_t *j, void *dst)
{
    int64_t iv;
    uint64_t uv;
    double dv;
    int rc = TD_OK;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = dec_int(d, j, INT32_MIN, INT32_MAX, &iv)) == TD_OK) {
            *(int32_t *)dst = (int32_t)iv;
        }
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = dec_int(d, j, INT64_MIN, INT64_MAX, &iv)) == TD_OK) {
            *(int64_t *)dst = iv;
        }
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = dec_uint(d, j, UINT32_MAX, &uv)) == TD_OK) {
            *(uint32_t *)dst = (uint32_t)uv;
        }
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rc = dec_uint(d, j, UINT64_MAX, &uv)) == TD_OK) {
            *(uint64_t *)dst = uv;
        }
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((rc = dec_double(d, j, &dv)) == TD_OK) {
            *(float *)dst = (float)dv;
        }
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((rc = dec_double(d, j, &dv)) == TD_OK) {
            *(double *)dst = dv;
        }
        break;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(j)) {
            return dec_fail(d, "expected true or false");
        }
        *(protobuf_c_boolean *)dst = json_is_true(j);
        break;
    case PROTOBUF_C_TYPE_ENUM:
        rc = dec_enum(d, f->descriptor, j, (int32_t *)dst);
        break;
    case PROTOBUF_C_TYPE_STRING:
        if (!json_is_string(j)) {
            return dec_fail(d, "expected a string");
        }
        *(char **)dst = td_arena_strndup(d->a, json_string_value(j), json_string_length(j));
        break;
    case PROTOBUF_C_TYPE_BYTES:
        if (!json_is_string(j) ||
            b64_decode(d->a, json_string_value(j), json_string_length(j), dst) != 0) {
            return dec_fail(d, "expected base64 bytes");
        }
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        msg_t *sub = *(msg_t **)dst;
        if (sub == NULL) {
            sub = new_msg(d->a, f->descriptor);
        }
        rc = dec_message(d, j, sub);
        *(msg_t **)dst = sub;
        break;
    }
    }
    return rc;
}

/* A map field: a JSON object of key -> value into repeated entry messages. */
static int dec_map(dec_t *d, const fdesc_t *f, const json_t *j, msg_t *m)
{
    const mdesc_t *ed = f->descriptor;
    const fdesc_t *kf = &ed->fields[0], *vf = &ed->fields[1];
    size_t n = json_object_size(j), i = 0;
    msg_t **arr = td_arena_calloc(d->a, (n + 1) * sizeof(msg_t *));
    const char *key;
    json_t *val;
    int rc = TD_OK;

    if (!json_is_object(j)) {
        return dec_fail(d, "expected an object (map)");
    }
    json_object_foreach((json_t *)j, key, val)
    {
        msg_t *e = new_msg(d->a, ed);
        size_t old = path_push(d, key, 0);
        json_t *kj = NULL;
        if (kf->type == PROTOBUF_C_TYPE_STRING) {
            *(char **)fptr(e, kf) = td_arena_strdup(d->a, key);
        } else {
            kj = kf->type == PROTOBUF_C_TYPE_BOOL ? (strcmp(key, "true") == 0    ? json_true()
                                                     : strcmp(key, "false") == 0 ? json_false()
                                                                                 : json_string(key))
                                                  : json_string(key);
            rc = dec_value(d, kf, kj, fptr(e, kf));
            json_decref(kj);
        }
        if (rc == TD_OK && !json_is_null(val)) {
            rc = dec_value(d, vf, val, fptr(e, vf));
        }
        path_pop(d, old);
        if (rc != TD_OK) {
            return rc;
        }
        arr[i++] = e;
    }
    *(size_t *)((char *)m + f->quantifier_offset) = i;
    *(msg_t ***)fptr(m, f) = arr;
    return rc;
}

static int dec_field(dec_t *d, msg_t *m, const fdesc_t *f, const json_t *j)
{
    size_t sz = scalar_size(f->type);
    int rc = TD_OK;

    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n, *np = (size_t *)((char *)m + f->quantifier_offset);
        uint8_t *arr;
        if (json_is_null(j)) {
            return TD_OK;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor)) {
            return dec_map(d, f, j, m);
        }
        if (!json_is_array(j)) {
            return dec_fail(d, "expected an array");
        }
        n = json_array_size(j);
        arr = td_arena_calloc(d->a, (n + 1) * sz);
        for (size_t i = 0; i < n && rc == TD_OK; i++) {
            size_t old = path_push(d, NULL, (long)i);
            if (json_is_null(json_array_get(j, i)) && f->type != PROTOBUF_C_TYPE_MESSAGE) {
                rc = dec_fail(d, "null in a repeated field");
            } else {
                rc = dec_value(d, f, json_array_get(j, i), arr + i * sz);
                if (rc == TD_OK && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                    *(msg_t **)(arr + i * sz) == NULL) {
                    *(msg_t **)(arr + i * sz) = new_msg(d->a, f->descriptor);
                }
            }
            path_pop(d, old);
        }
        if (rc == TD_OK) {
            *np = n;
            *(void **)fptr(m, f) = arr;
        }
        return rc;
    }
    if (json_is_null(j) &&
        !(f->type == PROTOBUF_C_TYPE_MESSAGE && is_type(f->descriptor, "google.protobuf.Value"))) {
        return TD_OK; /* null = default value */
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *cs = (uint32_t *)((char *)m + f->quantifier_offset);
        if (*cs != f->id) {
            memset(fptr(m, f), 0, sz);
        }
        rc = dec_value(d, f, j, fptr(m, f));
        if (rc == TD_OK) {
            *cs = f->id;
        }
        return rc;
    }
    rc = dec_value(d, f, j, fptr(m, f));
    if (rc == TD_OK && f->label == PROTOBUF_C_LABEL_OPTIONAL &&
        f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
        *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
    }
    return rc;
}

/* google.protobuf.Value from any JSON value. */
static int dec_struct_value(dec_t *d, const json_t *j, msg_t *m);

static int dec_struct(dec_t *d, const json_t *j, msg_t *m)
{
    const fdesc_t *f = find_field(m->descriptor, "fields");
    const mdesc_t *ed = f->descriptor;
    size_t n = json_object_size(j), i = 0;
    msg_t **arr;
    const char *key;
    json_t *val;
    if (!json_is_object(j)) {
        return dec_fail(d, "expected an object");
    }
    arr = td_arena_calloc(d->a, (n + 1) * sizeof(msg_t *));
    json_object_foreach((json_t *)j, key, val)
    {
        msg_t *e = new_msg(d->a, ed);
        msg_t *v = new_msg(d->a, ed->fields[1].descriptor);
        size_t old = path_push(d, key, 0);
        int rc = dec_struct_value(d, val, v);
        path_pop(d, old);
        if (rc != TD_OK) {
            return rc;
        }
        *(char **)fptr(e, &ed->fields[0]) = td_arena_strdup(d->a, key);
        *(msg_t **)fptr(e, &ed->fields[1]) = v;
        arr[i++] = e;
    }
    *(size_t *)((char *)m + f->quantifier_offset) = i;
    *(msg_t ***)fptr(m, f) = arr;
    return TD_OK;
}

static int dec_list(dec_t *d, const json_t *j, msg_t *m)
{
    const fdesc_t *f = find_field(m->descriptor, "values");
    size_t n;
    msg_t **arr;
    if (!json_is_array(j)) {
        return dec_fail(d, "expected an array");
    }
    n = json_array_size(j);
    arr = td_arena_calloc(d->a, (n + 1) * sizeof(msg_t *));
    for (size_t i = 0; i < n; i++) {
        size_t old = path_push(d, NULL, (long)i);
        int rc;
        arr[i] = new_msg(d->a, f->descriptor);
        rc = dec_struct_value(d, json_array_get(j, i), arr[i]);
        path_pop(d, old);
        if (rc != TD_OK) {
            return rc;
        }
    }
    *(size_t *)((char *)m + f->quantifier_offset) = n;
    *(msg_t ***)fptr(m, f) = arr;
    return TD_OK;
}

static int dec_struct_value(dec_t *d, const json_t *j, msg_t *m)
{
    const mdesc_t *md = m->descriptor;
    const char *name;
    const fdesc_t *f;
    uint32_t *cs;
    int rc = TD_OK;

    if (++d->depth > TD_PBJSON_MAX_DEPTH) {
        return dec_fail(d, "nested too deeply");
    }
    switch (json_typeof(j)) {
    case JSON_NULL:
        name = "null_value";
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        name = "number_value";
        break;
    case JSON_STRING:
        name = "string_value";
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        name = "bool_value";
        break;
    case JSON_OBJECT:
        name = "struct_value";
        break;
    default:
        name = "list_value";
        break;
    }
    f = find_field(md, name);
    cs = (uint32_t *)((char *)m + f->quantifier_offset);
    *cs = f->id;
    if (json_is_null(j)) {
        *(int32_t *)fptr(m, f) = 0;
    } else if (json_is_number(j)) {
        *(double *)fptr(m, f) = json_number_value(j);
    } else if (json_is_string(j)) {
        *(char **)fptr(m, f) = td_arena_strndup(d->a, json_string_value(j), json_string_length(j));
    } else if (json_is_boolean(j)) {
        *(protobuf_c_boolean *)fptr(m, f) = json_is_true(j);
    } else {
        msg_t *sub = new_msg(d->a, f->descriptor);
        rc = json_is_object(j) ? dec_struct(d, j, sub) : dec_list(d, j, sub);
        *(msg_t **)fptr(m, f) = sub;
    }
    d->depth--;
    return rc;
}

static const mdesc_t *any_type(const td_pbjson_opts_t *o, const char *url)
{
    const char *slash = strrchr(url, '/');
    const char *name = slash != NULL ? slash + 1 : url;
    for (int i = 0; o != NULL && i < o->n_any_types; i++) {
        if (strcmp(o->any_types[i]->name, name) == 0) {
            return o->any_types[i];
        }
    }
    return NULL;
}

static int is_wkt_special(const mdesc_t *d);

static int dec_any(dec_t *d, const json_t *j, msg_t *m)
{
    const json_t *t = json_object_get(j, "@type");
    const mdesc_t *td;
    msg_t *inner;
    json_t *copy;
    size_t len;
    uint8_t *buf;
    int rc;
    if (!json_is_object(j) || !json_is_string(t)) {
        return dec_fail(d, "expected an object with \"@type\"");
    }
    td = any_type(d->o, json_string_value(t));
    if (td == NULL) {
        return dec_fail(d, "unknown Any type \"%.80s\"", json_string_value(t));
    }
    inner = new_msg(d->a, td);
    if (is_wkt_special(td)) {
        const json_t *v = json_object_get(j, "value");
        if (v == NULL || json_object_size(j) != 2) {
            return dec_fail(d, "expected \"@type\" and \"value\"");
        }
        rc = dec_message(d, v, inner);
    } else {
        copy = json_copy((json_t *)j);
        json_object_del(copy, "@type");
        rc = dec_message(d, copy, inner);
        json_decref(copy);
    }
    if (rc != TD_OK) {
        return rc;
    }
    len = protobuf_c_message_get_packed_size(inner);
    buf = td_arena_alloc(d->a, len + 1);
    protobuf_c_message_pack(inner, buf);
    *(char **)fptr(m, find_field(m->descriptor, "type_url")) =
            td_arena_strdup(d->a, json_string_value(t));
    ((ProtobufCBinaryData *)fptr(m, find_field(m->descriptor, "value")))->data = buf;
    ((ProtobufCBinaryData *)fptr(m, find_field(m->descriptor, "value")))->len = len;
    return TD_OK;
}

static const char *const wrappers[] = {
    "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue",
};

static int is_wrapper(const mdesc_t *d)
{
    for (size_t i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++) {
        if (is_type(d, wrappers[i])) {
            return 1;
        }
    }
    return 0;
}

/* Types whose JSON is not an object of their fields. */
static int is_wkt_special(const mdesc_t *d)
{
    return is_type(d, "google.protobuf.Timestamp") || is_type(d, "google.protobuf.Duration") ||
           is_type(d, "google.protobuf.FieldMask") || is_type(d, "google.protobuf.Struct") ||
           is_type(d, "google.protobuf.Value") || is_type(d, "google.protobuf.ListValue") ||
           is_wrapper(d);
}

/* "fooBar.baz" -> "foo_bar.baz" */
static char *snake_case(td_arena_t *a, const char *s, size_t n)
{
    char *out = td_arena_alloc(a, n * 2 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (isupper((unsigned char)s[i])) {
            out[o++] = '_';
            out[o++] = (char)tolower((unsigned char)s[i]);
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static int dec_field_mask(dec_t *d, const json_t *j, msg_t *m)
{
    const fdesc_t *f = find_field(m->descriptor, "paths");
    const char *s, *p;
    size_t n = 0, i = 0;
    char **arr;
    if (!json_is_string(j)) {
        return dec_fail(d, "expected a string (field mask)");
    }
    s = json_string_value(j);
    if (*s != '\0') {
        n = 1;
        for (p = s; *p != '\0'; p++) {
            n += *p == ',';
        }
    }
    arr = td_arena_calloc(d->a, (n + 1) * sizeof(char *));
    for (p = s; n > 0 && i < n; i++) {
        size_t len = strcspn(p, ",");
        arr[i] = snake_case(d->a, p, len);
        p += len + (p[len] == ',');
    }
    *(size_t *)((char *)m + f->quantifier_offset) = n;
    *(char ***)fptr(m, f) = arr;
    return TD_OK;
}

static const td_pbjson_hook_t *find_hook(const td_pbjson_opts_t *o, const mdesc_t *d)
{
    for (int i = 0; o != NULL && i < o->n_hooks; i++) {
        if (strcmp(o->hooks[i].type_name, d->name) == 0) {
            return &o->hooks[i];
        }
    }
    return NULL;
}

static int dec_message(dec_t *d, const json_t *j, msg_t *m)
{
    const mdesc_t *md = m->descriptor;
    const td_pbjson_hook_t *h = find_hook(d->o, md);
    const char *key;
    json_t *val;
    int rc = TD_OK;

    if (d->depth >= TD_PBJSON_MAX_DEPTH) {
        return dec_fail(d, "nested too deeply");
    }
    if (h != NULL && h->decode != NULL) {
        char herr[256] = "";
        rc = h->decode(j, m, d->a, d->o, herr, sizeof(herr));
        if (rc < 0) {
            return dec_fail(d, "%s", herr);
        }
        if (rc == 1) {
            return TD_OK;
        }
        rc = TD_OK;
    }
    if (is_type(md, "google.protobuf.Timestamp") || is_type(md, "google.protobuf.Duration")) {
        int64_t secs;
        int32_t nanos;
        int ts = is_type(md, "google.protobuf.Timestamp");
        if (!json_is_string(j) || (ts ? parse_rfc3339(json_string_value(j), &secs, &nanos)
                                      : parse_duration(json_string_value(j), &secs, &nanos)) != 0) {
            return dec_fail(d, ts ? "expected an RFC 3339 timestamp"
                                  : "expected a duration such as \"1.5s\"");
        }
        *(int64_t *)fptr(m, find_field(md, "seconds")) = secs;
        *(int32_t *)fptr(m, find_field(md, "nanos")) = nanos;
        return TD_OK;
    }
    if (is_wrapper(md)) {
        return dec_field(d, m, find_field(md, "value"), j);
    }
    if (is_type(md, "google.protobuf.FieldMask")) {
        return dec_field_mask(d, j, m);
    }
    if (is_type(md, "google.protobuf.Struct")) {
        return dec_struct(d, j, m);
    }
    if (is_type(md, "google.protobuf.Value")) {
        return dec_struct_value(d, j, m);
    }
    if (is_type(md, "google.protobuf.ListValue")) {
        return dec_list(d, j, m);
    }
    if (is_type(md, "google.protobuf.Any")) {
        return dec_any(d, j, m);
    }
    if (!json_is_object(j)) {
        return dec_fail(d, "expected an object (%s)", md->name);
    }
    d->depth++;
    json_object_foreach((json_t *)j, key, val)
    {
        const fdesc_t *f = find_field(md, key);
        size_t old = path_push(d, key, 0);
        if (f == NULL) {
            rc = dec_fail(d, "unknown field");
        } else {
            rc = dec_field(d, m, f, val);
        }
        path_pop(d, old);
        if (rc != TD_OK) {
            break;
        }
    }
    d->depth--;
    return rc;
}

int td_pbjson_decode_into(const json_t *j, ProtobufCMessage *m, td_arena_t *a,
                          const td_pbjson_opts_t *o, char *err, size_t errlen)
{
    dec_t d;
    memset(&d, 0, sizeof(d));
    d.a = a;
    d.o = o;
    d.err = err;
    d.errlen = errlen;
    return dec_message(&d, j, m);
}

int td_pbjson_decode_text(const ProtobufCMessageDescriptor *d, const char *text, size_t n,
                          td_arena_t *a, const td_pbjson_opts_t *o, ProtobufCMessage **out,
                          char *err, size_t errlen)
{
    json_error_t je;
    json_t *j;
    msg_t *m = new_msg(a, d);
    size_t i = 0;
    int rc;

    *out = m;
    while (i < n && isspace((unsigned char)text[i])) {
        i++;
    }
    if (i == n) {
        return TD_OK;
    }
    j = json_loadb(text, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (j == NULL) {
        snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
        return TD_EINVAL;
    }
    rc = td_pbjson_decode_into(j, m, a, o, err, errlen);
    json_decref(j);
    return rc;
}

int td_pbjson_set_text(ProtobufCMessage *m, const char *path, const char *value, td_arena_t *a,
                       char *err, size_t errlen)
{
    dec_t d;
    const char *p = path;
    msg_t *cur = m;
    json_t *j = NULL;
    int rc = TD_OK;

    memset(&d, 0, sizeof(d));
    d.a = a;
    d.err = err;
    d.errlen = errlen;
    for (;;) {
        size_t len = strcspn(p, ".");
        char name[128];
        const fdesc_t *f;
        snprintf(name, sizeof(name), "%.*s", (int)len, p);
        path_push(&d, name, 0);
        f = len < sizeof(name) ? find_field(cur->descriptor, name) : NULL;
        if (f == NULL) {
            return dec_fail(&d, "unknown field");
        }
        if (p[len] == '.') {
            msg_t **sub;
            if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED ||
                is_wkt_special(f->descriptor)) {
                return dec_fail(&d, "not a message field");
            }
            sub = fptr(cur, f);
            if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(uint32_t *)((char *)cur + f->quantifier_offset) != f->id) {
                *sub = NULL;
            }
            if (*sub == NULL) {
                *sub = new_msg(a, f->descriptor);
            }
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                *(uint32_t *)((char *)cur + f->quantifier_offset) = f->id;
            }
            cur = *sub;
            p += len + 1;
            continue;
        }
        /* the value's JSON form: strings stay strings; the rest are read as JSON when
         * they parse as such ("12", "true"), else kept as strings (enum names). */
        if (f->type == PROTOBUF_C_TYPE_BOOL &&
            (!strcmp(value, "true") || !strcmp(value, "false"))) {
            j = strcmp(value, "true") == 0 ? json_true() : json_false();
        } else {
            j = json_string(value);
        }
        if (j == NULL) {
            return dec_fail(&d, "not UTF-8");
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t *np = (size_t *)((char *)cur + f->quantifier_offset);
            size_t sz = scalar_size(f->type);
            uint8_t *arr = td_arena_calloc(a, (*np + 2) * sz);
            if (*np > 0) {
                memcpy(arr, *(void **)fptr(cur, f), *np * sz);
            }
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                *(msg_t **)(arr + *np * sz) = new_msg(a, f->descriptor);
            }
            rc = dec_value(&d, f, j, arr + *np * sz);
            if (rc == TD_OK) {
                *(void **)fptr(cur, f) = arr;
                (*np)++;
            }
        } else {
            rc = dec_field(&d, cur, f, j);
        }
        json_decref(j);
        return rc;
    }
}

/* ---- encoder ---- */

static json_t *enc_message(const msg_t *m, const td_pbjson_opts_t *o);

static json_t *enc_i64(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return json_string(buf);
}

static json_t *enc_u64(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

static json_t *enc_double(double v)
{
    if (isnan(v)) {
        return json_string("NaN");
    }
    if (isinf(v)) {
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        return json_integer((json_int_t)v);
    }
    return json_real(v);
}

static json_t *enc_value(const fdesc_t *f, const void *p, const td_pbjson_opts_t *o)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return enc_i64(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return enc_u64(*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return enc_double(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return enc_double(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int32_t *)p);
        return ev != NULL ? json_string(ev->name) : json_integer(*(const int32_t *)p);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        json_t *j = json_string(s != NULL ? s : "");
        /* not UTF-8: keep the bytes visible rather than dropping the field */
        return j != NULL ? j : json_string("(invalid UTF-8)");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return b64_encode(b->data, b->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const msg_t *sub = *(msg_t *const *)p;
        return sub != NULL ? enc_message(sub, o) : json_null();
    }
    }
    return json_null();
}

/* Whether a singular field without presence holds its default. */
static int is_default(const fdesc_t *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s == NULL || *s == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(msg_t *const *)p == NULL;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    default: {
        static const uint8_t zero[8];
        return memcmp(p, zero, scalar_size(f->type)) == 0;
    }
    }
}

static json_t *enc_map(const fdesc_t *f, const msg_t *m, const td_pbjson_opts_t *o)
{
    const mdesc_t *ed = f->descriptor;
    size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
    msg_t *const *arr = *(msg_t *const *const *)fptr(m, f);
    json_t *obj = json_object();
    for (size_t i = 0; i < n; i++) {
        const msg_t *e = arr[i];
        const fdesc_t *kf = &ed->fields[0], *vf = &ed->fields[1];
        json_t *k = enc_value(kf, fptr(e, kf), o);
        char kbuf[64];
        const char *ks;
        if (json_is_string(k)) {
            ks = json_string_value(k);
        } else if (json_is_integer(k)) {
            snprintf(kbuf, sizeof(kbuf), "%" JSON_INTEGER_FORMAT, json_integer_value(k));
            ks = kbuf;
        } else {
            ks = json_is_true(k) ? "true" : "false";
        }
        json_object_set_new(obj, ks, enc_value(vf, fptr(e, vf), o));
        json_decref(k);
    }
    return obj;
}

static json_t *enc_struct_value(const msg_t *m, const td_pbjson_opts_t *o);

static json_t *enc_struct(const msg_t *m, const td_pbjson_opts_t *o)
{
    const fdesc_t *f = find_field(m->descriptor, "fields");
    const mdesc_t *ed = f->descriptor;
    size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
    msg_t *const *arr = *(msg_t *const *const *)fptr(m, f);
    json_t *obj = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *k = *(char *const *)fptr(arr[i], &ed->fields[0]);
        const msg_t *v = *(msg_t *const *)fptr(arr[i], &ed->fields[1]);
        json_object_set_new(obj, k != NULL ? k : "",
                            v != NULL ? enc_struct_value(v, o) : json_null());
    }
    return obj;
}

static json_t *enc_list(const msg_t *m, const td_pbjson_opts_t *o)
{
    const fdesc_t *f = find_field(m->descriptor, "values");
    size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
    msg_t *const *arr = *(msg_t *const *const *)fptr(m, f);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, enc_struct_value(arr[i], o));
    }
    return a;
}

static json_t *enc_struct_value(const msg_t *m, const td_pbjson_opts_t *o)
{
    const mdesc_t *md = m->descriptor;
    for (unsigned i = 0; i < md->n_fields; i++) {
        const fdesc_t *f = &md->fields[i];
        if (*(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id) {
            continue;
        }
        if (strcmp(f->name, "null_value") == 0) {
            return json_null();
        }
        if (strcmp(f->name, "struct_value") == 0) {
            const msg_t *s = *(msg_t *const *)fptr(m, f);
            return s != NULL ? enc_struct(s, o) : json_object();
        }
        if (strcmp(f->name, "list_value") == 0) {
            const msg_t *s = *(msg_t *const *)fptr(m, f);
            return s != NULL ? enc_list(s, o) : json_array();
        }
        return enc_value(f, fptr(m, f), o);
    }
    return json_null();
}

static json_t *enc_any(const msg_t *m, const td_pbjson_opts_t *o)
{
    const char *url = *(char *const *)fptr(m, find_field(m->descriptor, "type_url"));
    const ProtobufCBinaryData *v = fptr(m, find_field(m->descriptor, "value"));
    const mdesc_t *td = url != NULL ? any_type(o, url) : NULL;
    json_t *obj = NULL;
    msg_t *inner = td != NULL ? protobuf_c_message_unpack(td, NULL, v->len, v->data) : NULL;

    if (inner == NULL) {
        obj = json_object();
        json_object_set_new(obj, "@type", json_string(url != NULL ? url : ""));
        json_object_set_new(obj, "value", b64_encode(v->data, v->len));
        return obj;
    }
    if (is_wkt_special(td)) {
        obj = json_object();
        json_object_set_new(obj, "@type", json_string(url));
        json_object_set_new(obj, "value", enc_message(inner, o));
    } else {
        json_t *fields = enc_message(inner, o);
        obj = json_object();
        json_object_set_new(obj, "@type", json_string(url));
        json_object_update(obj, fields);
        json_decref(fields);
    }
    protobuf_c_message_free_unpacked(inner, NULL);
    return obj;
}

static json_t *enc_message(const msg_t *m, const td_pbjson_opts_t *o)
{
    const mdesc_t *md = m->descriptor;
    const td_pbjson_hook_t *h = find_hook(o, md);
    json_t *obj;

    if (h != NULL && h->encode != NULL) {
        json_t *j = h->encode(m, o);
        if (j != NULL) {
            return j;
        }
    }
    if (is_type(md, "google.protobuf.Timestamp")) {
        return timestamp_json(*(const int64_t *)fptr(m, find_field(md, "seconds")),
                              *(const int32_t *)fptr(m, find_field(md, "nanos")));
    }
    if (is_type(md, "google.protobuf.Duration")) {
        return duration_json(*(const int64_t *)fptr(m, find_field(md, "seconds")),
                             *(const int32_t *)fptr(m, find_field(md, "nanos")));
    }
    if (is_wrapper(md)) {
        const fdesc_t *f = find_field(md, "value");
        return enc_value(f, fptr(m, f), o);
    }
    if (is_type(md, "google.protobuf.FieldMask")) {
        const fdesc_t *f = find_field(md, "paths");
        size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
        char *const *paths = *(char *const *const *)fptr(m, f);
        size_t len = 1;
        char *buf, *w;
        json_t *j;
        for (size_t i = 0; i < n; i++) {
            len += strlen(paths[i]) + 1;
        }
        buf = malloc(len);
        w = buf;
        *w = '\0';
        for (size_t i = 0; i < n; i++) {
            if (i > 0) {
                *w++ = ',';
            }
            td_pbjson_json_name(paths[i], w, len - (size_t)(w - buf));
            w += strlen(w);
        }
        j = json_string(buf);
        free(buf);
        return j;
    }
    if (is_type(md, "google.protobuf.Struct")) {
        return enc_struct(m, o);
    }
    if (is_type(md, "google.protobuf.Value")) {
        return enc_struct_value(m, o);
    }
    if (is_type(md, "google.protobuf.ListValue")) {
        return enc_list(m, o);
    }
    if (is_type(md, "google.protobuf.Any")) {
        return enc_any(m, o);
    }
    obj = json_object();
    for (unsigned i = 0; i < md->n_fields; i++) {
        const fdesc_t *f = &md->fields[i];
        const void *p = fptr(m, f);
        char jn[128];
        json_t *v = NULL;
        td_pbjson_json_name(f->name, jn, sizeof(jn));
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            size_t sz = scalar_size(f->type);
            const uint8_t *arr = *(const uint8_t *const *)p;
            if (n == 0) {
                continue;
            }
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor)) {
                v = enc_map(f, m, o);
            } else {
                v = json_array();
                for (size_t k = 0; k < n; k++) {
                    json_array_append_new(v, enc_value(f, arr + k * sz, o));
                }
            }
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id) {
                continue;
            }
            v = enc_value(f, p, o);
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   f->type != PROTOBUF_C_TYPE_STRING) {
            if (!*(const protobuf_c_boolean *)((const char *)m + f->quantifier_offset)) {
                continue;
            }
            v = enc_value(f, p, o);
        } else {
            if (is_default(f, p)) {
                continue;
            }
            v = enc_value(f, p, o);
        }
        json_object_set_new(obj, jn, v != NULL ? v : json_null());
    }
    return obj;
}

json_t *td_pbjson_encode(const ProtobufCMessage *m, const td_pbjson_opts_t *o)
{
    return enc_message(m, o);
}
