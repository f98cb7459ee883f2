/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Routing keys of internal calls (see svc.h): which key of its role's ring a request names.
 *
 *   history   the shard of (namespace id, workflow id): from the task token when the request
 *             carries one (the token names the run), else the top-level namespace_id and the
 *             first workflow_id found breadth-first in the request (request.workflow_id,
 *             request.workflow_execution.workflow_id, execution.workflow_id, ...). The key is
 *             the shard id in decimal, so a shard moves as a whole.
 *   matching  "<namespace id>/<task queue name>": the top-level namespace_id and the first
 *             task_queue found (TaskQueue.name), or sticky_task_queue; for a query answer
 *             the namespace and task queue of its query token.
 *   other     the namespace id.
 *
 * Found by descriptor (field names), so a new method whose request follows the same shape
 * routes without a table entry. Pure functions.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "roles/history/hist.h"
#include "roles/history/ms/ms_token.h"
#include "roles/svc.h"

#define TD_SVC_ROUTE_DEPTH 4

/* The value of a singular string or bytes field by name, or NULL. */
static const void *td_route_field(const ProtobufCMessage *m, const char *name, int type)
{
    const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);

    if (f == NULL || f->label == PROTOBUF_C_LABEL_REPEATED || (int)f->type != type) {
        return NULL;
    }
    return (const char *)m + f->offset;
}

/* Breadth-first search, up to TD_SVC_ROUTE_DEPTH levels of sub-messages (the first element
 * of a repeated one), for a field called name of the given type; returns a pointer to its
 * value in the message, or NULL. */
static const void *td_route_find(const ProtobufCMessage *root, const char *name, int type)
{
    const ProtobufCMessage *queue[64];
    int depth[64], head = 0, tail = 0;

    queue[tail] = root;
    depth[tail++] = 0;
    while (head < tail) {
        const ProtobufCMessage *m = queue[head];
        int d = depth[head++];
        const void *v = td_route_field(m, name, type);

        if (v != NULL) {
            return v;
        }
        if (d == TD_SVC_ROUTE_DEPTH) {
            continue;
        }
        for (unsigned i = 0; i < m->descriptor->n_fields && tail < 64; i++) {
            const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
            const ProtobufCMessage *sub = NULL;

            if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
                continue;
            }
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
                if (n > 0) {
                    sub = (*(ProtobufCMessage *const *const *)((const char *)m + f->offset))[0];
                }
            } else {
                sub = *(ProtobufCMessage *const *)((const char *)m + f->offset);
            }
            if (sub != NULL) {
                queue[tail] = sub;
                depth[tail++] = d + 1;
            }
        }
    }
    return NULL;
}

static const char *td_route_str(const ProtobufCMessage *m, const char *name, int deep)
{
    const char *const *v = deep ? td_route_find(m, name, PROTOBUF_C_TYPE_STRING)
                                : td_route_field(m, name, PROTOBUF_C_TYPE_STRING);
    return v != NULL && *v != NULL ? *v : "";
}

static const ProtobufCBinaryData *td_route_token(const ProtobufCMessage *m)
{
    const ProtobufCBinaryData *t = td_route_find(m, "task_token", PROTOBUF_C_TYPE_BYTES);
    return t != NULL && t->len > 0 ? t : NULL;
}

void td_svc_matching_key(const char *namespace_id, const char *task_queue, char *key, size_t keylen)
{
    snprintf(key, keylen, "%s/%s", namespace_id, task_queue);
}

int td_svc_route_role(const char *path)
{
    if (strncmp(path, TD_SVC_HISTORY, strlen(TD_SVC_HISTORY)) == 0) {
        return TD_ROLE_HISTORY;
    }
    if (strncmp(path, TD_SVC_MATCHING, strlen(TD_SVC_MATCHING)) == 0) {
        return TD_ROLE_MATCHING;
    }
    return 0;
}

int td_svc_route_key(const char *path, const ProtobufCMessage *req, int num_shards,
                     td_arena_t *arena, char *key, size_t keylen)
{
    int role = td_svc_route_role(path);
    const char *ns = req != NULL ? td_route_str(req, "namespace_id", 0) : "";
    const ProtobufCBinaryData *tok = req != NULL ? td_route_token(req) : NULL;

    if (role == TD_ROLE_HISTORY) {
        const char *wf = td_route_str(req, "workflow_id", 1);
        Temporald__Token__Task *t = NULL;

        if (tok != NULL && td_ms_token_decode(tok->data, tok->len, arena, &t) == TD_OK) {
            ns = t->namespace_id;
            wf = t->workflow_id;
        }
        snprintf(key, keylen, "%d", td_hist_shard_of(ns, wf, num_shards > 0 ? num_shards : 1));
        return role;
    }
    if (role == TD_ROLE_MATCHING) {
        const char *tq = "";
        const ProtobufCMessage *const *tqm =
                td_route_find(req, "task_queue", PROTOBUF_C_TYPE_MESSAGE);
        Temporald__Token__QueryTask *q = NULL;

        if (tqm != NULL && *tqm != NULL) {
            tq = td_route_str(*tqm, "name", 0);
        } else if (*td_route_str(req, "sticky_task_queue", 0) != '\0') {
            tq = td_route_str(req, "sticky_task_queue", 0);
        } else if (tok != NULL &&
                   td_ms_query_token_decode(tok->data, tok->len, arena, &q) == TD_OK) {
            ns = q->namespace_id;
            tq = q->task_queue;
        }
        td_svc_matching_key(ns, tq, key, keylen);
        return role;
    }
    snprintf(key, keylen, "%s", ns);
    return role;
}
