/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protobuf messages that carry some of their fields already packed. protobuf-c packs a
 * message's unknown fields verbatim after its known ones; these helpers put pre-encoded
 * bytes there, so a large message that only passes through (a poll response with its
 * history, copied by matching, then written to the wire by the frontend) is encoded once
 * and copied with memcpy afterwards instead of being decoded and encoded again at each hop.
 * A field held this way reads as absent in the C struct: whoever must read it unpacks the
 * packed message. Pure functions over bytes and an arena; any thread.
 */
#ifndef TD_PB_RAW_H
#define TD_PB_RAW_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"

typedef struct {
    const uint8_t *data;
    size_t len;
} td_pb_slice_t;

/* A message of type d whose fields are the top-level fields of the packed message buf,
 * kept packed (unknown fields pointing into buf, which must outlive the result): packing it
 * gives buf back byte for byte. NULL when buf is not a well-formed message at its top level
 * (nested messages are not looked at). */
ProtobufCMessage *td_pb_raw_wrap(td_arena_t *a, const ProtobufCMessageDescriptor *d,
                                 const uint8_t *buf, size_t len);

/* Adds to m the length-delimited field `id` whose payload is the concatenation of parts
 * (copied into a; for a repeated message field, a run of packed messages of the field's
 * type concatenates). The field must not also be set in m's struct. */
void td_pb_raw_add(td_arena_t *a, ProtobufCMessage *m, uint32_t id, const td_pb_slice_t *parts,
                   size_t n_parts);

#endif
