/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history events cache (src/roles/history/hist_evc.c) on its own: hits and misses, the
 * paging a store read would do, eviction by the byte budget, coherence as writes commit
 * (append, a gap, a new run, a deleted run, a dropped context) and the fallback to the store
 * when a cached batch is not what it claims to be. The service-level tests (history served
 * from the cache equals history read from the store) are in hist_service_test.c.
 */
#include "test.h"

#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "roles/history/hist_int.h"

typedef struct {
    td_hist_t h;
    td_hist_shard_t s;
    td_hist_ctx_t c[4];
    td_arena_t a; /* batches and reads */
} ev_t;

static void ev_init(ev_t *x, size_t budget)
{
    memset(x, 0, sizeof(*x));
    x->s.h = &x->h;
    for (int i = 0; i < 4; i++) {
        x->c[i].shard = &x->s;
    }
    x->h.evc.budget = budget;
    td_arena_init(&x->a, 4096);
}

static void ev_free(ev_t *x)
{
    td_hist__evc_free_all(&x->h);
    for (int i = 0; i < 4; i++) {
        TD_CHECK(x->c[i].evc == NULL);
    }
    TD_CHECK_INT(x->h.evc.bytes, ==, 0);
    TD_CHECK_INT(x->h.evc.n_runs, ==, 0);
    td_arena_destroy(&x->a);
}

/* A batch of run with events [first, first + count), each with a payload of pad bytes; the
 * ids written may be shifted by lie (a batch that is not what it claims). */
static td_store_history_batch_t ev_batch(ev_t *x, const char *run, int64_t first, int count,
                                         size_t pad, int64_t lie)
{
    td_store_history_batch_t b = { 0 };
    Temporal__Api__History__V1__History hist = TEMPORAL__API__HISTORY__V1__HISTORY__INIT;
    Temporal__Api__History__V1__HistoryEvent **ev =
            td_arena_calloc(&x->a, sizeof(*ev) * (size_t)count);
    uint8_t *buf;

    for (int i = 0; i < count; i++) {
        Temporal__Api__History__V1__HistoryEvent *e = td_arena_calloc(&x->a, sizeof(*e));
        Temporal__Api__History__V1__WorkflowExecutionSignaledEventAttributes *sa =
                td_arena_calloc(&x->a, sizeof(*sa));
        char *name = td_arena_alloc(&x->a, pad + 1);

        temporal__api__history__v1__history_event__init(e);
        temporal__api__history__v1__workflow_execution_signaled_event_attributes__init(sa);
        memset(name, 'x', pad);
        name[pad] = 0;
        sa->signal_name = name;
        e->event_id = first + i + lie;
        e->event_type =
                TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED;
        e->attributes_case =
                TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_WORKFLOW_EXECUTION_SIGNALED_EVENT_ATTRIBUTES;
        e->workflow_execution_signaled_event_attributes = sa;
        ev[i] = e;
    }
    hist.n_events = (size_t)count;
    hist.events = ev;
    b.events.len = temporal__api__history__v1__history__get_packed_size(&hist);
    buf = td_arena_alloc(&x->a, b.events.len);
    temporal__api__history__v1__history__pack(&hist, buf);
    b.events.data = buf;
    b.events.encoding = TD_STORE_ENC_PROTO3;
    b.tree_id = b.branch_id = td_arena_strdup(&x->a, run);
    b.first_event_id = first;
    b.event_count = count;
    return b;
}

static void ev_commit(ev_t *x, int ctx, const char *run, int64_t first, int count, size_t pad)
{
    td_store_history_batch_t b = ev_batch(x, run, first, count, pad, 0);
    td_hist__evc_committed(&x->c[ctx], &b, 1);
}

/* Reads [min, max) and checks it was served with ids min.. (n of them) and next_min. */
static void ev_expect_hit(ev_t *x, const char *run, int64_t min, int64_t max, int page,
                          size_t n_want, int64_t next_want)
{
    td_ms_event_t **ev = NULL;
    size_t n = 0;
    int64_t next = -1;

    TD_CHECK_INT(td_hist__evc_read(&x->h, &x->a, run, min, max, page, &ev, &n, &next), ==, 1);
    TD_CHECK_INT(n, ==, n_want);
    for (size_t i = 0; i < n; i++) {
        TD_CHECK_INT(ev[i]->event_id, ==, min + (int64_t)i);
        TD_CHECK_INT(ev[i]->event_type, ==,
                     TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
        TD_CHECK(ev[i]->workflow_execution_signaled_event_attributes != NULL);
    }
    TD_CHECK_INT(next, ==, next_want);
}

static int ev_miss(ev_t *x, const char *run, int64_t min, int64_t max)
{
    td_ms_event_t **ev = NULL;
    size_t n = 0;
    int64_t next = 0;
    return td_hist__evc_read(&x->h, &x->a, run, min, max, 0, &ev, &n, &next) == 0;
}

TD_TEST(hist_evc_hit_miss_and_pages)
{
    ev_t xx, *x = &xx;

    ev_init(x, 1 << 20);
    TD_CHECK(ev_miss(x, "run-a", 1, 2)); /* nothing cached yet */
    ev_commit(x, 0, "run-a", 1, 2, 10);  /* started, task scheduled */
    ev_commit(x, 0, "run-a", 3, 1, 10);  /* task started */
    ev_commit(x, 0, "run-a", 4, 3, 10);  /* completed, two commands */
    TD_CHECK(x->c[0].evc != NULL);
    TD_CHECK_INT(x->h.evc.n_runs, ==, 1);

    ev_expect_hit(x, "run-a", 1, 7, 0, 6, 0); /* a non-sticky task: everything */
    ev_expect_hit(x, "run-a", 4, 7, 0, 3, 0); /* a sticky task: since the last one */
    ev_expect_hit(x, "run-a", 2, 4, 0, 2, 0); /* inside batches */
    ev_expect_hit(x, "run-a", 6, 7, 0, 1, 0); /* one event (an activity's scheduled event) */
    /* pages as the store cuts them: whole batches until page_size events are reached */
    ev_expect_hit(x, "run-a", 1, 7, 2, 2, 3);
    ev_expect_hit(x, "run-a", 3, 7, 2, 4, 0);
    ev_expect_hit(x, "run-a", 1, 7, 3, 3, 4);
    ev_expect_hit(x, "run-a", 4, 7, 2, 3, 0);
    TD_CHECK_INT(x->h.evc.hits, ==, 8);

    TD_CHECK(ev_miss(x, "run-a", 1, 8)); /* event 7 was never committed here */
    TD_CHECK(ev_miss(x, "run-a", 0, 3)); /* below the first event */
    TD_CHECK(ev_miss(x, "run-a", 3, 3)); /* empty range: the store decides */
    TD_CHECK(ev_miss(x, "run-b", 1, 2)); /* another run */
    TD_CHECK(ev_miss(x, NULL, 1, 2));
    TD_CHECK_INT(x->h.evc.misses, ==, 6);
    TD_CHECK(x->c[0].evc != NULL); /* a miss drops nothing */
    ev_free(x);
}

TD_TEST(hist_evc_budget_evicts_least_recently_used)
{
    ev_t xx, *x = &xx;
    size_t one;

    ev_init(x, 1 << 20);
    ev_commit(x, 0, "run-0", 1, 4, 200);
    one = x->h.evc.bytes;
    TD_CHECK(one > 800);
    td_hist__evc_free_all(&x->h);

    /* room for about two runs of this size */
    x->h.evc.budget = one * 2 + one / 2;
    ev_commit(x, 0, "run-0", 1, 4, 200);
    ev_commit(x, 1, "run-1", 1, 4, 200);
    ev_expect_hit(x, "run-0", 1, 5, 0, 4, 0); /* run-0 is now the most recently used */
    ev_commit(x, 2, "run-2", 1, 4, 200);      /* over budget: run-1 goes */
    TD_CHECK_INT(x->h.evc.evictions, ==, 1);
    TD_CHECK(x->c[1].evc == NULL);
    TD_CHECK(ev_miss(x, "run-1", 1, 5));
    ev_expect_hit(x, "run-0", 1, 5, 0, 4, 0);
    ev_expect_hit(x, "run-2", 1, 5, 0, 4, 0);
    TD_CHECK(x->h.evc.bytes <= x->h.evc.budget);

    /* a run that grows past the budget pushes the others out, then itself */
    for (int64_t id = 5; id < 5 + 4 * 6; id += 4) {
        ev_commit(x, 2, "run-2", id, 4, 200);
    }
    TD_CHECK(x->c[2].evc == NULL);
    TD_CHECK(x->c[0].evc == NULL);
    TD_CHECK_INT(x->h.evc.bytes, ==, 0);
    TD_CHECK(ev_miss(x, "run-2", 1, 5));

    /* budget 0: the cache is off */
    x->h.evc.budget = 0;
    ev_commit(x, 3, "run-3", 1, 2, 10);
    TD_CHECK(x->c[3].evc == NULL);
    TD_CHECK(ev_miss(x, "run-3", 1, 3));
    ev_free(x);
}

TD_TEST(hist_evc_coherent_with_writes)
{
    ev_t xx, *x = &xx;
    td_store_history_batch_t two[2];

    ev_init(x, 1 << 20);
    ev_commit(x, 0, "run-a", 1, 3, 10);
    ev_commit(x, 0, "run-a", 4, 2, 10);
    ev_expect_hit(x, "run-a", 1, 6, 0, 5, 0);

    /* a write that does not continue at the cached end: the run's events are unknown here */
    ev_commit(x, 0, "run-a", 7, 1, 10);
    TD_CHECK(x->c[0].evc == NULL);
    TD_CHECK(ev_miss(x, "run-a", 1, 6));
    /* later appends do not bring it back (only a run's first batch starts an entry) */
    ev_commit(x, 0, "run-a", 8, 1, 10);
    TD_CHECK(ev_miss(x, "run-a", 8, 9));

    /* continue-as-new: one write closes run-b and starts run-c; the context follows run-c */
    ev_commit(x, 1, "run-b", 1, 3, 10);
    two[0] = ev_batch(x, "run-b", 4, 2, 10, 0);
    two[1] = ev_batch(x, "run-c", 1, 2, 10, 0);
    td_hist__evc_committed(&x->c[1], two, 2);
    TD_CHECK(ev_miss(x, "run-b", 1, 6));
    ev_expect_hit(x, "run-c", 1, 3, 0, 2, 0);
    TD_CHECK_INT(x->h.evc.n_runs, ==, 1);

    /* a deleted run is forgotten; forgetting an unknown run is harmless */
    td_hist__evc_forget(&x->h, "run-c");
    TD_CHECK(x->c[1].evc == NULL);
    TD_CHECK(ev_miss(x, "run-c", 1, 3));
    td_hist__evc_forget(&x->h, "run-zz");

    /* a failed write or an evicted context drops its entry */
    ev_commit(x, 2, "run-d", 1, 2, 10);
    TD_CHECK(x->c[2].evc != NULL);
    td_hist__evc_drop(&x->c[2]);
    TD_CHECK(x->c[2].evc == NULL);
    TD_CHECK(ev_miss(x, "run-d", 1, 3));
    td_hist__evc_drop(&x->c[2]); /* twice is fine */

    /* a batch that is not protobuf-encoded is not cached, and drops the entry it would join */
    ev_commit(x, 3, "run-e", 1, 2, 10);
    two[0] = ev_batch(x, "run-e", 3, 1, 10, 0);
    two[0].events.encoding = TD_STORE_ENC_JSON;
    td_hist__evc_committed(&x->c[3], two, 1);
    TD_CHECK(ev_miss(x, "run-e", 1, 3));
    TD_CHECK_INT(x->h.evc.bytes, ==, 0);
    ev_free(x);
}

TD_TEST(hist_evc_bad_batch_falls_back_to_the_store)
{
    ev_t xx, *x = &xx;
    td_store_history_batch_t b;
    uint8_t junk[16];

    ev_init(x, 1 << 20);
    /* a batch whose events do not carry the ids it claims */
    ev_commit(x, 0, "run-a", 1, 2, 10);
    b = ev_batch(x, "run-a", 3, 2, 10, 5);
    td_hist__evc_committed(&x->c[0], &b, 1);
    ev_expect_hit(x, "run-a", 1, 3, 0, 2, 0); /* the good part is still served */
    TD_CHECK(ev_miss(x, "run-a", 1, 5));      /* reaching the bad batch: a miss, and dropped */
    TD_CHECK(x->c[0].evc == NULL);
    TD_CHECK(ev_miss(x, "run-a", 1, 3));

    /* bytes that do not decode at all */
    b = ev_batch(x, "run-b", 1, 2, 10, 0);
    memset(junk, 0xff, sizeof(junk));
    b.events.data = junk;
    b.events.len = sizeof(junk);
    td_hist__evc_committed(&x->c[1], &b, 1);
    TD_CHECK(x->c[1].evc != NULL);
    TD_CHECK(ev_miss(x, "run-b", 1, 3));
    TD_CHECK(x->c[1].evc == NULL);
    TD_CHECK_INT(x->h.evc.drops, ==, 2);
    ev_free(x);
}
