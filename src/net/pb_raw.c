/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Messages with pre-packed fields (see pb_raw.h). protobuf-c writes an unknown field as its
 * key (tag << 3 | wire type) followed by the field's bytes exactly as stored, so a stored
 * field is "everything after the key": the length prefix and payload of a length-delimited
 * field, the varint, or the 4 or 8 fixed bytes.
 */
#include "net/pb_raw.h"

#include <string.h>

/* Reads a varint at p (n bytes left): its length in bytes, or 0 when malformed. */
static size_t td_pb_raw_varint(const uint8_t *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n && i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

static size_t td_pb_raw_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static ProtobufCMessageUnknownField *td_pb_raw_grow(td_arena_t *a, ProtobufCMessage *m)
{
    ProtobufCMessageUnknownField *v =
            td_arena_alloc(a, sizeof(*v) * (size_t)(m->n_unknown_fields + 1));

    if (m->n_unknown_fields > 0) {
        memcpy(v, m->unknown_fields, sizeof(*v) * m->n_unknown_fields);
    }
    m->unknown_fields = v;
    return &v[m->n_unknown_fields++];
}

ProtobufCMessage *td_pb_raw_wrap(td_arena_t *a, const ProtobufCMessageDescriptor *d,
                                 const uint8_t *buf, size_t len)
{
    ProtobufCMessage *m = td_arena_calloc(a, d->sizeof_message);
    size_t off = 0, n = 0, cap = 0;
    ProtobufCMessageUnknownField *v = NULL;

    protobuf_c_message_init(d, m);
    while (off < len) {
        uint64_t key = 0, x = 0;
        size_t k = td_pb_raw_varint(buf + off, len - off, &key), body;
        uint32_t tag = (uint32_t)(key >> 3);

        if (k == 0 || tag == 0 || (key >> 3) > 0x1fffffff) {
            return NULL;
        }
        switch (key & 7) {
        case PROTOBUF_C_WIRE_TYPE_VARINT:
            body = td_pb_raw_varint(buf + off + k, len - off - k, &x);
            break;
        case PROTOBUF_C_WIRE_TYPE_64BIT:
            body = 8;
            break;
        case PROTOBUF_C_WIRE_TYPE_32BIT:
            body = 4;
            break;
        case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
            body = td_pb_raw_varint(buf + off + k, len - off - k, &x);
            if (body == 0 || x > len - off - k - body) {
                return NULL;
            }
            body += (size_t)x;
            break;
        default:
            return NULL; /* groups are not used by any message we pass through */
        }
        if (body == 0 || body > len - off - k) {
            return NULL;
        }
        if (n == cap) {
            ProtobufCMessageUnknownField *nv;
            cap = cap ? cap * 2 : 16;
            nv = td_arena_alloc(a, sizeof(*nv) * cap);
            if (n > 0) {
                memcpy(nv, v, sizeof(*nv) * n);
            }
            v = nv;
        }
        v[n].tag = tag;
        v[n].wire_type = (ProtobufCWireType)(key & 7);
        v[n].len = body;
        v[n].data = (uint8_t *)(buf + off + k);
        n++;
        off += k + body;
    }
    m->n_unknown_fields = (unsigned)n;
    m->unknown_fields = v;
    return m;
}

void td_pb_raw_add(td_arena_t *a, ProtobufCMessage *m, uint32_t id, const td_pb_slice_t *parts,
                   size_t n_parts)
{
    ProtobufCMessageUnknownField *f;
    size_t total = 0, off;
    uint8_t *buf;

    for (size_t i = 0; i < n_parts; i++) {
        total += parts[i].len;
    }
    buf = td_arena_alloc(a, total + 10);
    off = td_pb_raw_put_varint(buf, total);
    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].len > 0) {
            memcpy(buf + off, parts[i].data, parts[i].len);
            off += parts[i].len;
        }
    }
    f = td_pb_raw_grow(a, m);
    f->tag = id;
    f->wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    f->len = off;
    f->data = buf;
}
