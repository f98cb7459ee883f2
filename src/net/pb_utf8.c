/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTF-8 validation of decoded protobuf messages (see pb_utf8.h). The walk follows the
 * descriptors protobuf-c generated: a singular string is a char pointer (NULL or the shared
 * empty string when unset), a repeated one a count at quantifier_offset and an array, a oneof
 * member counts only when the oneof's case names it; messages are walked the same way.
 */
#include "net/pb_utf8.h"

#include <stdint.h>

#define TD_PB_UTF8_MAX_DEPTH 100

int td_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;

    while (p < end) {
        unsigned c = *p;
        size_t k;
        uint32_t cp;

        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0; /* continuation byte first, overlong 2-byte lead, or past U+10FFFF */
        }
        if ((size_t)(end - p) <= k) {
            return 0;
        }
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        p += k + 1;
    }
    return 1;
}

static int td_str_ok(const char *s)
{
    size_t n = 0;

    if (s == NULL) {
        return 1;
    }
    while (s[n] != '\0') {
        n++;
    }
    return td_utf8_valid(s, n);
}

static const ProtobufCMessageDescriptor *td_pb_walk(const ProtobufCMessage *m, int depth,
                                                    const ProtobufCFieldDescriptor **field);

/* Checks one field of m: NULL when valid (sets *field otherwise, as td_pb_walk). */
static const ProtobufCMessageDescriptor *td_pb_field(const ProtobufCMessage *m,
                                                     const ProtobufCFieldDescriptor *f, int depth,
                                                     const ProtobufCFieldDescriptor **field)
{
    const char *base = (const char *)m;
    const ProtobufCMessageDescriptor *bad = NULL;

    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)(base + f->quantifier_offset);
        void *const *v = *(void *const *const *)(base + f->offset);
        for (size_t i = 0; i < n && bad == NULL; i++) {
            if (f->type == PROTOBUF_C_TYPE_STRING && !td_str_ok(v[i])) {
                *field = f;
                bad = m->descriptor;
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE && v[i] != NULL) {
                bad = td_pb_walk(v[i], depth + 1, field);
            }
        }
        return bad;
    }
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)(base + f->quantifier_offset) != f->id) {
        return NULL;
    }
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        if (!td_str_ok(*(const char *const *)(base + f->offset))) {
            *field = f;
            bad = m->descriptor;
        }
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
        if (sub != NULL) {
            bad = td_pb_walk(sub, depth + 1, field);
        }
    }
    return bad;
}

static const ProtobufCMessageDescriptor *td_pb_walk(const ProtobufCMessage *m, int depth,
                                                    const ProtobufCFieldDescriptor **field)
{
    const ProtobufCMessageDescriptor *d = m->descriptor, *bad = NULL;

    if (depth > TD_PB_UTF8_MAX_DEPTH) {
        return NULL;
    }
    for (unsigned i = 0; i < d->n_fields && bad == NULL; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
            bad = td_pb_field(m, f, depth, field);
        }
    }
    return bad;
}

const ProtobufCMessageDescriptor *td_pb_utf8_check(const ProtobufCMessage *m,
                                                   const ProtobufCFieldDescriptor **field)
{
    *field = NULL;
    return m != NULL ? td_pb_walk(m, 0, field) : NULL;
}
