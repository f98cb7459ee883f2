/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proto3 JSON for protobuf-c messages, driven by the descriptors: lowerCamelCase names (the
 * original names are accepted on input), 64-bit integers as strings, enums by name (numbers
 * accepted), bytes as base64, the well-known types (Timestamp RFC 3339, Duration "1.5s",
 * wrappers, Struct / Value / ListValue, FieldMask, Empty, Any for registered types) and maps.
 * Unknown fields are refused with the path of the field. The JSON text itself is jansson's.
 * Hooks let a caller give one message type its own JSON form (the HTTP API's payload
 * shorthand). Pure functions: no loop, no I/O; decoded messages live in the caller's arena.
 */
#ifndef TD_PBJSON_H
#define TD_PBJSON_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "arena.h"

typedef struct td_pbjson_opts_s td_pbjson_opts_t;

/* A message type with its own JSON form. encode returns a new reference, or NULL to use the
 * ordinary form. decode fills m (initialised, in arena a) and returns 1 when it took j, 0 to
 * use the ordinary form, or a negative TD_E* code with a message in err. */
typedef struct {
    const char *type_name; /* full protobuf name, e.g. "temporal.api.common.v1.Payload" */
    json_t *(*encode)(const ProtobufCMessage *m, const td_pbjson_opts_t *o);
    int (*decode)(const json_t *j, ProtobufCMessage *m, td_arena_t *a, const td_pbjson_opts_t *o,
                  char *err, size_t errlen);
} td_pbjson_hook_t;

struct td_pbjson_opts_s {
    const td_pbjson_hook_t *hooks; /* NULL = none */
    int n_hooks;
    /* Message types google.protobuf.Any may carry (looked up by full name). */
    const ProtobufCMessageDescriptor *const *any_types;
    int n_any_types;
};

/* Decodes j (an object) into m, which must be initialised and live in arena a (fields set
 * before are kept unless j sets them). Returns TD_OK, or TD_EINVAL with one line in err
 * naming the field path ("execution.workflowId: expected a string"). */
int td_pbjson_decode_into(const json_t *j, ProtobufCMessage *m, td_arena_t *a,
                          const td_pbjson_opts_t *o, char *err, size_t errlen);
/* Parses JSON text and decodes it into a new message of type d in arena a (*out). An empty
 * text is an empty message. Same errors, malformed JSON included. */
int td_pbjson_decode_text(const ProtobufCMessageDescriptor *d, const char *text, size_t n,
                          td_arena_t *a, const td_pbjson_opts_t *o, ProtobufCMessage **out,
                          char *err, size_t errlen);
/* Sets the field at a dotted path of original or camel names ("execution.workflow_id") from
 * the text of one value as it appears in a URL: strings as is, numbers and enum names and
 * "true"/"false", bytes as base64, Timestamp / Duration in their JSON form. A repeated field
 * gets the value appended. Nested messages are created on the way. TD_OK or TD_EINVAL. */
int td_pbjson_set_text(ProtobufCMessage *m, const char *path, const char *value, td_arena_t *a,
                       char *err, size_t errlen);
/* Encodes m as a JSON object (a new reference; fields at their default value are left out). */
json_t *td_pbjson_encode(const ProtobufCMessage *m, const td_pbjson_opts_t *o);
/* lowerCamelCase JSON name of a field name ("workflow_id" -> "workflowId") into out. */
void td_pbjson_json_name(const char *name, char *out, size_t outlen);

#endif
