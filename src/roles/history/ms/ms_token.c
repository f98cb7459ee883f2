/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Task token encoding and strict decoding (see ms_token.h). Decoded tokens live in the
 * caller's arena; nothing here keeps state.
 */
#include "ms_token.h"

#include <string.h>

#include "error.h"

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* protobuf-c turns a string field into a C string, so a string with a NUL byte inside would
 * silently lose its tail. Walks the top-level fields of `buf` and reports whether any
 * length-delimited field whose number is in `strings` (a bitmask) holds a NUL, or whether the
 * framing is broken (including field number 0, which protobuf-c lets through as unknown). */
static int has_nul_string(const uint8_t *buf, size_t len, uint32_t strings)
{
    size_t i = 0;

    while (i < len) {
        uint64_t key = 0, n = 0;
        int shift = 0;
        while (i < len && shift < 64) {
            key |= (uint64_t)(buf[i] & 0x7f) << shift;
            shift += 7;
            if ((buf[i++] & 0x80) == 0) {
                break;
            }
        }
        if ((key >> 3) == 0) {
            return 1; /* field number 0 does not exist */
        }
        switch (key & 7) {
        case 0:
            while (i < len && (buf[i] & 0x80)) {
                i++;
            }
            i++;
            break;
        case 1:
            i += 8;
            break;
        case 5:
            i += 4;
            break;
        case 2:
            shift = 0;
            while (i < len && shift < 64) {
                n |= (uint64_t)(buf[i] & 0x7f) << shift;
                shift += 7;
                if ((buf[i++] & 0x80) == 0) {
                    break;
                }
            }
            if (n > len - (i < len ? i : len)) {
                return 1;
            }
            if ((key >> 3) < 32 && (strings & (UINT32_C(1) << (key >> 3))) &&
                memchr(buf + i, 0, n) != NULL) {
                return 1;
            }
            i += n;
            break;
        default:
            return 1;
        }
    }
    return i > len;
}

int td_ms_token_encode(const Temporald__Token__Task *tok, td_arena_t *arena,
                       ProtobufCBinaryData *out)
{
    size_t n = temporald__token__task__get_packed_size(tok);
    out->data = td_arena_alloc(arena, n ? n : 1);
    out->len = temporald__token__task__pack(tok, out->data);
    return TD_OK;
}

int td_ms_token_decode(const uint8_t *buf, size_t len, td_arena_t *arena,
                       Temporald__Token__Task **out)
{
    int rc = TD_EINVAL;
    Temporald__Token__Task *tok = NULL;

    *out = NULL;
    if (buf == NULL || len == 0 || len > TD_MS_TOKEN_MAX) {
        goto out;
    }
    tok = temporald__token__task__unpack(td_arena_pb(arena), len, buf);
    /* string fields: 1 namespace_id, 2 workflow_id, 3 run_id, 6-8 activity_id/types */
    if (tok == NULL ||
        has_nul_string(buf, len,
                       (1u << 1) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 7) | (1u << 8))) {
        tok = NULL;
        goto out;
    }
    if (!nonempty(tok->namespace_id) || !nonempty(tok->workflow_id) || !nonempty(tok->run_id)) {
        goto out;
    }
    /* Tokens are ours: fields we do not know (at any depth) mean a forged or corrupt token,
     * and keeping them would let a token re-encode differently from what was decoded. */
    if (tok->base.n_unknown_fields != 0 ||
        (tok->started_time != NULL && tok->started_time->base.n_unknown_fields != 0)) {
        goto out;
    }
    if (tok->scheduled_event_id < 0 || tok->started_event_id < 0 || tok->attempt < 0) {
        goto out;
    }
    /* An activity token names its activity by scheduled id or by activity id. */
    if (tok->scheduled_event_id == 0 && !nonempty(tok->activity_id)) {
        goto out;
    }
    *out = tok;
    rc = TD_OK;
out:
    return rc;
}

int td_ms_query_token_encode(const Temporald__Token__QueryTask *tok, td_arena_t *arena,
                             ProtobufCBinaryData *out)
{
    size_t n = temporald__token__query_task__get_packed_size(tok);
    out->data = td_arena_alloc(arena, n ? n : 1);
    out->len = temporald__token__query_task__pack(tok, out->data);
    return TD_OK;
}

int td_ms_query_token_decode(const uint8_t *buf, size_t len, td_arena_t *arena,
                             Temporald__Token__QueryTask **out)
{
    int rc = TD_EINVAL;
    Temporald__Token__QueryTask *tok = NULL;

    *out = NULL;
    if (buf == NULL || len == 0 || len > TD_MS_TOKEN_MAX) {
        goto out;
    }
    tok = temporald__token__query_task__unpack(td_arena_pb(arena), len, buf);
    if (tok == NULL || has_nul_string(buf, len, (1u << 1) | (1u << 2) | (1u << 3))) {
        tok = NULL;
        goto out;
    }
    if (!nonempty(tok->namespace_id) || !nonempty(tok->task_queue) || !nonempty(tok->task_id)) {
        goto out;
    }
    *out = tok;
    rc = TD_OK;
out:
    return rc;
}
