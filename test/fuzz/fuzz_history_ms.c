/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the history inputs that come from outside: task tokens (workers send
 * them back verbatim) and persisted mutable-state / task records (read back from the store).
 * Whatever decodes must re-encode and decode again; a decoded state must survive a couple of
 * transitions (signal, terminate) without memory errors.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "roles/history/ms/ms.h"
#include "roles/history/ms/ms_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_arena_t a;
    Temporald__Token__Task *tok = NULL;
    Temporald__Token__QueryTask *q = NULL;
    td_ms_t *ms = NULL, *again = NULL;
    td_ms_task_t task;
    ProtobufCBinaryData b;
    uint8_t *buf;
    size_t len;

    td_arena_init(&a, 4096);
    if (td_ms_token_decode(data, size, &a, &tok) == TD_OK) {
        td_ms_token_encode(tok, &a, &b);
        if (td_ms_token_decode(b.data, b.len, &a, &tok) != TD_OK) {
            __builtin_trap();
        }
    }
    (void)td_ms_query_token_decode(data, size, &a, &q);
    (void)td_ms_task_decode(data, size, &a, &task);
    if (td_ms_decode(data, size, &ms) == TD_OK) {
        td_ms_txn_t t;
        td_ms_encode(ms, &a, &buf, &len);
        if (td_ms_decode(buf, len, &again) != TD_OK) {
            __builtin_trap();
        }
        td_ms_free(again);
        /* Only states our own code could have written are meaningful to run transitions on. */
        if (ms->state == TD_MS_STATE_RUNNING && ms->wft.scheduled_id < ms->next_event_id + 2 &&
            ms->wft.started_id <= ms->wft.scheduled_id + 1) {
            td_ms_txn_init(&t, &a, INT64_C(1700000000000000000));
            (void)td_ms_signal(ms, &t, "s", NULL, "fuzz", NULL, "");
            (void)td_ms_terminate(ms, &t, "fuzz", NULL, "fuzz");
        }
        td_ms_free(ms);
    }
    td_arena_destroy(&a);
    return 0;
}
