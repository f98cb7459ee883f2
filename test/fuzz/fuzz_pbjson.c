/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the HTTP API's JSON-to-proto decoder (src/net/pbjson.c with the payload
 * shorthand of fe_http.c): the first input byte picks a request type and whether shorthand is
 * on, the rest is JSON text decoded into a call arena; a decoded message is packed as protobuf
 * and encoded back to JSON, as the gateway would answer it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "error.h"
#include "mem.h"
#include "net/pbjson.h"
#include "roles/frontend/fe_http.h"
#include "google/protobuf/struct.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const fz_types[] = {
    &temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor,
    &temporal__api__workflowservice__v1__signal_workflow_execution_request__descriptor,
    &temporal__api__workflowservice__v1__query_workflow_request__descriptor,
    &temporal__api__workflowservice__v1__get_workflow_execution_history_response__descriptor,
    &temporal__api__workflowservice__v1__signal_with_start_workflow_execution_request__descriptor,
    &temporal__api__workflowservice__v1__update_workflow_execution_request__descriptor,
    &temporal__api__workflowservice__v1__reset_workflow_execution_request__descriptor,
    &google__protobuf__struct__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_arena_t a;
    ProtobufCMessage *m = NULL;
    char err[256];
    const td_pbjson_opts_t *o;

    if (size < 1) {
        return 0;
    }
    o = td_fe_http_json_opts(data[0] & 0x80);
    td_arena_init(&a, 1024);
    if (td_pbjson_decode_text(fz_types[(data[0] & 0x7f) % TD_ARRAY_LEN(fz_types)],
                              (const char *)data + 1, size - 1, &a, o, &m, err,
                              sizeof(err)) == TD_OK) {
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = td_arena_alloc(&a, n + 1);
        json_t *j;
        protobuf_c_message_pack(m, buf);
        j = td_pbjson_encode(m, o);
        free(json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY));
        json_decref(j);
    }
    td_arena_destroy(&a);
    return 0;
}
