/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Task tokens: the opaque bytes a worker gets with each workflow/activity task and sends back
 * with its answer. They are serialised temporald.token.Task messages, wire-compatible with
 * Temporal's temporal.server.api.token.v1.Task, plus the legacy QueryTask. Decoding is strict:
 * anything that is not a well-formed token for a run is TD_EINVAL, so callers can map it to
 * INVALID_ARGUMENT; whether the token still names a live task is for td_ms_* to decide
 * (TD_ENOTFOUND). Pure functions, callable from any thread.
 */
#ifndef TD_MS_TOKEN_H
#define TD_MS_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "token.pb-c.h"

/* Tokens larger than this are rejected before parsing. */
#define TD_MS_TOKEN_MAX (16 * 1024)

/* Serialises `tok` into arena memory. */
int td_ms_token_encode(const Temporald__Token__Task *tok, td_arena_t *arena,
                       ProtobufCBinaryData *out);
/* Parses a task token into the arena: TD_OK, or TD_EINVAL (empty, oversized, unparsable,
 * a string with a NUL byte, namespace_id/workflow_id/run_id missing, negative ids or
 * attempt). */
int td_ms_token_decode(const uint8_t *buf, size_t len, td_arena_t *arena,
                       Temporald__Token__Task **out);
int td_ms_query_token_encode(const Temporald__Token__QueryTask *tok, td_arena_t *arena,
                             ProtobufCBinaryData *out);
/* TD_EINVAL unless namespace_id, task_queue and task_id are all present. */
int td_ms_query_token_decode(const uint8_t *buf, size_t len, td_arena_t *arena,
                             Temporald__Token__QueryTask **out);

#endif
