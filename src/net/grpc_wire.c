/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC wire encodings (see grpc_wire.h). Pure functions: every output goes into the caller's
 * arena, every size from the network is checked before memory is used for it. Callable from
 * any thread.
 */
#include "net/grpc_wire.h"

#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "error.h"
#include "mem.h"
#include "google/protobuf/any.pb-c.h"
#include "google/rpc/status.pb-c.h"

int td_grpc_prefix_parse(const uint8_t *p, size_t n, size_t max, int *compressed, uint32_t *len)
{
    if (n < TD_GRPC_PREFIX) {
        return TD_EAGAIN;
    }
    if (p[0] > 1) {
        return TD_EPROTO;
    }
    *compressed = p[0];
    *len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | (uint32_t)p[4];
    return *len > max ? TD_ETOOBIG : TD_OK;
}

void td_grpc_prefix_write(uint8_t out[TD_GRPC_PREFIX], int compressed, uint32_t len)
{
    out[0] = compressed ? 1 : 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

int td_grpc_timeout_parse(const char *s, int64_t *ms)
{
    int64_t v = 0;
    size_t i = 0;
    int64_t num = 1, den = 1; /* ms = ceil(v * num / den) */

    if (s == NULL) {
        return TD_EINVAL;
    }
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (i >= 8) {
            return TD_EINVAL;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0 || s[i] == '\0' || s[i + 1] != '\0') {
        return TD_EINVAL;
    }
    switch (s[i]) {
    case 'H':
        num = 3600000;
        break;
    case 'M':
        num = 60000;
        break;
    case 'S':
        num = 1000;
        break;
    case 'm':
        break;
    case 'u':
        den = 1000;
        break;
    case 'n':
        den = 1000000;
        break;
    default:
        return TD_EINVAL;
    }
    *ms = (v * num + den - 1) / den;
    return TD_OK;
}

void td_grpc_timeout_format(int64_t ms, char *buf, size_t len)
{
    if (ms < 0) {
        ms = 0;
    }
    if (ms < 100000000) {
        snprintf(buf, len, "%lldm", (long long)ms);
    } else if (ms / 1000 < 100000000) {
        snprintf(buf, len, "%lldS", (long long)(ms / 1000));
    } else {
        snprintf(buf, len, "%lldH", (long long)(ms / 3600000 > 99999999 ? 99999999 : ms / 3600000));
    }
}

static const char td_hex[] = "0123456789ABCDEF";

const char *td_grpc_message_clip(td_arena_t *a, const char *s, size_t max)
{
    static const char tail[] = " ... (truncated)";
    size_t n = strlen(s), keep;
    char *out;

    if (n <= max) {
        return s;
    }
    keep = max > sizeof(tail) ? max - sizeof(tail) : 0;
    while (keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80) {
        keep--; /* s[keep] continues a character: cut before its lead byte */
    }
    out = td_arena_alloc(a, keep + sizeof(tail));
    memcpy(out, s, keep);
    memcpy(out + keep, tail, sizeof(tail));
    return out;
}

char *td_grpc_percent_encode(td_arena_t *a, const char *s)
{
    size_t n = strlen(s), j = 0;
    char *out = td_arena_alloc(a, n * 3 + 1);

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c <= 0x7e && c != '%') {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = td_hex[c >> 4];
            out[j++] = td_hex[c & 15];
        }
    }
    out[j] = '\0';
    return out;
}

static int td_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

char *td_grpc_percent_decode(td_arena_t *a, const char *s)
{
    size_t n = strlen(s), j = 0;
    char *out = td_arena_alloc(a, n + 1);

    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = td_hexval(s[i + 1])) >= 0 &&
            (lo = td_hexval(s[i + 2])) >= 0) {
            out[j++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

static const char td_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *td_base64_encode(td_arena_t *a, const uint8_t *p, size_t n)
{
    char *out = td_arena_alloc(a, (n + 2) / 3 * 4 + 1);
    size_t j = 0, i = 0;

    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[j++] = td_b64[v >> 18];
        out[j++] = td_b64[(v >> 12) & 63];
        out[j++] = td_b64[(v >> 6) & 63];
        out[j++] = td_b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[j++] = td_b64[v >> 18];
        out[j++] = td_b64[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[j++] = td_b64[v >> 18];
        out[j++] = td_b64[(v >> 12) & 63];
        out[j++] = td_b64[(v >> 6) & 63];
    }
    out[j] = '\0';
    return out;
}

static int td_b64val(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

int td_base64_decode(td_arena_t *a, const char *s, size_t n, uint8_t **out, size_t *outn)
{
    uint8_t *o;
    uint32_t acc = 0;
    int bits = 0;
    size_t j = 0;

    while (n > 0 && s[n - 1] == '=') {
        n--;
    }
    if (n % 4 == 1) {
        return TD_EINVAL;
    }
    o = td_arena_alloc(a, n * 3 / 4 + 1);
    for (size_t i = 0; i < n; i++) {
        int v = td_b64val(s[i]);
        if (v < 0) {
            return TD_EINVAL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[j++] = (uint8_t)(acc >> bits);
        }
    }
    *out = o;
    *outn = j;
    return TD_OK;
}

td_grpc_enc_t td_grpc_encoding(const char *value)
{
    if (value == NULL || strcmp(value, "identity") == 0) {
        return TD_GRPC_ENC_IDENTITY;
    }
    if (strcmp(value, "gzip") == 0) {
        return TD_GRPC_ENC_GZIP;
    }
    if (strcmp(value, "deflate") == 0) {
        return TD_GRPC_ENC_DEFLATE;
    }
    return TD_GRPC_ENC_UNKNOWN;
}

int td_grpc_inflate(td_arena_t *a, td_grpc_enc_t enc, const uint8_t *in, size_t n, size_t max,
                    uint8_t **out, size_t *outn)
{
    z_stream z;
    uint8_t *buf = NULL;
    size_t cap = n * 4 < 4096 ? 4096 : n * 4;
    int rc = TD_OK, zr;

    if (enc != TD_GRPC_ENC_GZIP && enc != TD_GRPC_ENC_DEFLATE) {
        return TD_EINVAL;
    }
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, enc == TD_GRPC_ENC_GZIP ? 15 + 16 : 15) != Z_OK) {
        return TD_EINTERNAL;
    }
    if (cap > max + 1) {
        cap = max + 1;
    }
    /* Grow by doubling into a plain buffer; copy to the arena once at the end. */
    buf = td_malloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    for (;;) {
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = TD_EPROTO;
            goto out;
        }
        if (z.total_out > max) {
            rc = TD_ETOOBIG;
            goto out;
        }
        if (z.avail_out == 0) {
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            uint8_t *nb;
            if (ncap <= cap) {
                rc = TD_ETOOBIG;
                goto out;
            }
            nb = td_realloc(buf, ncap);
            buf = nb;
            z.next_out = buf + cap;
            z.avail_out = (uInt)(ncap - cap);
            cap = ncap;
        } else if (z.avail_in == 0 || zr == Z_BUF_ERROR) {
            rc = TD_EPROTO; /* truncated */
            goto out;
        }
    }
    if (z.total_out > max) {
        rc = TD_ETOOBIG;
        goto out;
    }
    *outn = z.total_out;
    *out = td_arena_memdup(a, buf, z.total_out);
out:
    inflateEnd(&z);
    td_free(buf);
    return rc;
}

int td_grpc_gzip(td_arena_t *a, const uint8_t *in, size_t n, uint8_t **out, size_t *outn)
{
    z_stream z;
    size_t cap;
    uint8_t *buf;
    int rc = TD_OK;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return TD_EINTERNAL;
    }
    cap = deflateBound(&z, (uLong)n) + 32;
    buf = td_arena_alloc(a, cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        rc = TD_EINTERNAL;
        goto out;
    }
    *out = buf;
    *outn = z.total_out;
out:
    deflateEnd(&z);
    return rc;
}

void td_grpc_status_pack(td_arena_t *a, int code, const char *message,
                         const ProtobufCMessage *detail, uint8_t **out, size_t *outn)
{
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    Google__Protobuf__Any *anys[1] = { &any };
    size_t n;

    st.code = code;
    st.message = (char *)(message != NULL ? message : "");
    if (detail != NULL) {
        size_t dn = protobuf_c_message_get_packed_size(detail);
        any.type_url = td_arena_printf(a, "type.googleapis.com/%s", detail->descriptor->name);
        any.value.data = td_arena_alloc(a, dn);
        any.value.len = protobuf_c_message_pack(detail, any.value.data);
        st.n_details = 1;
        st.details = anys;
    }
    n = google__rpc__status__get_packed_size(&st);
    *out = td_arena_alloc(a, n);
    *outn = google__rpc__status__pack(&st, *out);
}
