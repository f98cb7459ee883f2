/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proto3 JSON (src/net/pbjson.c): every mapping rule read and written on real API types --
 * names, 64-bit integers, enums, bytes, the well-known types, maps, oneofs -- and the errors,
 * which name the path of the offending field.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "net/pbjson.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "temporal/api/history/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

typedef Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest start_t;

/* Decodes text as type d; returns the message (NULL on error, with err filled). */
static ProtobufCMessage *pj_dec(td_arena_t *a, const ProtobufCMessageDescriptor *d,
                                const char *text, char *err, size_t errlen)
{
    ProtobufCMessage *m = NULL;
    err[0] = '\0';
    if (td_pbjson_decode_text(d, text, strlen(text), a, NULL, &m, err, errlen) != TD_OK) {
        return NULL;
    }
    return m;
}

/* The compact JSON text of m (caller frees). */
static char *pj_enc(const ProtobufCMessage *m)
{
    json_t *j = td_pbjson_encode(m, NULL);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return s;
}

/* Decodes then encodes: the canonical text. */
static void pj_round(const ProtobufCMessageDescriptor *d, const char *in, const char *want)
{
    td_arena_t a;
    char err[256];
    ProtobufCMessage *m;
    char *out;
    td_arena_init(&a, 1024);
    m = pj_dec(&a, d, in, err, sizeof(err));
    TD_CHECK_STR(err, "");
    TD_CHECK(m != NULL);
    out = pj_enc(m);
    TD_CHECK_STR(out, want);
    free(out);
    td_arena_destroy(&a);
}

static void pj_bad(const ProtobufCMessageDescriptor *d, const char *in, const char *want)
{
    td_arena_t a;
    char err[256];
    td_arena_init(&a, 1024);
    TD_CHECK(pj_dec(&a, d, in, err, sizeof(err)) == NULL);
    TD_CHECK_CONTAINS(err, want);
    td_arena_destroy(&a);
}

TD_TEST(pbjson_names_and_scalars)
{
    const ProtobufCMessageDescriptor *d =
            &temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor;
    td_arena_t a;
    char err[256];
    start_t *s;
    td_arena_init(&a, 1024);
    /* original and lowerCamel names; enums by full name, short name and number */
    s = (start_t *)pj_dec(&a, d,
                          "{\"workflow_id\":\"w\",\"workflowType\":{\"name\":\"T\"},"
                          "\"taskQueue\":{\"name\":\"q\",\"kind\":\"Sticky\"},"
                          "\"workflowIdReusePolicy\":3,"
                          "\"workflowIdConflictPolicy\":\"WORKFLOW_ID_CONFLICT_POLICY_FAIL\"}",
                          err, sizeof(err));
    TD_CHECK_STR(err, "");
    TD_CHECK_STR(s->workflow_id, "w");
    TD_CHECK_STR(s->workflow_type->name, "T");
    TD_CHECK_INT(s->task_queue->kind, ==,
                 TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_STICKY);
    TD_CHECK_INT(s->workflow_id_reuse_policy, ==, 3);
    TD_CHECK_INT(
            s->workflow_id_conflict_policy, ==,
            TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_CONFLICT_POLICY__WORKFLOW_ID_CONFLICT_POLICY_FAIL);
    td_arena_destroy(&a);
    /* output: lowerCamel, enums by name, defaults left out */
    pj_round(d, "{\"workflow_id\":\"w\",\"task_queue\":{\"kind\":1}}",
             "{\"workflowId\":\"w\",\"taskQueue\":{\"kind\":\"TASK_QUEUE_KIND_NORMAL\"}}");
}

TD_TEST(pbjson_int64_bytes_timestamps)
{
    const ProtobufCMessageDescriptor *ev = &temporal__api__history__v1__history_event__descriptor;
    /* int64 as strings out, strings or numbers in; Timestamp RFC 3339 with offsets in,
     * UTC out with 0/3/6/9 fraction digits */
    pj_round(ev,
             "{\"eventId\":42,\"taskId\":\"9223372036854775807\","
             "\"eventTime\":\"2024-02-29T23:59:59.5+01:00\"}",
             "{\"eventId\":\"42\",\"eventTime\":\"2024-02-29T22:59:59.500Z\","
             "\"taskId\":\"9223372036854775807\"}");
    pj_round(ev, "{\"eventTime\":\"1969-12-31T23:59:59.000000001Z\"}",
             "{\"eventTime\":\"1969-12-31T23:59:59.000000001Z\"}");
    pj_bad(ev, "{\"eventId\":\"12x\"}", "eventId: expected an integer");
    pj_bad(ev, "{\"eventId\":1.5}", "eventId: expected an integer");
    pj_bad(ev, "{\"eventTime\":\"2024-13-01T00:00:00Z\"}", "eventTime: expected an RFC 3339");
    pj_bad(ev, "{\"eventTime\":\"2024-01-01 00:00:00\"}", "eventTime");
    pj_bad(ev, "{\"eventType\":\"EVENT_TYPE_NOPE\"}", "eventType: unknown value");
    /* bytes: standard or URL-safe base64, padding optional; out standard with padding */
    pj_round(&temporal__api__common__v1__payload__descriptor, "{\"data\":\"-_8\"}",
             "{\"data\":\"+/8=\"}");
    pj_bad(&temporal__api__common__v1__payload__descriptor, "{\"data\":\"a\"}",
           "data: expected base64");
    /* durations */
    pj_round(&temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor,
             "{\"workflowRunTimeout\":\"-1.000000500s\",\"workflowTaskTimeout\":\"3s\"}",
             "{\"workflowRunTimeout\":\"-1.000000500s\",\"workflowTaskTimeout\":\"3s\"}");
    pj_bad(&temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor,
           "{\"workflowRunTimeout\":\"3\"}", "workflowRunTimeout: expected a duration");
}

TD_TEST(pbjson_wkt_maps_oneofs)
{
    /* Struct / Value / ListValue keep any JSON */
    pj_round(&google__protobuf__struct__descriptor, "{\"a\":[1,\"x\",true,null,{\"b\":2.5}]}",
             "{\"a\":[1,\"x\",true,null,{\"b\":2.5}]}");
    /* FieldMask: camel paths in JSON, snake paths in the message */
    {
        td_arena_t a;
        char err[128];
        Google__Protobuf__FieldMask *fm;
        char *out;
        td_arena_init(&a, 256);
        fm = (Google__Protobuf__FieldMask *)pj_dec(&a, &google__protobuf__field_mask__descriptor,
                                                   "\"workflowId,memo.fields\"", err, sizeof(err));
        TD_CHECK(fm != NULL);
        TD_CHECK_INT(fm->n_paths, ==, 2);
        TD_CHECK_STR(fm->paths[0], "workflow_id");
        out = pj_enc(&fm->base);
        TD_CHECK_STR(out, "\"workflowId,memo.fields\"");
        free(out);
        td_arena_destroy(&a);
    }
    /* wrappers are their value; int64 wrappers strings */
    pj_round(&google__protobuf__bool_value__descriptor, "true", "true");
    pj_round(&google__protobuf__int64_value__descriptor, "7", "\"7\"");
    /* maps: a JSON object of entries */
    pj_round(&temporal__api__common__v1__payload__descriptor,
             "{\"metadata\":{\"encoding\":\"YQ==\",\"x\":\"\"}}",
             "{\"metadata\":{\"encoding\":\"YQ==\",\"x\":\"\"}}");
    /* oneof: the member set is written even at its default */
    pj_round(&google__protobuf__value__descriptor, "0", "0");
    pj_round(&google__protobuf__value__descriptor, "\"\"", "\"\"");
    /* Any of an unregistered type is refused on input */
    pj_bad(&google__protobuf__any__descriptor, "{\"@type\":\"type.googleapis.com/x.Y\"}",
           "unknown Any type");
}

TD_TEST(pbjson_any_registered)
{
    static const ProtobufCMessageDescriptor *const types[] = {
        &temporal__api__errordetails__v1__not_found_failure__descriptor,
    };
    td_pbjson_opts_t o = { NULL, 0, types, 1 };
    td_arena_t a;
    ProtobufCMessage *m = NULL;
    char err[128] = "";
    const char *in =
            "{\"@type\":\"type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure\","
            "\"currentCluster\":\"c\"}";
    json_t *j;
    char *out;
    td_arena_init(&a, 256);
    TD_CHECK_INT(td_pbjson_decode_text(&google__protobuf__any__descriptor, in, strlen(in), &a, &o,
                                       &m, err, sizeof(err)),
                 ==, TD_OK);
    j = td_pbjson_encode(m, &o);
    out = json_dumps(j, JSON_COMPACT);
    TD_CHECK_STR(out, in);
    free(out);
    json_decref(j);
    td_arena_destroy(&a);
}

TD_TEST(pbjson_errors_name_the_path)
{
    const ProtobufCMessageDescriptor *d =
            &temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor;
    pj_bad(d, "{\"workflowType\":{\"nam\":\"x\"}}", "workflowType.nam: unknown field");
    pj_bad(d, "{\"input\":{\"payloads\":[{},{\"bogus\":1}]}}",
           "input.payloads[1].bogus: unknown field");
    pj_bad(d, "{\"memo\":{\"fields\":{\"k\":{\"data\":5}}}}",
           "memo.fields.k.data: expected base64");
    pj_bad(d, "{\"workflowId\":1}", "workflowId: expected a string");
    pj_bad(d, "[1]", "expected an object");
    pj_bad(d, "{\"workflowId\":\"a\",\"workflowId\":\"b\"}", "malformed JSON");
    pj_bad(d, "{\"requestEagerExecution\":\"yes\"}",
           "requestEagerExecution: expected true or false");
    pj_bad(d, "{\"workflowStartDelay\":\"1s\",", "malformed JSON");
}

TD_TEST(pbjson_set_text)
{
    const ProtobufCMessageDescriptor *d =
            &temporal__api__workflowservice__v1__get_workflow_execution_history_request__descriptor;
    td_arena_t a;
    char err[128] = "";
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryRequest *r;
    td_arena_init(&a, 256);
    r = td_arena_calloc(&a, d->sizeof_message);
    d->message_init(&r->base);
    TD_CHECK_INT(td_pbjson_set_text(&r->base, "execution.workflow_id", "w/1", &a, err, sizeof(err)),
                 ==, TD_OK);
    TD_CHECK_INT(td_pbjson_set_text(&r->base, "execution.runId", "r", &a, err, sizeof(err)), ==,
                 TD_OK);
    TD_CHECK_INT(td_pbjson_set_text(&r->base, "maximumPageSize", "5", &a, err, sizeof(err)), ==,
                 TD_OK);
    TD_CHECK_INT(td_pbjson_set_text(&r->base, "waitNewEvent", "true", &a, err, sizeof(err)), ==,
                 TD_OK);
    TD_CHECK_INT(td_pbjson_set_text(&r->base, "historyEventFilterType", "CLOSE_EVENT", &a, err,
                                    sizeof(err)),
                 ==, TD_OK);
    TD_CHECK_STR(r->execution->workflow_id, "w/1");
    TD_CHECK_STR(r->execution->run_id, "r");
    TD_CHECK_INT(r->maximum_page_size, ==, 5);
    TD_CHECK_INT(r->wait_new_event, ==, 1);
    TD_CHECK_INT(r->history_event_filter_type, ==, 2);
    TD_CHECK_INT(td_pbjson_set_text(&r->base, "execution.nope", "x", &a, err, sizeof(err)), ==,
                 TD_EINVAL);
    TD_CHECK_CONTAINS(err, "execution.nope: unknown field");
    TD_CHECK_INT(td_pbjson_set_text(&r->base, "maximumPageSize", "x", &a, err, sizeof(err)), ==,
                 TD_EINVAL);
    TD_CHECK_CONTAINS(err, "maximumPageSize: expected an integer");
    td_arena_destroy(&a);
}
