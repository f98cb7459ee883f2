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
#include "temporal/api/update/v1/message.pb-c.h"
#include "uuid.h"

size_t td_fe__max_id_len(const td_server_t *srv)
{
    long long v = srv != NULL && srv->config != NULL
                          ? td_config_dyn_int(srv->config, "limit.maxIDLength", TD_FE_MAX_ID_LEN)
                          : TD_FE_MAX_ID_LEN;
    return v > 0 ? (size_t)v : TD_FE_MAX_ID_LEN;
}

/* The id and name fields of public requests, by field name, with the name their length
 * error gives them. */
static const struct {
    const char *field, *label;
} td_fe_id_fields[] = {
    { "namespace", "Namespace" },    { "workflow_id", "WorkflowId" },
    { "run_id", "RunId" },           { "first_execution_run_id", "FirstExecutionRunId" },
    { "request_id", "RequestId" },   { "identity", "Identity" },
    { "signal_name", "SignalName" }, { "activity_id", "ActivityId" },
    { "update_id", "UpdateId" },     { "schedule_id", "ScheduleId" },
    { "query_type", "QueryType" },   { "sticky_task_queue", "StickyTaskQueue" },
    { "task_queue", "TaskQueue" },
};

/* Messages whose "name" field is an id, with its label. */
static const struct {
    const ProtobufCMessageDescriptor *d;
    const char *label;
} td_fe_name_msgs[] = {
    { &temporal__api__taskqueue__v1__task_queue__descriptor, "TaskQueue" },
    { &temporal__api__common__v1__workflow_type__descriptor, "WorkflowType" },
    { &temporal__api__common__v1__activity_type__descriptor, "ActivityType" },
    { &temporal__api__update__v1__input__descriptor, "UpdateName" },
};

/* Nested messages whose ids are checked: the requests' own nested types and the few common
 * ones that carry ids. Payloads, failures, commands, protocol messages and links are not
 * entered (their fields are user data or are checked where they are applied). */
static int td_fe_id_descend(const ProtobufCMessageDescriptor *d)
{
    static const char *const prefixes[] = {
        "temporal.api.workflowservice.v1.",
        "temporal.api.common.v1.WorkflowExecution",
        "temporal.api.common.v1.WorkflowType",
        "temporal.api.common.v1.ActivityType",
        "temporal.api.taskqueue.v1.TaskQueue",
        "temporal.api.taskqueue.v1.StickyExecutionAttributes",
        "temporal.api.update.v1.",
        "temporal.api.query.v1.WorkflowQuery",
    };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (strncmp(d->name, prefixes[i], strlen(prefixes[i])) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *td_fe_id_label(const ProtobufCMessageDescriptor *d, const char *field)
{
    for (size_t i = 0; i < sizeof(td_fe_name_msgs) / sizeof(td_fe_name_msgs[0]); i++) {
        if (d == td_fe_name_msgs[i].d) {
            return strcmp(field, "name") == 0 ? td_fe_name_msgs[i].label : NULL;
        }
    }
    for (size_t i = 0; i < sizeof(td_fe_id_fields) / sizeof(td_fe_id_fields[0]); i++) {
        if (strcmp(field, td_fe_id_fields[i].field) == 0) {
            return td_fe_id_fields[i].label;
        }
    }
    return NULL;
}

/* The label of the first id field of m longer than max (depth first), or NULL. */
static const char *td_fe_id_walk(const ProtobufCMessage *m, size_t max, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *bad = NULL;

    for (unsigned i = 0; i < d->n_fields && bad == NULL && depth < 16; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        size_t n = 1;
        void *const *v = (void *const *)(base + f->offset);

        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id) {
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
            v = *(void *const *const *)(base + f->offset);
        }
        for (size_t k = 0; k < n && bad == NULL; k++) {
            if (v[k] == NULL) {
                continue;
            }
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *label = td_fe_id_label(d, f->name);
                if (label != NULL && strlen(v[k]) > max) {
                    bad = label;
                }
            } else if (td_fe_id_descend(f->descriptor)) {
                bad = td_fe_id_walk(v[k], max, depth + 1);
            }
        }
    }
    return bad;
}

const char *td_fe__check_id_lengths(td_fe_call_t *x, const ProtobufCMessage *req)
{
    const char *label = req != NULL ? td_fe_id_walk(req, td_fe__max_id_len(x->srv), 0) : NULL;
    return label != NULL ? td_fe__msg(x, "%s length exceeds limit.", label) : NULL;
}

const char *td_fe__check_required_id(td_fe_call_t *x, const char *field, const char *v)
{
    return v == NULL || v[0] == '\0' ? td_fe__msg(x, "%s is not set on request.", field)
                                     : td_fe__check_optional_id(x, field, v);
}

const char *td_fe__check_optional_id(td_fe_call_t *x, const char *field, const char *v)
{
    return v != NULL && strlen(v) > td_fe__max_id_len(x->srv)
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
    } else if (strlen(tq->name) > td_fe__max_id_len(x->srv)) {
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
