/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for protobuf decoding as the server does it: the first input byte picks a
 * request type that handlers receive (or a message the layer itself decodes), the rest is
 * unpacked into a call arena through td_arena_pb(), then packed again.
 */
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "google/rpc/status.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "mem.h"
#include "temporal/api/common/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const fz_types[] = {
    &temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor,
    &temporal__api__workflowservice__v1__poll_workflow_task_queue_request__descriptor,
    &temporal__api__workflowservice__v1__respond_workflow_task_completed_request__descriptor,
    &temporal__api__workflowservice__v1__get_workflow_execution_history_response__descriptor,
    &temporal__api__workflowservice__v1__signal_with_start_workflow_execution_request__descriptor,
    &temporal__api__workflowservice__v1__update_workflow_execution_request__descriptor,
    &temporal__api__common__v1__payload__descriptor,
    &google__rpc__status__descriptor,
    &grpc__health__v1__health_check_request__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_arena_t a;
    ProtobufCMessage *m;

    if (size < 1) {
        return 0;
    }
    td_arena_init(&a, 1024);
    m = protobuf_c_message_unpack(fz_types[data[0] % TD_ARRAY_LEN(fz_types)], td_arena_pb(&a),
                                  size - 1, data + 1);
    if (m != NULL) {
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = td_arena_alloc(&a, n);
        protobuf_c_message_pack(m, buf);
    }
    td_arena_destroy(&a);
    return 0;
}
