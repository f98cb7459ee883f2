/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention in the mutable state (ms.h: td_ms_txn_t.retention, TD_MS_TASK_DELETE_HISTORY): a
 * transition that closes the run emits one DELETE_HISTORY timer task due at close time +
 * retention, only when a retention is given, in every way a run closes (terminate, completion,
 * continue-as-new: only the closed run, never its successor); the task is valid only while the
 * run is closed and survives the task codec.
 */
#include "history_ms_fixture.h"

#define RUN2 "3c5e0a3b-0000-4000-8000-0000000000bb"

static const td_ms_task_t *only_delete_task(const fx_t *f)
{
    int n = 0;
    const td_ms_task_t *found = NULL;

    for (size_t i = 0; i < f->t.n_tasks; i++) {
        if (f->t.tasks[i].type == TD_MS_TASK_DELETE_HISTORY) {
            found = &f->t.tasks[i];
            n++;
        }
    }
    TD_CHECK_INT(n, ==, 1);
    return found;
}

TD_TEST(history_ms_retention_terminate)
{
    fx_t f;
    const td_ms_task_t *d;
    td_ms_task_t back;
    uint8_t *buf = NULL;
    size_t len = 0;

    fx_init(&f);
    fx_start(&f);
    /* no retention given: no task (the service found no retention for the namespace) */
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_DELETE_HISTORY) < 0);
    fx_txn(&f, SEC(5));
    TD_CHECK_INT(td_ms_terminate(f.ms, &f.t, "bye", NULL, "admin"), ==, TD_OK);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_CLOSE_EXECUTION) >= 0);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_DELETE_HISTORY) < 0);
    fx_free(&f);

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(5));
    f.t.retention = SEC(3 * 24 * 3600);
    /* a running run is not deleted: the task would be stale */
    {
        td_ms_task_t probe = { .type = TD_MS_TASK_DELETE_HISTORY };
        TD_CHECK_INT(td_ms_task_valid(f.ms, &probe), ==, TD_ENOTFOUND);
    }
    TD_CHECK_INT(td_ms_terminate(f.ms, &f.t, "bye", NULL, "admin"), ==, TD_OK);
    d = only_delete_task(&f);
    TD_CHECK_INT(td_ms_task_category(d->type), ==, TD_MS_CAT_TIMER);
    TD_CHECK_INT(f.ms->close_time, ==, f.now);
    TD_CHECK_INT(d->fire_time, ==, f.ms->close_time + SEC(3 * 24 * 3600));
    TD_CHECK_INT(td_ms_task_valid(f.ms, d), ==, TD_OK);
    /* never applied as an ordinary timer */
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, d), ==, TD_EINVAL);
    /* the codec keeps type and due time */
    TD_CHECK_INT(td_ms_task_encode(d, &f.arena, &buf, &len), ==, TD_OK);
    TD_CHECK_INT(td_ms_task_decode(buf, len, &f.arena, &back), ==, TD_OK);
    TD_CHECK_INT(back.type, ==, TD_MS_TASK_DELETE_HISTORY);
    TD_CHECK_INT(back.fire_time, ==, d->fire_time);
    fx_free(&f);
}

TD_TEST(history_ms_retention_complete_and_continue)
{
    fx_t f;
    td_ms_txn_t t2;
    td_ms_t *n = NULL;
    const td_ms_task_t *d;

    /* an ordinary completion */
    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, SEC(2));
    f.t.retention = SEC(7);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_complete(&f, "\"ok\"")), NULL), ==,
                 TD_OK);
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_COMPLETED);
    d = only_delete_task(&f);
    TD_CHECK_INT(d->fire_time, ==, f.now + SEC(7));
    fx_free(&f);

    /* continue-as-new: the closed run gets the task, the new run none */
    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    f.t.new_run_id = RUN2;
    f.t.retention = SEC(7);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_continue_as_new(&f, "\"n\"")), NULL),
                 ==, TD_OK);
    d = only_delete_task(&f);
    TD_CHECK_INT(d->fire_time, ==, f.now + SEC(7));
    td_ms_txn_init(&t2, &f.arena, f.now);
    t2.retention = SEC(7);
    TD_CHECK_INT(td_ms_start_next(f.ms, &f.t.next, &t2, &n), ==, TD_OK);
    TD_CHECK_INT(n->state, ==, TD_MS_STATE_RUNNING);
    for (size_t i = 0; i < t2.n_tasks; i++) {
        TD_CHECK(t2.tasks[i].type != TD_MS_TASK_DELETE_HISTORY);
    }
    td_ms_free(n);
    fx_free(&f);
}
