/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry of internal service methods hosted in this process (see svc.h): a sorted
 * array searched by path. Calls to roles on other hosts (the remote branch of td_svc_call) live
 * in svc_net.c.
 */
#include "roles/svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "roles/svc_int.h"
#include "server.h"

typedef struct td_svc_s {
    td_rpc_method_t *v;
    int n, cap;
} td_svc_t;

static int td_svc_cmp(const void *a, const void *b)
{
    return strcmp(((const td_rpc_method_t *)a)->path, ((const td_rpc_method_t *)b)->path);
}

static const td_rpc_method_t *td_svc_find(const td_server_t *srv, const char *path)
{
    const td_svc_t *t = srv->svc;
    td_rpc_method_t key;

    if (t == NULL) {
        return NULL;
    }
    key.path = path;
    return bsearch(&key, t->v, (size_t)t->n, sizeof(*t->v), td_svc_cmp);
}

int td_svc_register(td_server_t *srv, const td_rpc_method_t *m)
{
    td_svc_t *t = srv->svc;

    if (td_svc_find(srv, m->path) != NULL) {
        return TD_EEXIST;
    }
    if (t == NULL) {
        t = srv->svc = td_calloc(1, sizeof(*t));
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->v = td_realloc(t->v, sizeof(*t->v) * (size_t)t->cap);
    }
    t->v[t->n] = *m;
    t->v[t->n].path = td_strdup(m->path);
    t->n++;
    qsort(t->v, (size_t)t->n, sizeof(*t->v), td_svc_cmp);
    return TD_OK;
}

int td_svc_register_all(td_server_t *srv, const td_rpc_method_t *m, int n)
{
    int rc = TD_OK;
    for (int i = 0; i < n && rc == TD_OK; i++) {
        rc = td_svc_register(srv, &m[i]);
    }
    return rc;
}

/* The outcome of a call whose handler is absent from this process and which has no route. */
static void td_svc_missing(const char *path, td_rpc_local_fn done, void *arg)
{
    char msg[300];

    snprintf(msg, sizeof(msg),
             "%s: the role serving it is not hosted in this process, and this process routes "
             "no calls to other hosts (start-dev, or no cluster membership)",
             path);
    done(NULL, TD_GRPC_UNAVAILABLE, msg, NULL, arg);
}

td_rpc_call_t *td_svc_call(td_server_t *srv, const char *path, const ProtobufCMessage *req,
                           int64_t deadline, td_rpc_local_fn done, void *arg)
{
    const td_rpc_method_t *m = td_svc_find(srv, path);

    if (srv->route != NULL && td_svc_route_role(path) != 0) {
        return td_svc__routed_call(srv, m, path, req, deadline, done, arg);
    }
    if (m == NULL) {
        td_svc_missing(path, done, arg);
        return NULL;
    }
    return td_rpc_local_call(srv->loop, m, req, deadline, done, arg);
}

const td_rpc_method_t *td_svc__find(const td_server_t *srv, const char *path)
{
    return td_svc_find(srv, path);
}

int td_svc__count(const td_server_t *srv)
{
    const td_svc_t *t = srv->svc;
    return t != NULL ? t->n : 0;
}

const td_rpc_method_t *td_svc__method(const td_server_t *srv, int i)
{
    const td_svc_t *t = srv->svc;
    return &t->v[i];
}

void td_svc_cancel(td_rpc_call_t *c)
{
    td_rpc_local_cancel(c);
}

void td_svc_free(td_server_t *srv)
{
    td_svc_t *t = srv->svc;
    if (t == NULL) {
        return;
    }
    for (int i = 0; i < t->n; i++) {
        td_free((char *)t->v[i].path);
    }
    td_free(t->v);
    td_free(t);
    srv->svc = NULL;
}
