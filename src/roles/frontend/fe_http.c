/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP API gateway (see fe_http.h). A request is matched against the route table (the
 * pattern with the most literal segments wins), its message is built from the body (proto3
 * JSON), the path variables and, for routes without a body, the query string, and it is
 * handed to the gRPC method's registered handler through td_rpc_local_call_md, with the
 * namespace and the caller's authorization headers as metadata. The answer is encoded back
 * to JSON. Query options: ?pretty indents, ?noPayloadShorthand turns the shorthand off.
 *
 * Design notes: an HTTP call
 *
 *   BUILD --bad input--> ANSWERED (400 Status JSON)
 *     '--dispatched--> IN_CALL --handler ends--> ANSWERED (JSON or Status JSON)
 *                         '--client gone--> CANCELLED --handler ends--> FREED
 *
 * The call context (hcall) owns the request arena; it is freed when the handler's end
 * arrives (td_rpc_local_fn), which may happen inside td_rpc_local_call_md itself.
 */
#define TD_LOG_COMPONENT "http-api"

#include "roles/frontend/fe_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "net/pbjson.h"
#include "temporal/api/common/v1/message.pb-c.h"

#define TD_HTTP_MAX_SEGS        16
#define TD_HTTP_CALL_TIMEOUT_MS 70000

typedef struct {
    const td_http_route_def_t *def;
    char *copy; /* the pattern, split in place into seg */
    int nseg;
    char *seg[TD_HTTP_MAX_SEGS]; /* literal, or "{field.path}" */
    int literals;
    char grpc_path[256];
} route_t;

struct td_fe_http_s {
    td_loop_t *loop;
    td_rpc_server_t *rpc;
    route_t *routes;
    int n_routes;
    int n_api; /* routes[0..n_api) are the API's; the rest the Web UI's extras */
};

/* Routes the Web UI needs that Temporal's API does not bind. */
static const td_http_route_def_t td_ui_route_defs[] = {
    { "temporal.api.workflowservice.v1.WorkflowService", "DeleteWorkflowExecution", "DELETE",
      "/api/v1/namespaces/{namespace}/workflows/{workflow_execution.workflow_id}", "" },
};

typedef struct {
    td_fe_http_t *g;
    td_http_req_t *r;
    td_arena_t arena;
    td_rpc_call_t *call;
    int shorthand, pretty;
    int dispatching, ended;
} hcall_t;

/* ---- status mapping and error bodies ---- */

int td_fe_http_status(int code)
{
    switch (code) {
    case TD_GRPC_OK:
        return 200;
    case TD_GRPC_CANCELLED:
        return 499;
    case TD_GRPC_INVALID_ARGUMENT:
    case TD_GRPC_FAILED_PRECONDITION:
    case TD_GRPC_OUT_OF_RANGE:
        return 400;
    case TD_GRPC_DEADLINE_EXCEEDED:
        return 504;
    case TD_GRPC_NOT_FOUND:
        return 404;
    case TD_GRPC_ALREADY_EXISTS:
    case TD_GRPC_ABORTED:
        return 409;
    case TD_GRPC_PERMISSION_DENIED:
        return 403;
    case TD_GRPC_UNAUTHENTICATED:
        return 401;
    case TD_GRPC_RESOURCE_EXHAUSTED:
        return 429;
    case TD_GRPC_UNIMPLEMENTED:
        return 501;
    case TD_GRPC_UNAVAILABLE:
        return 503;
    default:
        return 500;
    }
}

static void send_json(td_http_req_t *r, int status, json_t *j, int pretty)
{
    char *text = json_dumps(j, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_REAL_PRECISION(17) |
                                       JSON_ENCODE_ANY);
    if (text == NULL) {
        static const char oops[] = "{\"code\":13,\"message\":\"response not encodable\"}";
        td_http_respond(r, 500, "application/json", NULL, oops, sizeof(oops) - 1);
    } else {
        td_http_respond(r, status, "application/json", NULL, text, strlen(text));
        free(text);
    }
}

static json_t *status_json(int code, const char *message, const ProtobufCMessage *detail)
{
    json_t *st = json_object();
    json_t *details = json_array();
    json_object_set_new(st, "code", json_integer(code));
    json_object_set_new(st, "message", json_string(message != NULL ? message : ""));
    if (json_object_get(st, "message") == NULL) {
        json_object_set_new(st, "message", json_string("(message not UTF-8)"));
    }
    if (detail != NULL) {
        json_t *any = json_object();
        json_t *fields = td_pbjson_encode(detail, NULL);
        char url[256];
        snprintf(url, sizeof(url), "type.googleapis.com/%s", detail->descriptor->name);
        json_object_set_new(any, "@type", json_string(url));
        json_object_update(any, fields);
        json_decref(fields);
        json_array_append_new(details, any);
    }
    json_object_set_new(st, "details", details);
    return st;
}

static void fail_status_http(td_http_req_t *r, int http, int code, const char *message,
                             const ProtobufCMessage *detail, int pretty)
{
    json_t *st = status_json(code, message, detail);
    send_json(r, http, st, pretty);
    json_decref(st);
}

static void fail_status(td_http_req_t *r, int code, const char *message,
                        const ProtobufCMessage *detail, int pretty)
{
    fail_status_http(r, td_fe_http_status(code), code, message, detail, pretty);
}

void td_fe_http_fail(td_http_req_t *r, int grpc_code, const char *message)
{
    fail_status(r, grpc_code, message, NULL, 0);
}

/* ---- payload shorthand (Temporal's HTTP API default) ---- */

typedef Temporal__Api__Common__V1__Payload payload_t;
typedef Temporal__Api__Common__V1__Payloads payloads_t;
typedef Temporal__Api__Common__V1__Payload__MetadataEntry payload_md_t;

static const ProtobufCBinaryData *payload_md(const payload_t *p, const char *key)
{
    for (size_t i = 0; i < p->n_metadata; i++) {
        if (p->metadata[i]->key != NULL && strcmp(p->metadata[i]->key, key) == 0) {
            return &p->metadata[i]->value;
        }
    }
    return NULL;
}

static int bin_is(const ProtobufCBinaryData *b, const char *s)
{
    return b != NULL && b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

/* The shorthand value of one payload, or NULL when it has none (the ordinary form is used). */
static json_t *payload_shorthand(const payload_t *p)
{
    const ProtobufCBinaryData *enc = payload_md(p, "encoding");
    json_t *v;
    if (p->n_external_payloads > 0) {
        return NULL;
    }
    if (bin_is(enc, "binary/null")) {
        return json_null();
    }
    if (bin_is(enc, "json/plain") && p->n_metadata == 1) {
        return json_loadb((const char *)p->data.data, p->data.len, JSON_DECODE_ANY, NULL);
    }
    if (bin_is(enc, "json/protobuf") && p->n_metadata == 2) {
        const ProtobufCBinaryData *mt = payload_md(p, "messageType");
        if (mt == NULL || mt->len == 0) {
            return NULL;
        }
        v = json_loadb((const char *)p->data.data, p->data.len, 0, NULL);
        if (v != NULL) {
            json_object_set_new(v, "_protoMessageType",
                                json_stringn((const char *)mt->data, mt->len));
        }
        return v;
    }
    return NULL;
}

static json_t *hook_payload_encode(const ProtobufCMessage *m, const td_pbjson_opts_t *o)
{
    (void)o;
    return payload_shorthand((const payload_t *)m);
}

static json_t *hook_payloads_encode(const ProtobufCMessage *m, const td_pbjson_opts_t *o)
{
    const payloads_t *ps = (const payloads_t *)m;
    json_t *arr = json_array();
    (void)o;
    for (size_t i = 0; i < ps->n_payloads; i++) {
        json_t *v = payload_shorthand(ps->payloads[i]);
        if (v == NULL) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, v);
    }
    return arr;
}

static void payload_set(payload_t *p, td_arena_t *a, const char *enc, const char *mtype,
                        const char *data, size_t len)
{
    size_t n = mtype != NULL ? 2 : 1;
    p->metadata = td_arena_calloc(a, n * sizeof(*p->metadata));
    for (size_t i = 0; i < n; i++) {
        payload_md_t *e = td_arena_calloc(a, sizeof(*e));
        const char *v = i == 0 ? enc : mtype;
        temporal__api__common__v1__payload__metadata_entry__init(e);
        e->key = td_arena_strdup(a, i == 0 ? "encoding" : "messageType");
        e->value.data = td_arena_memdup(a, v, strlen(v));
        e->value.len = strlen(v);
        p->metadata[i] = e;
    }
    p->n_metadata = n;
    p->data.data = len > 0 ? td_arena_memdup(a, data, len) : NULL;
    p->data.len = len;
}

/* Whether j is an ordinary payload object: {"metadata": {...base64...}, "data": "..."} or
 * binary/null metadata without data. */
static int payload_is_ordinary(const json_t *j)
{
    const json_t *md = json_object_get(j, "metadata");
    const json_t *data = json_object_get(j, "data");
    const char *k;
    json_t *v;
    if (!json_is_object(md) || json_object_get(md, "encoding") == NULL) {
        return 0;
    }
    json_object_foreach((json_t *)md, k, v)
    {
        if (!json_is_string(v)) {
            return 0;
        }
    }
    if (data == NULL) {
        return json_object_size(j) == 1;
    }
    return json_is_string(data) && json_object_size(j) == 2;
}

static int hook_payload_decode(const json_t *j, ProtobufCMessage *m, td_arena_t *a,
                               const td_pbjson_opts_t *o, char *err, size_t errlen)
{
    payload_t *p = (payload_t *)m;
    char *text;
    (void)o;
    if (json_is_null(j)) {
        payload_set(p, a, "binary/null", NULL, NULL, 0);
        return 1;
    }
    if (json_is_object(j) && payload_is_ordinary(j)) {
        return 0;
    }
    if (json_is_object(j) && json_is_string(json_object_get(j, "_protoMessageType"))) {
        json_t *copy = json_copy((json_t *)j);
        char *mt = td_arena_strdup(a, json_string_value(json_object_get(j, "_protoMessageType")));
        json_object_del(copy, "_protoMessageType");
        text = json_dumps(copy, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(copy);
        if (text == NULL) {
            snprintf(err, errlen, "payload not encodable");
            return TD_EINVAL;
        }
        payload_set(p, a, "json/protobuf", mt, text, strlen(text));
        free(text);
        return 1;
    }
    text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    if (text == NULL) {
        snprintf(err, errlen, "payload not encodable");
        return TD_EINVAL;
    }
    payload_set(p, a, "json/plain", NULL, text, strlen(text));
    free(text);
    return 1;
}

static int hook_payloads_decode(const json_t *j, ProtobufCMessage *m, td_arena_t *a,
                                const td_pbjson_opts_t *o, char *err, size_t errlen)
{
    payloads_t *ps = (payloads_t *)m;
    size_t n;
    if (!json_is_array(j)) {
        return 0;
    }
    n = json_array_size(j);
    ps->payloads = td_arena_calloc(a, (n + 1) * sizeof(*ps->payloads));
    for (size_t i = 0; i < n; i++) {
        payload_t *p = td_arena_calloc(a, sizeof(*p));
        int rc;
        temporal__api__common__v1__payload__init(p);
        rc = hook_payload_decode(json_array_get(j, i), &p->base, a, o, err, errlen);
        if (rc == 0) {
            rc = td_pbjson_decode_into(json_array_get(j, i), &p->base, a, NULL, err, errlen);
            rc = rc == TD_OK ? 1 : rc;
        }
        if (rc < 0) {
            return rc;
        }
        ps->payloads[i] = p;
    }
    ps->n_payloads = n;
    return 1;
}

static const td_pbjson_hook_t shorthand_hooks[] = {
    { "temporal.api.common.v1.Payload", hook_payload_encode, hook_payload_decode },
    { "temporal.api.common.v1.Payloads", hook_payloads_encode, hook_payloads_decode },
};
static const td_pbjson_opts_t opts_shorthand = { shorthand_hooks, 2, NULL, 0 };
static const td_pbjson_opts_t opts_plain = { NULL, 0, NULL, 0 };

const td_pbjson_opts_t *td_fe_http_json_opts(int shorthand)
{
    return shorthand ? &opts_shorthand : &opts_plain;
}

/* ---- routes ---- */

static int split_path(char *p, char **segs, int max)
{
    int n = 0;
    if (*p == '/') {
        p++;
    }
    while (p != NULL && *p != '\0') {
        if (n == max) {
            return -1;
        }
        segs[n++] = strsep(&p, "/");
    }
    return n;
}

td_fe_http_t *td_fe_http_new(td_loop_t *loop, td_rpc_server_t *rpc)
{
    td_fe_http_t *g = td_calloc(1, sizeof(*g));
    g->loop = loop;
    g->rpc = rpc;
    int n_ui = (int)(sizeof(td_ui_route_defs) / sizeof(td_ui_route_defs[0]));
    g->routes = td_calloc((size_t)(td_http_route_defs_count + n_ui) + 1, sizeof(route_t));
    for (int i = 0; i < td_http_route_defs_count + n_ui; i++) {
        const td_http_route_def_t *d = i < td_http_route_defs_count
                                               ? &td_http_route_defs[i]
                                               : &td_ui_route_defs[i - td_http_route_defs_count];
        if (i == td_http_route_defs_count) {
            g->n_api = g->n_routes;
        }
        route_t *rt = &g->routes[g->n_routes];
        char *copy = td_strdup(d->pattern);
        int n = split_path(copy, rt->seg, TD_HTTP_MAX_SEGS);
        if (n < 0) {
            td_free(copy);
            continue;
        }
        rt->def = d;
        rt->copy = copy;
        rt->nseg = n;
        for (int k = 0; k < n; k++) {
            rt->literals += rt->seg[k][0] != '{';
        }
        snprintf(rt->grpc_path, sizeof(rt->grpc_path), "/%s/%s", d->service, d->method);
        g->n_routes++;
    }
    return g;
}

void td_fe_http_free(td_fe_http_t *g)
{
    if (g == NULL) {
        return;
    }
    for (int i = 0; i < g->n_routes; i++) {
        td_free(g->routes[i].copy);
    }
    td_free(g->routes);
    td_free(g);
}

/* The best route for segs: verb and path; *path_only set when a route matched the path
 * with another verb. */
static const route_t *find_route(const td_fe_http_t *g, const char *verb, char **segs, int n,
                                 int ui, int *path_only)
{
    const route_t *best = NULL;
    *path_only = 0;
    for (int i = 0; i < (ui ? g->n_routes : g->n_api); i++) {
        const route_t *rt = &g->routes[i];
        int ok = rt->nseg == n;
        for (int k = 0; ok && k < n; k++) {
            if (rt->seg[k][0] == '{') {
                ok = segs[k][0] != '\0';
            } else {
                ok = strcmp(rt->seg[k], segs[k]) == 0;
            }
        }
        if (!ok) {
            continue;
        }
        if (strcmp(rt->def->verb, verb) != 0 &&
            !(strcmp(verb, "HEAD") == 0 && strcmp(rt->def->verb, "GET") == 0)) {
            *path_only = 1;
            continue;
        }
        if (best == NULL || rt->literals > best->literals) {
            best = rt;
        }
    }
    return best;
}

/* GET / or /api/v1: every route of the API with the RPC it calls (an RPC temporald does not
 * serve answers UNIMPLEMENTED through its registered handler, as over gRPC). */
static void send_route_list(td_fe_http_t *g, td_http_req_t *r, int pretty)
{
    json_t *list = json_array(), *top = json_object();
    for (int i = 0; i < g->n_api; i++) {
        const route_t *rt = &g->routes[i];
        json_t *o = json_object();
        json_object_set_new(o, "method", json_string(rt->def->verb));
        json_object_set_new(o, "path", json_string(rt->def->pattern));
        json_object_set_new(o, "rpc", json_string(rt->grpc_path + 1));
        json_object_set_new(o, "body", json_string(rt->def->body));
        json_array_append_new(list, o);
    }
    json_object_set_new(top, "routes", list);
    send_json(r, 200, top, pretty);
    json_decref(top);
}

static void hcall_free(hcall_t *h)
{
    td_arena_destroy(&h->arena);
    td_free(h);
}

static void hcall_done(const ProtobufCMessage *resp, int status, const char *message,
                       const ProtobufCMessage *detail, void *arg)
{
    hcall_t *h = arg;
    h->ended = 1;
    h->call = NULL;
    if (status == TD_GRPC_OK && resp != NULL) {
        json_t *j = td_pbjson_encode(resp, h->shorthand ? &opts_shorthand : &opts_plain);
        send_json(h->r, 200, j, h->pretty);
        json_decref(j);
    } else {
        fail_status(h->r, status == TD_GRPC_OK ? TD_GRPC_INTERNAL : status,
                    message != NULL ? message : td_grpc_status_name(status), detail, h->pretty);
    }
    if (!h->dispatching) {
        hcall_free(h);
    }
}

static void hcall_gone(void *arg)
{
    hcall_t *h = arg;
    if (h->call != NULL) {
        td_rpc_local_cancel(h->call);
    }
}

static int is_option(const char *key)
{
    return strcmp(key, "pretty") == 0 || strcmp(key, "noPayloadShorthand") == 0;
}

static void td_fe_http_dispatch(td_fe_http_t *g, td_http_req_t *r, int ui);

void td_fe_http_handle(td_fe_http_t *g, td_http_req_t *r)
{
    td_fe_http_dispatch(g, r, 0);
}

void td_fe_http_handle_ui(td_fe_http_t *g, td_http_req_t *r)
{
    td_fe_http_dispatch(g, r, 1);
}

static void td_fe_http_dispatch(td_fe_http_t *g, td_http_req_t *r, int ui)
{
    hcall_t *h = td_calloc(1, sizeof(*h));
    char *segs[TD_HTTP_MAX_SEGS + 1];
    char *pathcopy = NULL;
    const route_t *rt = NULL;
    const td_rpc_method_t *m = NULL;
    ProtobufCMessage *req = NULL;
    const char *md[16];
    int nmd = 0, n, path_only = 0, code = TD_GRPC_INVALID_ARGUMENT;
    char err[512] = "", key[256], val[4096];
    const char *q;
    size_t blen = 0;
    const char *body = td_http_body(r, &blen);

    h->g = g;
    h->r = r;
    h->shorthand = 1;
    td_arena_init(&h->arena, 4096);
    for (q = td_http_query(r); (q = td_http_query_next(q, key, sizeof(key), val, sizeof(val)));) {
        if (strcmp(key, "pretty") == 0) {
            h->pretty = strcmp(val, "false") != 0;
        } else if (strcmp(key, "noPayloadShorthand") == 0) {
            h->shorthand = strcmp(val, "false") == 0;
        }
    }
    if (td_http_req_state(r) == TD_HTTP_REQ_TOO_LARGE) {
        snprintf(err, sizeof(err), "request body exceeds the limit of %d bytes", 4 << 20);
        fail_status_http(r, 413, TD_GRPC_RESOURCE_EXHAUSTED, err, NULL, h->pretty);
        goto out;
    }
    if (td_http_req_state(r) == TD_HTTP_REQ_LENGTH_NEEDED) {
        fail_status(r, TD_GRPC_INVALID_ARGUMENT, "a request body needs a Content-Length", NULL,
                    h->pretty);
        goto out;
    }
    pathcopy = td_arena_strdup(&h->arena, td_http_path(r));
    n = split_path(pathcopy, segs, TD_HTTP_MAX_SEGS);
    for (int k = 0; k < n; k++) {
        long len = td_http_unescape(segs[k], strlen(segs[k]), segs[k], strlen(segs[k]) + 1);
        if (len < 0 || strlen(segs[k]) != (size_t)len) {
            n = -1;
        }
    }
    if (strcmp(td_http_method(r), "GET") == 0 &&
        (n == 0 || (n == 2 && strcmp(segs[0], "api") == 0 && strcmp(segs[1], "v1") == 0))) {
        send_route_list(g, r, h->pretty);
        goto out;
    }
    rt = n >= 0 ? find_route(g, td_http_method(r), segs, n, ui, &path_only) : NULL;
    if (rt == NULL) {
        snprintf(err, sizeof(err), "%s %s: %s", td_http_method(r), td_http_path(r),
                 path_only ? "method not allowed for this route" : "no such route");
        /* grpc-gateway: a known path with another method is 405 with code UNIMPLEMENTED */
        fail_status_http(r, path_only ? 405 : 404,
                         path_only ? TD_GRPC_UNIMPLEMENTED : TD_GRPC_NOT_FOUND, err, NULL,
                         h->pretty);
        goto out;
    }
    m = td_rpc_server_lookup(g->rpc, rt->grpc_path);
    if (m == NULL || m->req == NULL) {
        snprintf(err, sizeof(err), "%s.%s is not implemented by temporald", rt->def->service,
                 rt->def->method);
        fail_status(r, TD_GRPC_UNIMPLEMENTED, err, NULL, h->pretty);
        goto out;
    }
    /* the body */
    if (rt->def->body[0] == '*') {
        if (td_pbjson_decode_text(m->req, body, blen, &h->arena,
                                  h->shorthand ? &opts_shorthand : &opts_plain, &req, err,
                                  sizeof(err)) != TD_OK) {
            goto bad;
        }
    } else {
        req = td_arena_calloc(&h->arena, m->req->sizeof_message);
        m->req->message_init(req);
        if (rt->def->body[0] != '\0') {
            const ProtobufCFieldDescriptor *f =
                    protobuf_c_message_descriptor_get_field_by_name(m->req, rt->def->body);
            ProtobufCMessage *sub = NULL;
            if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE) {
                snprintf(err, sizeof(err), "route body field %s not found", rt->def->body);
                code = TD_GRPC_INTERNAL;
                goto bad;
            }
            if (td_pbjson_decode_text(f->descriptor, body, blen, &h->arena,
                                      h->shorthand ? &opts_shorthand : &opts_plain, &sub, err,
                                      sizeof(err)) != TD_OK) {
                goto bad;
            }
            *(ProtobufCMessage **)((char *)req + f->offset) = sub;
        } else if (blen > 0 && strspn(body, " \t\r\n") != blen) {
            snprintf(err, sizeof(err), "%s %s takes no request body", rt->def->verb,
                     rt->def->pattern);
            goto bad;
        }
    }
    /* path variables */
    for (int k = 0; k < rt->nseg; k++) {
        if (rt->seg[k][0] == '{') {
            char field[128];
            snprintf(field, sizeof(field), "%.*s", (int)strlen(rt->seg[k]) - 2, rt->seg[k] + 1);
            if (td_pbjson_set_text(req, field, segs[k], &h->arena, err, sizeof(err)) != TD_OK) {
                goto bad;
            }
            if (strcmp(field, "namespace") == 0 && nmd + 2 < 14) {
                md[nmd++] = "temporal-namespace";
                md[nmd++] = td_arena_strdup(&h->arena, segs[k]);
            }
        }
    }
    /* query parameters, for routes without a body */
    if (rt->def->body[0] == '\0') {
        for (q = td_http_query(r);
             (q = td_http_query_next(q, key, sizeof(key), val, sizeof(val)));) {
            if (key[0] == '\0') {
                snprintf(err, sizeof(err), "malformed query string");
                goto bad;
            }
            if (is_option(key)) {
                continue;
            }
            if (td_pbjson_set_text(req, key, val, &h->arena, err, sizeof(err)) != TD_OK) {
                goto bad;
            }
        }
    }
    /* headers passed on as gRPC metadata */
    {
        static const char *const fwd[] = { "authorization", "authorization-extras", "client-name",
                                           "client-version" };
        for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++) {
            const char *v = td_http_header(r, fwd[i]);
            if (v != NULL && nmd + 2 < 15) {
                md[nmd++] = fwd[i];
                md[nmd++] = v;
            }
        }
    }
    md[nmd] = NULL;
    h->dispatching = 1;
    td_http_on_gone(r, hcall_gone, h);
    h->call = td_rpc_local_call_md(g->loop, m, req, td_now_mono_ms() + TD_HTTP_CALL_TIMEOUT_MS, md,
                                   hcall_done, h);
    h->dispatching = 0;
    if (h->ended) {
        hcall_free(h);
    }
    return;
bad:
    fail_status(r, code, err, NULL, h->pretty);
out:
    hcall_free(h);
}

void td_fe_http_serve(td_http_req_t *r, void *ctx)
{
    td_fe_http_handle(ctx, r);
}
