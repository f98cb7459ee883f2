/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention: a closed run is deleted once its namespace's retention period has passed. When a
 * run closes, the transition that closes it also writes a DELETE_HISTORY timer task due at
 * close time + retention (ms.h: td_ms_txn_t.retention, set here from the namespace as it is
 * at close time), in the same store transaction as the close itself, so the deletion is as
 * durable as the close: after a restart the shard reads the task back and it fires on time.
 * When it fires, the run is deleted through hist_delete.c (row, current pointer if it names
 * the run, history, visibility), the same path DeleteWorkflowExecution takes; a run found
 * running is left alone. The work lives in history, not in the worker role, because the timer
 * queue is already the durable, per-shard, crash-safe schedule for exactly this (as in
 * Temporal); the worker role would need a scan of every closed run. Loop thread only.
 */
#define TD_LOG_COMPONENT "history"

#include "config.h"
#include "error.h"
#include "log.h"
#include "roles/history/hist_int.h"
#include "roles/nsreg.h"
#include "server.h"

/* history.retentionTimerJitterDuration: Temporal's default spread of retention timers. */
#define TD_HIST_RETENTION_JITTER_MS (30 * 60 * 1000LL)

/* A stable, uniform share of the jitter per run (run ids are random UUIDs). */
static uint64_t td_hist_run_hash(const char *s)
{
    uint64_t x = 1469598103934665603ULL;

    for (; *s != 0; s++) {
        x = (x ^ (uint8_t)*s) * 1099511628211ULL;
    }
    return x;
}

int64_t td_hist__retention(td_hist_t *h, const td_ms_t *ms)
{
    const td_ns_t *ns;
    long long jitter_ms;
    int64_t retention;

    if (h->srv == NULL || h->srv->nsreg == NULL || ms->namespace_id == NULL) {
        return 0;
    }
    ns = td_nsreg_by_id(h->srv->nsreg, ms->namespace_id);
    if (ns == NULL || ns->retention_ns <= 0) {
        return 0; /* no retention recorded: kept */
    }
    retention = ns->retention_ns;
    jitter_ms = td_config_dyn_ms(h->srv->config, "history.retentionTimerJitterDuration",
                                 TD_HIST_RETENTION_JITTER_MS);
    if (jitter_ms > 0 && ms->run_id != NULL) {
        retention += (int64_t)(td_hist_run_hash(ms->run_id) % (uint64_t)jitter_ms) * 1000000;
    }
    return retention;
}

static void td_hist_retention_done(void *arg, int rc, const char *msg)
{
    td_hist_task_t *task = arg;

    if (rc == TD_OK) {
        td_log_debug("retention: %s/%s deleted", task->workflow_id, task->run_id);
        td_hist__task_ack(task);
    } else if (td_err_grpc_status(rc) == TD_GRPC_UNAVAILABLE) {
        if (td_hist__task_retry_logged(task)) {
            td_log_warn("retention of %s/%s failed (will retry): %s", task->workflow_id,
                        task->run_id, msg ? msg : td_strerror(rc));
        }
        td_hist__task_retry(task);
    } else {
        td_log_warn("retention of %s/%s: %s (dropped)", task->workflow_id, task->run_id,
                    msg ? msg : td_strerror(rc));
        td_hist__task_ack(task);
    }
}

void td_hist__retention_fire(td_hist_task_t *task)
{
    td_hist__delete_run(task->shard->h, task->namespace_id, task->workflow_id, task->run_id,
                        TD_HIST_DELETE_CLOSED, td_hist_retention_done, task);
}
