/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-run limits of the history service, read from Temporal's dynamic config keys: history
 * length and size (a warning logged when a run crosses limit.history*.warn; past
 * limit.history*.error a still-running run is terminated with Temporal's reason by
 * "history-service" and the transition that crossed the limit is dropped, its caller answered
 * InvalidArgument). Pending-count, signal and blob limits are enforced by the mutable-state
 * transitions (ms/), which get the values through td_ms_txn_t.limits. Loop thread; called by
 * history.c and hist_ctx.c.
 */
#define TD_LOG_COMPONENT "history"

#include "error.h"
#include "log.h"
#include "roles/history/hist_int.h"

void td_hist__limits_load(td_ms_limits_t *lim, const td_config_t *config)
{
    const td_ms_limits_t *d = td_ms_limits_default();

    lim->history_count_warn =
            td_config_dyn_int(config, "limit.historyCount.warn", d->history_count_warn);
    lim->history_count_error =
            td_config_dyn_int(config, "limit.historyCount.error", d->history_count_error);
    lim->history_size_warn =
            td_config_dyn_int(config, "limit.historySize.warn", d->history_size_warn);
    lim->history_size_error =
            td_config_dyn_int(config, "limit.historySize.error", d->history_size_error);
    lim->suggest_can_count = td_config_dyn_int(config, "limit.historyCount.suggestContinueAsNew",
                                               d->suggest_can_count);
    lim->suggest_can_size = td_config_dyn_int(config, "limit.historySize.suggestContinueAsNew",
                                              d->suggest_can_size);
    lim->pending_activities =
            td_config_dyn_int(config, "limit.numPendingActivities.error", d->pending_activities);
    lim->pending_children =
            td_config_dyn_int(config, "limit.numPendingChildExecutions.error", d->pending_children);
    lim->pending_signals =
            td_config_dyn_int(config, "limit.numPendingSignals.error", d->pending_signals);
    lim->pending_cancels =
            td_config_dyn_int(config, "limit.numPendingCancelRequests.error", d->pending_cancels);
    lim->max_signals =
            td_config_dyn_int(config, "history.maximumSignalsPerExecution", d->max_signals);
    lim->blob_warn = td_config_dyn_int(config, "limit.blobSize.warn", d->blob_warn);
    lim->blob_error = td_config_dyn_int(config, "limit.blobSize.error", d->blob_error);
}

/* Whether v went past limit (> 0) in this transition. */
static int td_hist_crossed(int64_t before, int64_t after, int64_t limit)
{
    return limit > 0 && before <= limit && after > limit;
}

int td_hist__limit_check(td_hist_op_t *op, const td_ms_t *ms, int64_t count0, int64_t size0)
{
    const td_ms_limits_t *lim = &op->ctx->shard->h->limits;
    int64_t count = ms->next_event_id - 1, size = ms->history_size_bytes;

    if (ms->state != TD_MS_STATE_RUNNING || op->read_only) {
        return 0;
    }
    if (lim->history_size_error > 0 && size > lim->history_size_error) {
        td_log_warn("%s/%s: history size %lld bytes exceeds limit.historySize.error (%lld): "
                    "terminating the run",
                    ms->workflow_id, ms->run_id, (long long)size,
                    (long long)lim->history_size_error);
        op->limit_reason = TD_MS_HISTORY_SIZE_EXCEEDED;
        return 1;
    }
    if (lim->history_count_error > 0 && count > lim->history_count_error) {
        td_log_warn("%s/%s: history count %lld exceeds limit.historyCount.error (%lld): "
                    "terminating the run",
                    ms->workflow_id, ms->run_id, (long long)count,
                    (long long)lim->history_count_error);
        op->limit_reason = TD_MS_HISTORY_COUNT_EXCEEDED;
        return 1;
    }
    if (td_hist_crossed(size0, size, lim->history_size_warn)) {
        td_log_warn("%s/%s: history size %lld bytes exceeds limit.historySize.warn (%lld)",
                    ms->workflow_id, ms->run_id, (long long)size,
                    (long long)lim->history_size_warn);
    }
    if (td_hist_crossed(count0, count, lim->history_count_warn)) {
        td_log_warn("%s/%s: history count %lld exceeds limit.historyCount.warn (%lld)",
                    ms->workflow_id, ms->run_id, (long long)count,
                    (long long)lim->history_count_warn);
    }
    return 0;
}

int td_hist__limit_terminate(td_hist_op_t *op, td_ms_t *ms)
{
    int rc;

    if (ms == NULL) {
        op->txn.msg = "workflow execution not found";
        return TD_ENOTFOUND;
    }
    rc = td_ms_terminate(ms, &op->txn, op->limit_reason, NULL, TD_MS_IDENTITY_HISTORY);
    if (rc != TD_OK) {
        return rc; /* closed meanwhile: the caller sees why */
    }
    op->txn.msg = op->limit_reason;
    return TD_EINVAL;
}
