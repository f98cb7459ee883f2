/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutable state under random operation sequences (seeded, reproducible): every transition,
 * valid or stale, must keep the invariants of ms.h. Checked after each step: event ids dense
 * and continuing next_event_id, every event timed; the buffer non-empty only while a task is
 * started; a transient task's reserved ids; a failed call with an empty txn leaves the state
 * byte-identical; encode/decode round-trips; in the accumulated history a WorkflowTaskStarted
 * is followed by its Completed/Failed/TimedOut, nothing follows the close event, and every
 * WorkflowTaskCompleted directly follows a WorkflowTaskStarted. Children, external requests,
 * continue-as-new, retry and cron are in play: a run closing into a new one must yield a new
 * run that td_ms_start_next builds and that round-trips.
 */
#include "history_ms_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t s;
} rng_t;

static uint32_t rnd(rng_t *r, uint32_t n)
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(r->s >> 33) % n;
}

#define MAX_EV    4096
#define MAX_TASKS 512

typedef struct {
    int types[MAX_EV];
    int64_t n;
    td_ms_task_t timers[MAX_TASKS];
    char timer_ids[MAX_TASKS][16];
    int n_timers;
} world_t;

static void keep_tasks(world_t *w, const fx_t *f)
{
    for (size_t i = 0; i < f->t.n_tasks; i++) {
        const td_ms_task_t *t = &f->t.tasks[i];
        if (td_ms_task_category(t->type) == TD_MS_CAT_TIMER && w->n_timers < MAX_TASKS) {
            w->timers[w->n_timers] = *t;
            if (t->timer_id) {
                snprintf(w->timer_ids[w->n_timers], sizeof(w->timer_ids[0]), "%s", t->timer_id);
                w->timers[w->n_timers].timer_id = w->timer_ids[w->n_timers];
            }
            w->timers[w->n_timers].task_queue = NULL;
            w->n_timers++;
        }
    }
}

static void check_step(fx_t *f, world_t *w, int rc, const uint8_t *before, size_t before_len,
                       int64_t next_before)
{
    uint8_t *after, *again;
    size_t after_len, again_len;
    td_ms_t *copy = NULL;
    td_ms_t *ms = f->ms;

    /* Dense ids continuing the history. */
    for (size_t i = 0; i < f->t.n_events; i++) {
        TD_CHECK_INT(f->t.events[i]->event_id, ==, next_before + (int64_t)i);
        TD_CHECK(f->t.events[i]->event_time != NULL);
        TD_CHECK_INT(f->t.events[i]->attributes_case, !=, 0);
        TD_CHECK(w->n < MAX_EV);
        w->types[w->n++] = f->t.events[i]->event_type;
    }
    TD_CHECK_INT(ms->next_event_id, ==, next_before + (int64_t)f->t.n_events);
    TD_CHECK_INT(w->n + 1, ==, ms->next_event_id);

    /* State invariants. */
    TD_CHECK(ms->n_buffered == 0 || ms->wft.started_id != 0);
    if (ms->wft.transient) {
        TD_CHECK_INT(ms->wft.scheduled_id, ==, ms->next_event_id);
        TD_CHECK(ms->wft.attempt > 1);
        TD_CHECK(ms->wft.started_id == 0 || ms->wft.started_id == ms->wft.scheduled_id + 1);
    }
    TD_CHECK(ms->wft.started_id == 0 || ms->wft.scheduled_id != 0);
    if (ms->state == TD_MS_STATE_COMPLETED) {
        TD_CHECK_INT(ms->n_activities + ms->n_timers + ms->n_buffered, ==, 0);
        TD_CHECK_INT(ms->wft.scheduled_id, ==, 0);
        TD_CHECK_INT(ms->completion_event_id, ==, ms->next_event_id - 1);
    }

    TD_CHECK_INT(td_ms_encode(ms, &f->arena, &after, &after_len), ==, TD_OK);
    if (rc != TD_OK && f->t.n_events == 0 && f->t.n_tasks == 0) {
        TD_CHECK_INT(after_len, ==, before_len);
        TD_CHECK(memcmp(after, before, after_len) == 0);
    }
    TD_CHECK_INT(td_ms_decode(after, after_len, &copy), ==, TD_OK);
    TD_CHECK_INT(td_ms_encode(copy, &f->arena, &again, &again_len), ==, TD_OK);
    TD_CHECK_INT(again_len, ==, after_len);
    TD_CHECK(memcmp(again, after, after_len) == 0);
    td_ms_free(copy);

    /* History shape. */
    for (int64_t i = 0; i < w->n; i++) {
        if (w->types[i] == ET(WORKFLOW_TASK_STARTED) && i + 1 < w->n) {
            int nx = w->types[i + 1];
            TD_CHECK(nx == ET(WORKFLOW_TASK_COMPLETED) || nx == ET(WORKFLOW_TASK_FAILED) ||
                     nx == ET(WORKFLOW_TASK_TIMED_OUT));
        }
        if (w->types[i] == ET(WORKFLOW_TASK_COMPLETED)) {
            TD_CHECK(i > 0 && w->types[i - 1] == ET(WORKFLOW_TASK_STARTED));
        }
    }
    if (ms->state == TD_MS_STATE_COMPLETED) {
        int last = w->types[w->n - 1];
        TD_CHECK(last == ET(WORKFLOW_EXECUTION_COMPLETED) ||
                 last == ET(WORKFLOW_EXECUTION_FAILED) || last == ET(WORKFLOW_EXECUTION_CANCELED) ||
                 last == ET(WORKFLOW_EXECUTION_TERMINATED) ||
                 last == ET(WORKFLOW_EXECUTION_TIMED_OUT) ||
                 last == ET(WORKFLOW_EXECUTION_CONTINUED_AS_NEW));
        TD_CHECK_INT(ms->n_children, ==, 0);
        TD_CHECK_INT(ms->n_externals, ==, 0);
    }
}

static fx_cmd_t *random_command(fx_t *f, rng_t *r, int *n_ids)
{
    char *id = td_arena_printf(&f->arena, "c%d", (*n_ids)++);
    switch (rnd(r, 8)) {
    case 0:
    case 1:
        return fx_cmd_activity(f, id, SEC(1 + rnd(r, 20)), (int32_t)rnd(r, 4));
    case 2:
    case 3:
        return fx_cmd_timer(f, id, SEC(1 + rnd(r, 30)));
    case 4:
        /* A copy: requests never point into the state (the command may remove the timer). */
        return f->ms->n_timers
                       ? fx_cmd_cancel_timer(
                                 f,
                                 td_arena_strdup(
                                         &f->arena,
                                         f->ms->timers[rnd(r, (uint32_t)f->ms->n_timers)].timer_id))
                       : fx_cmd_marker(f, "m");
    case 5:
        return f->ms->n_activities
                       ? fx_cmd_cancel_activity(
                                 f, f->ms->activities[rnd(r, (uint32_t)f->ms->n_activities)]
                                            .scheduled_id)
                       : fx_cmd_marker(f, "m");
    case 6:
        switch (rnd(r, 4)) {
        case 0:
            return fx_cmd_child(f, id, (int)rnd(r, 4));
        case 1:
            return fx_cmd_signal_external(f, id, "s");
        case 2:
            return fx_cmd_cancel_external(f, id);
        default:
            return fx_cmd_marker(f, "m");
        }
    default:
        switch (rnd(r, 6)) {
        case 0:
        case 1:
            return fx_cmd_complete(f, "done");
        case 2:
            return fx_cmd_continue_as_new(f, "again");
        case 3: {
            Temporal__Api__Failure__V1__Failure *x =
                    td_arena_calloc(&f->arena, sizeof(Temporal__Api__Failure__V1__Failure));
            temporal__api__failure__v1__failure__init(x);
            x->message = (char *)"bad";
            return fx_cmd_fail(f, x);
        }
        default:
            return fx_cmd_timer(f, id, SEC(5));
        }
    }
}

static long stat_steps, stat_ok, stat_events, stat_closed, stat_next_runs, stat_relations;

/* A run that closed into a new one: the new run must build, start with event 1 and
 * round-trip through its persisted form. */
static void check_next_run(fx_t *f)
{
    td_ms_txn_t t2;
    td_ms_t *n = NULL, *copy = NULL;
    uint8_t *buf;
    size_t len;

    td_ms_txn_init(&t2, &f->arena, f->now);
    TD_CHECK_INT(td_ms_start_next(f->ms, &f->t.next, &t2, &n), ==, TD_OK);
    TD_CHECK(t2.n_events >= 1);
    TD_CHECK_INT(t2.events[0]->event_id, ==, 1);
    TD_CHECK_INT(t2.events[0]->event_type, ==, ET(WORKFLOW_EXECUTION_STARTED));
    TD_CHECK_STR(
            t2.events[0]->workflow_execution_started_event_attributes->continued_execution_run_id,
            f->ms->run_id);
    TD_CHECK_STR(n->first_execution_run_id, f->ms->first_execution_run_id);
    TD_CHECK_INT(n->state, ==, TD_MS_STATE_RUNNING);
    td_ms_encode(n, &f->arena, &buf, &len);
    TD_CHECK_INT(td_ms_decode(buf, len, &copy), ==, TD_OK);
    td_ms_free(copy);
    td_ms_free(n);
    stat_next_runs++;
}

static void run_one(uint64_t seed, int steps)
{
    fx_t f;
    world_t *w = calloc(1, sizeof(*w));
    rng_t r = { seed };
    int n_ids = 0;
    uint8_t *before;
    size_t before_len;

    fx_init(&f);
    fx_txn(&f, 0);
    {
        Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *req = fx_start_req(&f);
        if (seed % 3 == 0) {
            /* a retry policy: failures and run timeouts may continue into a new run */
            req->retry_policy = td_arena_calloc(&f.arena, sizeof(*req->retry_policy));
            temporal__api__common__v1__retry_policy__init(req->retry_policy);
            req->retry_policy->maximum_attempts = 3;
        } else if (seed % 3 == 1) {
            req->cron_schedule = (char *)"* * * * *";
        }
        TD_CHECK_INT(td_ms_start(&f.t, req, NS, RUN, &f.ms), ==, TD_OK);
    }
    for (size_t i = 0; i < f.t.n_events; i++) {
        w->types[w->n++] = f.t.events[i]->event_type;
    }
    keep_tasks(w, &f);

    for (int step = 0; step < steps && f.ms->state == TD_MS_STATE_RUNNING; step++) {
        int64_t next_before = f.ms->next_event_id;
        int rc = TD_OK;
        uint32_t op = rnd(&r, 12);

        td_ms_encode(f.ms, &f.arena, &before, &before_len);
        fx_txn(&f, SEC(rnd(&r, 5)));
        f.t.caps = TD_MS_CAP_CHILD | TD_MS_CAP_EXTERNAL;
        f.t.new_run_id = rnd(&r, 4) ? "9f0e1d2c-0000-4000-8000-000000000fff" : NULL;
        switch (op) {
        case 0:
        case 1: /* poll */
            rc = td_ms_wft_record_started(f.ms, &f.t,
                                          f.ms->wft.scheduled_id ? f.ms->wft.scheduled_id : 1, "p",
                                          "w", rnd(&r, 4) ? TQK(NORMAL) : TQK(STICKY), &f.started);
            if (rc == TD_OK) {
                TD_CHECK_INT(td_ms_token_decode(f.started.token.data, f.started.token.len, &f.arena,
                                                &f.wft_tok),
                             ==, TD_OK);
            }
            break;
        case 2:
        case 3: { /* complete */
            size_t n = rnd(&r, 4);
            Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req =
                    fx_complete_req(&f, 0);
            req->commands = td_arena_alloc(&f.arena, (n + 1) * sizeof(fx_cmd_t *));
            for (size_t i = 0; i < n; i++) {
                req->commands[req->n_commands++] = random_command(&f, &r, &n_ids);
            }
            req->force_create_new_workflow_task = rnd(&r, 4) == 0;
            if (rnd(&r, 2)) {
                Temporal__Api__Taskqueue__V1__StickyExecutionAttributes *sa =
                        td_arena_calloc(&f.arena, sizeof(*sa));
                Temporal__Api__Taskqueue__V1__TaskQueue *q = td_arena_calloc(&f.arena, sizeof(*q));
                Google__Protobuf__Duration *d = td_arena_calloc(&f.arena, sizeof(*d));
                temporal__api__taskqueue__v1__sticky_execution_attributes__init(sa);
                temporal__api__taskqueue__v1__task_queue__init(q);
                google__protobuf__duration__init(d);
                q->name = (char *)"sticky";
                d->seconds = rnd(&r, 3);
                sa->worker_task_queue = q;
                sa->schedule_to_start_timeout = d;
                req->sticky_attributes = sa;
            }
            req->return_new_workflow_task = rnd(&r, 2);
            if (f.wft_tok == NULL) {
                break;
            }
            rc = fx_complete(&f, req, NULL);
            break;
        }
        case 4: { /* fail */
            Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest fr =
                    TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_WORKFLOW_TASK_FAILED_REQUEST__INIT;
            if (f.wft_tok != NULL) {
                rc = td_ms_wft_fail(f.ms, &f.t, f.wft_tok, &fr);
            }
            break;
        }
        case 5:
        case 6: /* fire a remembered timer task (often stale) */
            if (w->n_timers > 0) {
                rc = td_ms_timer_task_apply(f.ms, &f.t, &w->timers[rnd(&r, (uint32_t)w->n_timers)]);
            }
            break;
        case 7: /* activity started */
            if (f.ms->n_activities > 0) {
                td_ms_activity_t *ai = &f.ms->activities[rnd(&r, (uint32_t)f.ms->n_activities)];
                td_ms_activity_started_t as;
                rc = td_ms_activity_record_started(f.ms, &f.t, ai->scheduled_id, ai->attempt, "a",
                                                   "w", &as);
            }
            break;
        case 8: /* activity result */
            if (f.ms->n_activities > 0) {
                td_ms_activity_t *ai = &f.ms->activities[rnd(&r, (uint32_t)f.ms->n_activities)];
                Temporald__Token__Task *tok = fx_act_tok(&f, ai->scheduled_id, ai->attempt);
                int cancel;
                switch (rnd(&r, 4)) {
                case 0:
                    rc = td_ms_activity_complete(f.ms, &f.t, tok, NULL, "w");
                    break;
                case 1:
                    rc = td_ms_activity_fail(f.ms, &f.t, tok, NULL, NULL, "w");
                    break;
                case 2:
                    rc = td_ms_activity_cancel(f.ms, &f.t, tok, NULL, "w");
                    break;
                default:
                    rc = td_ms_activity_heartbeat(f.ms, &f.t, tok, NULL, &cancel);
                    break;
                }
            }
            break;
        case 9:
            if (rnd(&r, 2) && f.ms->n_children > 0) {
                /* a child outcome, often stale or out of order */
                td_ms_child_t *ci = &f.ms->children[rnd(&r, (uint32_t)f.ms->n_children)];
                int64_t id = rnd(&r, 8) ? ci->initiated_id : 999;
                td_ms_event_t *ce = td_arena_calloc(&f.arena, sizeof(*ce));
                temporal__api__history__v1__history_event__init(ce);
                ce->event_type = rnd(&r, 2) ? ET(WORKFLOW_EXECUTION_TERMINATED)
                                            : ET(WORKFLOW_EXECUTION_CANCELED);
                switch (rnd(&r, 3)) {
                case 0:
                    rc = td_ms_child_started(f.ms, &f.t, id, "child-run", NULL);
                    break;
                case 1:
                    rc = td_ms_child_start_failed(f.ms, &f.t, id, 1);
                    break;
                default:
                    rc = td_ms_child_closed(f.ms, &f.t, id, "child-run", ce);
                    break;
                }
                stat_relations += rc == TD_OK;
            } else if (rnd(&r, 2) && f.ms->n_externals > 0) {
                td_ms_external_t *x = &f.ms->externals[rnd(&r, (uint32_t)f.ms->n_externals)];
                rc = rnd(&r, 2) ? td_ms_external_done(f.ms, &f.t, x->initiated_id)
                                : td_ms_external_failed(f.ms, &f.t, x->initiated_id, 1);
                stat_relations += rc == TD_OK;
            } else {
                rc = td_ms_signal(f.ms, &f.t, "s", NULL, "c", NULL, rnd(&r, 2) ? "dup" : "");
            }
            break;
        case 10:
            rc = td_ms_request_cancel(f.ms, &f.t, "why", "c", "");
            break;
        default:
            if (rnd(&r, 4) == 0) {
                td_ms_reset_sticky(f.ms);
            } else if (rnd(&r, 10) == 0) {
                rc = td_ms_terminate(f.ms, &f.t, "enough", NULL, "c");
            }
            break;
        }
        check_step(&f, w, rc, before, before_len, next_before);
        if (f.t.next.initiator != 0) {
            TD_CHECK(f.ms->state == TD_MS_STATE_COMPLETED);
            check_next_run(&f);
        }
        stat_steps++;
        stat_ok += rc == TD_OK;
        stat_events += (long)f.t.n_events;
        keep_tasks(w, &f);
    }
    stat_closed += f.ms->state == TD_MS_STATE_COMPLETED;
    free(w);
    fx_free(&f);
}

TD_TEST_T(history_ms_random_sequences_keep_invariants, 120)
{
    for (uint64_t seed = 1; seed <= 1000; seed++) {
        run_one(seed, 100);
    }
    printf("# %ld steps (%ld ok), %ld events, %ld of 1000 runs closed, %ld into a new run, %ld "
           "child/external outcomes\n",
           stat_steps, stat_ok, stat_events, stat_closed, stat_next_runs, stat_relations);
    /* The sequences must really exercise the machine, not stop at once. */
    TD_CHECK(stat_steps > 1000 * 30);
    TD_CHECK(stat_ok > stat_steps / 2);
    TD_CHECK(stat_events > stat_steps / 4);
    TD_CHECK(stat_closed > 100);
    TD_CHECK(stat_next_runs > 20);
    TD_CHECK(stat_relations > 100);
}
