/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTF-8 validation of decoded protobuf messages, driven by their protobuf-c descriptors: every
 * `string` field at any depth (singular, repeated, oneof members, map keys and values) must
 * hold well-formed UTF-8, as proto3 requires and as gRPC servers built on Go's protobuf
 * enforce. `bytes` fields are never inspected. Pure functions; any thread.
 */
#ifndef TD_PB_UTF8_H
#define TD_PB_UTF8_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Whether the n bytes at s are well-formed UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
int td_utf8_valid(const char *s, size_t n);

/* Checks every string field of m. Returns NULL when all are valid, else the descriptor of
 * the first message holding an invalid one and sets *field to that field (depth first, in
 * field order). Nesting deeper than 100 levels is not inspected. */
const ProtobufCMessageDescriptor *td_pb_utf8_check(const ProtobufCMessage *m,
                                                   const ProtobufCFieldDescriptor **field);

#endif
