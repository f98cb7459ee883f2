/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Messages with pre-packed fields (src/net/pb_raw.c): a wrapped message packs back to the
 * very bytes it was made from; a field added packed reads back, once unpacked, as the
 * concatenation of its parts; bytes that are not a message are refused.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "net/pb_raw.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse poll_t;
typedef Temporal__Api__History__V1__HistoryEvent event_t;

static size_t pr_pack(td_arena_t *a, const ProtobufCMessage *m, uint8_t **out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    *out = td_arena_alloc(a, n + 1);
    TD_CHECK_INT(protobuf_c_message_pack(m, *out), ==, n);
    return n;
}

/* A packed History holding events [first, first + n). */
static td_pb_slice_t pr_history(td_arena_t *a, int64_t first, int n)
{
    Temporal__Api__History__V1__History h = TEMPORAL__API__HISTORY__V1__HISTORY__INIT;
    event_t **ev = td_arena_calloc(a, sizeof(*ev) * (size_t)n);
    td_pb_slice_t s;
    uint8_t *buf;

    for (int i = 0; i < n; i++) {
        ev[i] = td_arena_calloc(a, sizeof(*ev[i]));
        temporal__api__history__v1__history_event__init(ev[i]);
        ev[i]->event_id = first + i;
        ev[i]->event_type = TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_TASK_STARTED;
    }
    h.n_events = (size_t)n;
    h.events = ev;
    s.len = pr_pack(a, &h.base, &buf);
    s.data = buf;
    return s;
}

TD_TEST(net_pb_raw_wrap_packs_back_the_same_bytes)
{
    td_arena_t a;
    poll_t r = TEMPORAL__API__WORKFLOWSERVICE__V1__POLL_WORKFLOW_TASK_QUEUE_RESPONSE__INIT;
    Temporal__Api__Common__V1__WorkflowType wt = TEMPORAL__API__COMMON__V1__WORKFLOW_TYPE__INIT;
    uint8_t *buf, *again, tok[3] = { 1, 2, 3 };
    size_t n;
    ProtobufCMessage *m;
    poll_t *u;

    td_arena_init(&a, 4096);
    wt.name = (char *)"Greet";
    r.task_token.data = tok;
    r.task_token.len = sizeof(tok);
    r.workflow_type = &wt;
    r.previous_started_event_id = 300; /* varint */
    r.attempt = -1;                    /* a ten-byte varint */
    r.backlog_count_hint = 1LL << 40;
    n = pr_pack(&a, &r.base, &buf);
    m = td_pb_raw_wrap(&a, r.base.descriptor, buf, n);
    TD_CHECK(m != NULL);
    TD_CHECK(((poll_t *)m)->workflow_type == NULL); /* read as absent until unpacked */
    TD_CHECK_INT(pr_pack(&a, m, &again), ==, n);
    TD_CHECK(memcmp(buf, again, n) == 0);
    u = temporal__api__workflowservice__v1__poll_workflow_task_queue_response__unpack(
            td_arena_pb(&a), n, again);
    TD_CHECK(u != NULL);
    TD_CHECK_STR(u->workflow_type->name, "Greet");
    TD_CHECK_INT(u->attempt, ==, -1);
    TD_CHECK_INT(u->previous_started_event_id, ==, 300);

    /* an empty message, and bytes that are not one */
    TD_CHECK(td_pb_raw_wrap(&a, r.base.descriptor, buf, 0) != NULL);
    TD_CHECK(td_pb_raw_wrap(&a, r.base.descriptor, buf, n - 1) == NULL); /* cut short */
    {
        static const uint8_t bad_len[] = { 0x0a, 0x05, 'a' };     /* length past the end */
        static const uint8_t bad_type[] = { 0x0b };               /* a group start */
        static const uint8_t bad_varint[] = { 0x08, 0xff, 0xff }; /* unterminated */
        static const uint8_t zero_tag[] = { 0x00, 0x01 };
        TD_CHECK(td_pb_raw_wrap(&a, r.base.descriptor, bad_len, sizeof(bad_len)) == NULL);
        TD_CHECK(td_pb_raw_wrap(&a, r.base.descriptor, bad_type, sizeof(bad_type)) == NULL);
        TD_CHECK(td_pb_raw_wrap(&a, r.base.descriptor, bad_varint, sizeof(bad_varint)) == NULL);
        TD_CHECK(td_pb_raw_wrap(&a, r.base.descriptor, zero_tag, sizeof(zero_tag)) == NULL);
    }
    td_arena_destroy(&a);
}

TD_TEST(net_pb_raw_add_concatenates_packed_parts)
{
    td_arena_t a;
    poll_t r = TEMPORAL__API__WORKFLOWSERVICE__V1__POLL_WORKFLOW_TASK_QUEUE_RESPONSE__INIT;
    td_pb_slice_t parts[3];
    uint8_t *buf, *again;
    size_t n;
    poll_t *u;
    uint32_t id = protobuf_c_message_descriptor_get_field_by_name(r.base.descriptor, "history")->id;

    td_arena_init(&a, 4096);
    r.started_event_id = 7;
    parts[0] = pr_history(&a, 1, 2);
    parts[1] = pr_history(&a, 3, 100); /* a payload length past one varint byte */
    parts[2] = pr_history(&a, 103, 1);
    td_pb_raw_add(&a, &r.base, id, parts, 3);
    n = pr_pack(&a, &r.base, &buf);
    u = temporal__api__workflowservice__v1__poll_workflow_task_queue_response__unpack(
            td_arena_pb(&a), n, buf);
    TD_CHECK(u != NULL);
    TD_CHECK_INT(u->started_event_id, ==, 7);
    TD_CHECK(u->history != NULL);
    TD_CHECK_INT(u->history->n_events, ==, 103);
    for (size_t i = 0; i < u->history->n_events; i++) {
        TD_CHECK_INT(u->history->events[i]->event_id, ==, (int64_t)i + 1);
    }
    /* and through a second hop (matching's copy): still the same bytes */
    {
        ProtobufCMessage *m = td_pb_raw_wrap(&a, r.base.descriptor, buf, n);
        TD_CHECK(m != NULL);
        TD_CHECK_INT(pr_pack(&a, m, &again), ==, n);
        TD_CHECK(memcmp(buf, again, n) == 0);
    }
    /* no parts: an empty History */
    {
        poll_t e = TEMPORAL__API__WORKFLOWSERVICE__V1__POLL_WORKFLOW_TASK_QUEUE_RESPONSE__INIT;
        td_pb_raw_add(&a, &e.base, id, NULL, 0);
        n = pr_pack(&a, &e.base, &buf);
        u = temporal__api__workflowservice__v1__poll_workflow_task_queue_response__unpack(
                td_arena_pb(&a), n, buf);
        TD_CHECK(u != NULL && u->history != NULL);
        TD_CHECK_INT(u->history->n_events, ==, 0);
    }
    td_arena_destroy(&a);
}
