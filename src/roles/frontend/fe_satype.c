/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Search attribute types on the way in: every SearchAttributes message of a public request,
 * wherever it sits (a start, a signal-with-start, the start of an update-with-start, the
 * upsert, continue-as-new and child-start commands of a completed workflow task), gets the
 * `type` metadata entry ("Datetime", "KeywordList", ...) on each payload that lacks one, from
 * the namespace's custom attributes or the system attributes SDKs may set. The type is then
 * stored with the value, so every reader (Describe, List, the history, the workflow's own
 * info after a start, an upsert or a continue-as-new) hands SDKs a payload they decode to the
 * right type, as Temporal's servers do on the way out. Deletions (null or empty values) are
 * left untyped. Loop thread; used by fe_common.c.
 */
#include <string.h>

#include "roles/frontend/fe_int.h"
#include "temporal/api/common/v1/message.pb-c.h"

typedef Temporal__Api__Common__V1__Payload td_sat_payload_t;
typedef Temporal__Api__Common__V1__Payload__MetadataEntry td_sat_meta_t;

/* System attributes an SDK may set, with their types. */
static const struct {
    const char *name;
    int type; /* IndexedValueType */
} td_fe_sat_system[] = {
    { "TemporalChangeVersion",
      TEMPORAL__API__ENUMS__V1__INDEXED_VALUE_TYPE__INDEXED_VALUE_TYPE_KEYWORD_LIST },
    { "BinaryChecksums",
      TEMPORAL__API__ENUMS__V1__INDEXED_VALUE_TYPE__INDEXED_VALUE_TYPE_KEYWORD_LIST },
    { "BuildIds", TEMPORAL__API__ENUMS__V1__INDEXED_VALUE_TYPE__INDEXED_VALUE_TYPE_KEYWORD_LIST },
    { "TemporalScheduledById",
      TEMPORAL__API__ENUMS__V1__INDEXED_VALUE_TYPE__INDEXED_VALUE_TYPE_KEYWORD },
    { "TemporalScheduledStartTime",
      TEMPORAL__API__ENUMS__V1__INDEXED_VALUE_TYPE__INDEXED_VALUE_TYPE_DATETIME },
    { "TemporalSchedulePaused",
      TEMPORAL__API__ENUMS__V1__INDEXED_VALUE_TYPE__INDEXED_VALUE_TYPE_BOOL },
};

static int td_fe_sat_type(const td_ns_t *ns, const char *key)
{
    for (size_t i = 0; ns != NULL && ns->rec != NULL && i < ns->rec->n_custom_search_attributes;
         i++) {
        if (strcmp(ns->rec->custom_search_attributes[i]->key, key) == 0) {
            return (int)ns->rec->custom_search_attributes[i]->value;
        }
    }
    for (size_t i = 0; i < sizeof(td_fe_sat_system) / sizeof(td_fe_sat_system[0]); i++) {
        if (strcmp(td_fe_sat_system[i].name, key) == 0) {
            return td_fe_sat_system[i].type;
        }
    }
    return 0;
}

/* Whether a payload's data is a deletion: empty, JSON null or an empty JSON list. */
static int td_fe_sat_is_delete(const td_sat_payload_t *p)
{
    size_t n = p->data.len;
    const char *d = (const char *)p->data.data;

    return n == 0 || (n == 4 && memcmp(d, "null", 4) == 0) || (n == 2 && memcmp(d, "[]", 2) == 0);
}

static void td_fe_sat_apply(td_arena_t *a, const td_ns_t *ns,
                            Temporal__Api__Common__V1__SearchAttributes *sa)
{
    for (size_t i = 0; i < sa->n_indexed_fields; i++) {
        const char *key = sa->indexed_fields[i]->key;
        td_sat_payload_t *p = sa->indexed_fields[i]->value;
        const char *tname;
        td_sat_meta_t **v, *m;
        int has = 0;

        if (key == NULL || p == NULL || td_fe_sat_is_delete(p)) {
            continue;
        }
        for (size_t k = 0; k < p->n_metadata && !has; k++) {
            has = p->metadata[k]->key != NULL && strcmp(p->metadata[k]->key, "type") == 0;
        }
        tname = has ? NULL : td_sa_type_name(td_fe_sat_type(ns, key));
        if (tname == NULL) {
            continue;
        }
        m = td_arena_calloc(a, sizeof(*m));
        temporal__api__common__v1__payload__metadata_entry__init(m);
        m->key = "type";
        m->value.data = (uint8_t *)tname;
        m->value.len = strlen(tname);
        v = td_arena_alloc(a, (p->n_metadata + 1) * sizeof(*v));
        if (p->n_metadata > 0) {
            memcpy(v, p->metadata, p->n_metadata * sizeof(*v));
        }
        v[p->n_metadata++] = m;
        p->metadata = v;
    }
}

/* Messages never entered: user payloads and failures hold no search attributes. */
static int td_fe_sat_skip(const ProtobufCMessageDescriptor *d)
{
    return d == &temporal__api__common__v1__payload__descriptor ||
           d == &temporal__api__common__v1__payloads__descriptor ||
           d == &temporal__api__common__v1__memo__descriptor ||
           d == &temporal__api__common__v1__header__descriptor ||
           strncmp(d->name, "temporal.api.failure.", 21) == 0;
}

static void td_fe_sat_walk(td_arena_t *a, const td_ns_t *ns, ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    if (d == &temporal__api__common__v1__search_attributes__descriptor) {
        td_fe_sat_apply(a, ns, (Temporal__Api__Common__V1__SearchAttributes *)m);
        return;
    }
    for (unsigned i = 0; i < d->n_fields && depth < 32; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *base = (char *)m;
        size_t n = 1;
        ProtobufCMessage **v = (ProtobufCMessage **)(base + f->offset);

        if (f->type != PROTOBUF_C_TYPE_MESSAGE || td_fe_sat_skip(f->descriptor)) {
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id) {
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
            v = *(ProtobufCMessage ***)(base + f->offset);
        }
        for (size_t k = 0; k < n; k++) {
            if (v[k] != NULL) {
                td_fe_sat_walk(a, ns, v[k], depth + 1);
            }
        }
    }
}

void td_fe__sa_apply_types(td_fe_call_t *x, const ProtobufCMessage *req)
{
    if (req != NULL && x->ns != NULL) {
        td_fe_sat_walk(td_rpc_arena(x->call), x->ns, (ProtobufCMessage *)req, 0);
    }
}
