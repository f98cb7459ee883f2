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
    if (tok == NULL) {
        goto out;
    }
    if (!nonempty(tok->namespace_id) || !nonempty(tok->workflow_id) || !nonempty(tok->run_id)) {
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
    if (tok == NULL) {
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
