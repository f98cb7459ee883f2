/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request checks of the public API handlers: required fields, length limits, run id form,
 * durations, blob sizes and long-poll deadlines. Each failure message names the field and
 * the rule, worded as Temporal's frontend words it ("WorkflowId is not set on request.") so
 * that SDK error handling and users see the same text. Pure functions over the request;
 * used by the fe_*.c handler files only.
 */
#define TD_LOG_COMPONENT "frontend"

#include <string.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "loop.h"
#include "roles/frontend/fe_int.h"
#include "uuid.h"

const char *td_fe__check_required_id(td_fe_call_t *x, const char *field, const char *v)
{
    return v == NULL || v[0] == '\0' ? td_fe__msg(x, "%s is not set on request.", field)
                                     : td_fe__check_optional_id(x, field, v);
}

const char *td_fe__check_optional_id(td_fe_call_t *x, const char *field, const char *v)
{
    return v != NULL && strlen(v) > TD_FE_MAX_ID_LEN
                   ? td_fe__msg(x, "%s length exceeds limit.", field)
                   : NULL;
}

const char *td_fe__check_run_id(td_fe_call_t *x, const char *v)
{
    return v != NULL && v[0] != '\0' && !td_uuid_valid(v) ? td_fe__msg(x, "Invalid RunId.") : NULL;
}

const char *td_fe__check_execution(td_fe_call_t *x,
                                   const Temporal__Api__Common__V1__WorkflowExecution *e,
                                   int run_id_required)
{
    const char *err = NULL;

    if (e == NULL) {
        err = td_fe__msg(x, "Execution is not set on request.");
    } else if ((err = td_fe__check_required_id(x, "WorkflowId", e->workflow_id)) != NULL) {
        /* err set */
    } else if (run_id_required && (e->run_id == NULL || e->run_id[0] == '\0')) {
        err = td_fe__msg(x, "RunId is not set on request.");
    } else {
        err = td_fe__check_run_id(x, e->run_id);
    }
    return err;
}

const char *td_fe__check_task_queue(td_fe_call_t *x,
                                    const Temporal__Api__Taskqueue__V1__TaskQueue *tq)
{
    const char *err = NULL;

    if (tq == NULL || tq->name == NULL || tq->name[0] == '\0') {
        err = td_fe__msg(x, "TaskQueue is not set on request.");
    } else if (strlen(tq->name) > TD_FE_MAX_ID_LEN) {
        err = td_fe__msg(x, "TaskQueue length exceeds limit.");
    } else if (strncmp(tq->name, "/_sys/", 6) == 0) {
        err = td_fe__msg(x, "TaskQueue name cannot start with the reserved prefix /_sys/.");
    }
    return err;
}

const char *td_fe__check_duration(td_fe_call_t *x, const char *field,
                                  const Google__Protobuf__Duration *d)
{
    return d != NULL && (d->seconds < 0 || d->nanos < 0)
                   ? td_fe__msg(x, "An invalid %s is set on request: it must not be negative.",
                                field)
                   : NULL;
}

size_t td_fe__payloads_size(const Temporal__Api__Common__V1__Payloads *p)
{
    return p != NULL ? protobuf_c_message_get_packed_size(&p->base) : 0;
}

const char *td_fe__check_blob(td_fe_call_t *x, size_t size)
{
    int64_t warn = td_config_dyn_int(x->srv->config, "limit.blobSize.warn", 512 * 1024);

    if (warn > 0 && (int64_t)size > warn) {
        td_log_warn("a payload of %zu bytes exceeds limit.blobSize.warn (%lld)", size,
                    (long long)warn);
    }
    return (int64_t)size > td_fe__blob_limit(x->srv)
                   ? td_fe__msg(x, "Blob data size exceeds limit.")
                   : NULL;
}

int td_fe__check_long_poll(td_fe_call_t *x)
{
    int64_t deadline = td_rpc_deadline(x->call);
    int status = TD_GRPC_OK;

    if (deadline == 0) {
        status = TD_GRPC_INVALID_ARGUMENT;
        td_fe__msg(x, "Context timeout is not set.");
    } else if (deadline - td_now_mono_ms() < TD_FE_MIN_LONG_POLL_MS) {
        status = TD_GRPC_FAILED_PRECONDITION;
        td_fe__msg(x, "Context timeout is too short.");
    }
    return status;
}
