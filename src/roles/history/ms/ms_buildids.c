/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BuildIds search attribute of a run: which worker builds have completed its workflow
 * tasks, as Temporal records it for workers without build-id based versioning. At each
 * workflow task completion the list becomes: the sentinel "unversioned" first (when the
 * worker does not use versioning), then the existing entries other than sentinels ("assigned:"
 * ones included), then "unversioned:<build id>" (or "versioned:<build id>") if it was not
 * there yet. Stored in the run's search attributes as a KeywordList payload (json/plain,
 * metadata type), so Describe and visibility show it and the query language filters on it.
 * A change adds a visibility upsert task. Pure transition helper; loop thread.
 */
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "ms_int.h"

/* Deprecated in the API, still sent by SDKs (see ms_wft.c). */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define TD_MS_BUILD_IDS     "BuildIds"
#define TD_MS_BUILD_IDS_MAX 100 /* entries kept (the oldest build ids drop off) */

typedef Temporal__Api__Common__V1__SearchAttributes td_ms_sa_t;
typedef Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry td_ms_sa_entry_t;
typedef Temporal__Api__Common__V1__Payload td_ms_payload_t;
typedef Temporal__Api__Common__V1__Payload__MetadataEntry td_ms_meta_t;

/* Reads the JSON string array of p (our own encoding: strings with \" and \\ escapes) into
 * out; returns how many. Malformed input yields what was read before the fault. */
static int td_ms_bid_parse(const td_ms_payload_t *p, td_arena_t *a, char **out, int max)
{
    const char *s = p != NULL ? (const char *)p->data.data : NULL;
    size_t n = p != NULL ? p->data.len : 0, i = 0;
    int k = 0;

    while (i < n && s[i] != '[') {
        i++;
    }
    while (++i < n && k < max) {
        char *o;
        size_t j;
        if (s[i] == ']') {
            break;
        }
        if (s[i] != '"') {
            continue; /* separators and spaces */
        }
        o = out[k] = td_arena_alloc(a, n - i + 1);
        for (j = i + 1; j < n && s[j] != '"'; j++) {
            if (s[j] == '\\' && j + 1 < n) {
                j++;
            }
            *o++ = s[j];
        }
        *o = '\0';
        if (j >= n) {
            break;
        }
        k++;
        i = j;
    }
    return k;
}

static void td_ms_bid_json_str(char **o, const char *s)
{
    *(*o)++ = '"';
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            *(*o)++ = '\\';
        }
        if ((unsigned char)*s < 0x20) {
            *o += sprintf(*o, "\\u%04x", (unsigned char)*s);
            continue;
        }
        *(*o)++ = *s;
    }
    *(*o)++ = '"';
}

static td_ms_meta_t *td_ms_bid_meta(td_arena_t *a, const char *key, const char *value)
{
    td_ms_meta_t *m =
            td_ms__pb_new(a, &temporal__api__common__v1__payload__metadata_entry__descriptor);

    m->key = (char *)key;
    m->value.data = (uint8_t *)value;
    m->value.len = strlen(value);
    return m;
}

int td_ms__build_ids_note(td_ms_t *ms, td_ms_txn_t *t,
                          const Temporal__Api__Common__V1__WorkerVersionStamp *stamp)
{
    td_arena_t *a = t->arena;
    td_ms_sa_t *cur = td_ms__blob_get(&ms->search_attributes,
                                      &temporal__api__common__v1__search_attributes__descriptor, a);
    char *old[TD_MS_BUILD_IDS_MAX], *nv[TD_MS_BUILD_IDS_MAX + 2];
    const char *build = stamp != NULL && stamp->build_id != NULL ? stamp->build_id : "";
    int use_versioning = stamp != NULL && stamp->use_versioning;
    char *entry = NULL;
    int n_old = 0, n = 0, found = 0, same;
    size_t len = 3, at = SIZE_MAX;
    char *json, *o;
    td_ms_payload_t *p;
    td_ms_sa_entry_t **fields;

    for (size_t i = 0; cur != NULL && i < cur->n_indexed_fields; i++) {
        if (strcmp(cur->indexed_fields[i]->key, TD_MS_BUILD_IDS) == 0) {
            at = i;
            n_old = td_ms_bid_parse(cur->indexed_fields[i]->value, a, old, TD_MS_BUILD_IDS_MAX);
        }
    }
    if (!use_versioning) {
        nv[n++] = "unversioned";
    }
    if (build[0] != '\0') {
        entry = td_arena_printf(a, "%s:%s", use_versioning ? "versioned" : "unversioned", build);
    }
    for (int i = 0; i < n_old && n < TD_MS_BUILD_IDS_MAX; i++) {
        found |= entry != NULL && strcmp(old[i], entry) == 0;
        if (strcmp(old[i], "unversioned") != 0 && strncmp(old[i], "assigned:", 9) != 0) {
            nv[n++] = old[i];
        }
    }
    if (entry != NULL && !found) {
        nv[n++] = entry;
    }
    same = n == n_old;
    for (int i = 0; i < n && same; i++) {
        same = strcmp(nv[i], old[i]) == 0;
    }
    if (same) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        len += strlen(nv[i]) * 6 + 3;
    }
    o = json = td_arena_alloc(a, len);
    *o++ = '[';
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            *o++ = ',';
        }
        td_ms_bid_json_str(&o, nv[i]);
    }
    *o++ = ']';
    *o = '\0';
    p = td_ms__pb_new(a, &temporal__api__common__v1__payload__descriptor);
    p->metadata = td_arena_alloc(a, 2 * sizeof(*p->metadata));
    p->metadata[0] = td_ms_bid_meta(a, "encoding", "json/plain");
    p->metadata[1] = td_ms_bid_meta(a, "type", "KeywordList");
    p->n_metadata = 2;
    p->data.data = (uint8_t *)json;
    p->data.len = strlen(json);
    if (cur == NULL) {
        cur = td_ms__pb_new(a, &temporal__api__common__v1__search_attributes__descriptor);
    }
    if (at == SIZE_MAX) {
        fields = td_arena_alloc(a, (cur->n_indexed_fields + 1) * sizeof(*fields));
        if (cur->n_indexed_fields > 0) {
            memcpy(fields, cur->indexed_fields, cur->n_indexed_fields * sizeof(*fields));
        }
        at = cur->n_indexed_fields;
        fields[at] = td_ms__pb_new(
                a, &temporal__api__common__v1__search_attributes__indexed_fields_entry__descriptor);
        fields[at]->key = TD_MS_BUILD_IDS;
        cur->indexed_fields = fields;
        cur->n_indexed_fields++;
    }
    cur->indexed_fields[at]->value = p;
    td_ms__blob_set(&ms->search_attributes, &cur->base);
    {
        td_ms_task_t task = { .type = TD_MS_TASK_VIS_UPSERT };
        td_ms__task_add(t, &task);
    }
    return 1;
}
