/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP API of the frontend: Temporal's google.api.http bindings of WorkflowService and
 * OperatorService (a table generated at build time from the API protos by
 * scripts/gen-http-routes.sh), proto3 JSON in and out (net/pbjson.h) with Temporal's payload
 * shorthand, each call dispatched in process to the very handler the gRPC server routes the
 * method to. Errors are google.rpc.Status JSON with grpc-gateway's HTTP status for the code.
 * The Web UI (fe_ui.c) serves its /api/v1 calls through the same gateway. Loop thread only.
 */
#ifndef TD_FE_HTTP_H
#define TD_FE_HTTP_H

#include "net/http1.h"
#include "net/rpc.h"

/* One row of the generated table. */
typedef struct {
    const char *service; /* "temporal.api.workflowservice.v1.WorkflowService" */
    const char *method;  /* "StartWorkflowExecution" */
    const char *verb;    /* "GET", "POST", "DELETE", ... */
    const char *pattern; /* "/api/v1/namespaces/{namespace}/workflows/{workflow_id}" */
    const char *body;    /* "*", "" (none) or the name of the field the body fills */
} td_http_route_def_t;

extern const td_http_route_def_t td_http_route_defs[];
extern const int td_http_route_defs_count;

typedef struct td_fe_http_s td_fe_http_t;

/* A gateway over the methods registered on rpc (looked up when a route is first used, so it
 * may be created before every handler group registered). */
td_fe_http_t *td_fe_http_new(td_loop_t *loop, td_rpc_server_t *rpc);
void td_fe_http_free(td_fe_http_t *g);
/* Answers one HTTP request: a route of the API, the route list (GET / or /api/v1: method,
 * path, rpc, body), or 404 / 405 as Status JSON. */
void td_fe_http_handle(td_fe_http_t *g, td_http_req_t *r);
/* The same for the Web UI's port: also the UI-only routes (DeleteWorkflowExecution, which
 * has no google.api.http binding, as DELETE /api/v1/namespaces/{ns}/workflows/{id}). */
void td_fe_http_handle_ui(td_fe_http_t *g, td_http_req_t *r);
/* The handler signature of net/http1.h, with ctx = the gateway. */
void td_fe_http_serve(td_http_req_t *r, void *ctx);
/* Answers r with a google.rpc.Status JSON body for grpc_code (HTTP status from the code). */
void td_fe_http_fail(td_http_req_t *r, int grpc_code, const char *message);
/* grpc-gateway's HTTP status for a gRPC code. */
int td_fe_http_status(int grpc_code);
/* The proto3 JSON options of the API: with Temporal's payload shorthand or without. */
const struct td_pbjson_opts_s *td_fe_http_json_opts(int shorthand);

#endif
