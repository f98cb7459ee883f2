/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The namespace registry (see nsreg.h). The cache is an array sorted by name; namespaces
 * are few (tens), so lookups by id scan it. Every change goes to the store first and
 * reaches the cache only once committed, so the cache never shows what the store lost.
 */
#define TD_LOG_COMPONENT "namespace"

#include "roles/nsreg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "uuid.h"

struct td_nsreg_s {
    td_store_t *store;
    td_ns_t *v;
    int n, cap;
    /* periodic refresh (td_nsreg_refresh_every) */
    td_timer_t *refresh_timer;
    int64_t refresh_ms;
    int refreshing; /* a list request is in flight */
    int closing;    /* freed while a list was in flight: the callback frees */
};

static const char *const td_sa_names[] = { NULL,     "Text", "Keyword",  "Int",
                                           "Double", "Bool", "Datetime", "KeywordList" };

int td_sa_type_parse(const char *s)
{
    for (int i = 1; i < (int)TD_ARRAY_LEN(td_sa_names); i++) {
        if (strcasecmp(s, td_sa_names[i]) == 0) {
            return i;
        }
    }
    return 0;
}

const char *td_sa_type_name(int type)
{
    return type > 0 && type < (int)TD_ARRAY_LEN(td_sa_names) ? td_sa_names[type] : NULL;
}

td_nsreg_t *td_nsreg_new(td_store_t *store)
{
    td_nsreg_t *r = td_calloc(1, sizeof(*r));
    r->store = store;
    return r;
}

static void td_ns_destroy(td_ns_t *ns)
{
    td_free(ns->id);
    td_free(ns->name);
    if (ns->rec != NULL) {
        temporald__namespace__namespace_record__free_unpacked(ns->rec, NULL);
    }
}

void td_nsreg_free(td_nsreg_t *r)
{
    if (r == NULL) {
        return;
    }
    td_timer_free(r->refresh_timer);
    r->refresh_timer = NULL;
    if (r->refreshing) {
        r->closing = 1; /* the pending list's callback frees */
        return;
    }
    for (int i = 0; i < r->n; i++) {
        td_ns_destroy(&r->v[i]);
    }
    td_free(r->v);
    td_free(r);
}

static int td_ns_cmp(const void *a, const void *b)
{
    return strcmp(((const td_ns_t *)a)->name, ((const td_ns_t *)b)->name);
}

/* Inserts or replaces the cache entry for a stored namespace. Takes ownership of rec. */
static void td_nsreg_put(td_nsreg_t *r, const char *id, const char *name, int64_t version,
                         td_ns_record_t *rec)
{
    td_ns_t *ns = NULL;

    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->v[i].id, id) == 0) {
            ns = &r->v[i];
            td_ns_destroy(ns);
            break;
        }
    }
    if (ns == NULL) {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 8;
            r->v = td_realloc(r->v, sizeof(*r->v) * (size_t)r->cap);
        }
        ns = &r->v[r->n++];
    }
    memset(ns, 0, sizeof(*ns));
    ns->id = td_strdup(id);
    ns->name = td_strdup(name);
    ns->notification_version = version;
    ns->rec = rec;
    if (rec->config != NULL && rec->config->workflow_execution_retention_ttl != NULL) {
        ns->retention_ns = rec->config->workflow_execution_retention_ttl->seconds * 1000000000LL +
                           rec->config->workflow_execution_retention_ttl->nanos;
    }
    qsort(r->v, (size_t)r->n, sizeof(*r->v), td_ns_cmp);
}

static td_ns_record_t *td_ns_unpack(const td_store_blob_t *b)
{
    return temporald__namespace__namespace_record__unpack(NULL, b->len, b->data);
}

int td_nsreg_load(td_nsreg_t *r, char *err, size_t errlen)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_NS_LIST);
    int rc;

    for (;;) {
        rc = td_store_call(r->store, req);
        if (rc != TD_OK) {
            snprintf(err, errlen, "loading namespaces: %s", req->err);
            break;
        }
        for (int i = 0; i < req->out.ns_list.n_recs; i++) {
            const td_store_namespace_t *s = &req->out.ns_list.recs[i];
            td_ns_record_t *rec = td_ns_unpack(&s->detail);
            if (rec == NULL) {
                snprintf(err, errlen, "namespace %s: undecodable record", s->name);
                rc = TD_EIO;
                goto out;
            }
            td_nsreg_put(r, s->id, s->name, s->notification_version, rec);
        }
        if (req->out.ns_list.next_token.len == 0) {
            break;
        }
        {
            /* Carry the token over into a fresh request (it lives in the old arena). */
            td_store_req_t *next = td_store_req_new(TD_STORE_OP_NS_LIST);
            next->in.ns_list.token.data =
                    td_arena_memdup(&next->arena, req->out.ns_list.next_token.data,
                                    req->out.ns_list.next_token.len);
            next->in.ns_list.token.len = req->out.ns_list.next_token.len;
            td_store_req_free(req);
            req = next;
        }
    }
out:
    td_store_req_free(req);
    return rc;
}

/* ---- refresh: other processes create and update namespaces too ---- */

static void td_nsreg_refresh_page(td_nsreg_t *r, const td_store_token_t *token);

static void td_nsreg_refresh_done(td_store_req_t *req, void *arg)
{
    td_nsreg_t *r = arg;
    int changed = 0;

    r->refreshing = 0;
    if (r->closing) {
        td_store_req_free(req);
        td_nsreg_free(r);
        return;
    }
    if (req->rc != TD_OK) {
        td_log_warn("namespace refresh failed: %s", req->err);
    } else {
        for (int i = 0; i < req->out.ns_list.n_recs; i++) {
            const td_store_namespace_t *st = &req->out.ns_list.recs[i];
            const td_ns_t *have = td_nsreg_by_id(r, st->id);
            td_ns_record_t *rec;

            if (have != NULL && have->notification_version >= st->notification_version) {
                continue;
            }
            rec = td_ns_unpack(&st->detail);
            if (rec == NULL) {
                td_log_warn("namespace %s: undecodable record (refresh skips it)", st->name);
                continue;
            }
            td_log_info("namespace %s: %s from the store (version %lld)", st->name,
                        have != NULL ? "updated" : "added", (long long)st->notification_version);
            td_nsreg_put(r, st->id, st->name, st->notification_version, rec);
            changed++;
        }
        if (req->out.ns_list.next_token.len > 0) {
            td_nsreg_refresh_page(r, &req->out.ns_list.next_token);
            td_store_req_free(req);
            return;
        }
    }
    (void)changed;
    td_store_req_free(req);
    if (r->refresh_timer != NULL) {
        td_timer_start(r->refresh_timer, r->refresh_ms);
    }
}

static void td_nsreg_refresh_page(td_nsreg_t *r, const td_store_token_t *token)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_NS_LIST);

    if (token != NULL) {
        req->in.ns_list.token.data = td_arena_memdup(&req->arena, token->data, token->len);
        req->in.ns_list.token.len = token->len;
    }
    req->cb = td_nsreg_refresh_done;
    req->arg = r;
    r->refreshing = 1;
    td_store_submit(r->store, req);
}

static void td_nsreg_refresh_tick(void *arg)
{
    td_nsreg_t *r = arg;
    if (!r->refreshing) {
        td_nsreg_refresh_page(r, NULL);
    }
}

void td_nsreg_refresh_every(td_nsreg_t *r, td_loop_t *loop, int64_t ms)
{
    r->refresh_ms = ms;
    r->refresh_timer = td_timer_new(loop, td_nsreg_refresh_tick, r);
    td_timer_start(r->refresh_timer, ms);
}

const td_ns_t *td_nsreg_by_name(const td_nsreg_t *r, const char *name)
{
    td_ns_t key;
    key.name = (char *)name;
    if (r->n == 0) {
        return NULL; /* r->v is NULL: bsearch must not see it (UBSan) */
    }
    return bsearch(&key, r->v, (size_t)r->n, sizeof(*r->v), td_ns_cmp);
}

const td_ns_t *td_nsreg_by_id(const td_nsreg_t *r, const char *id)
{
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->v[i].id, id) == 0) {
            return &r->v[i];
        }
    }
    return NULL;
}

int td_nsreg_count(const td_nsreg_t *r)
{
    return r->n;
}

const td_ns_t *td_nsreg_at(const td_nsreg_t *r, int i)
{
    return i >= 0 && i < r->n ? &r->v[i] : NULL;
}

/* Replaces a string field of a message unpacked with the default allocator (whose empty
 * strings point at protobuf-c's shared empty string and must not be freed). */
static void td_ns_set_str(char **field, const char *v)
{
    if (*field != NULL && *field != protobuf_c_empty_string) {
        td_free(*field);
    }
    *field = td_strdup(v);
}

/* A deep copy of rec through its wire form (default allocator). */
static td_ns_record_t *td_ns_copy(const td_ns_record_t *rec)
{
    size_t len = protobuf_c_message_get_packed_size(&rec->base);
    uint8_t *buf = td_malloc(len);
    td_ns_record_t *copy;

    protobuf_c_message_pack(&rec->base, buf);
    copy = temporald__namespace__namespace_record__unpack(NULL, len, buf);
    td_free(buf);
    return copy;
}

/* Fills the store request's namespace from rec (packed into the request arena). */
static void td_nsreg_fill(td_store_req_t *req, const td_ns_record_t *rec)
{
    size_t len = protobuf_c_message_get_packed_size(&rec->base);
    uint8_t *buf = td_arena_alloc(&req->arena, len);

    protobuf_c_message_pack(&rec->base, buf);
    req->in.ns.rec.id = td_arena_strdup(&req->arena, rec->info->id);
    req->in.ns.rec.name = td_arena_strdup(&req->arena, rec->info->name);
    req->in.ns.rec.detail.data = buf;
    req->in.ns.rec.detail.len = len;
    req->in.ns.rec.detail.encoding = TD_STORE_ENC_PROTO3;
}

/* Adds the "Name=Type" attributes that rec lacks. Returns TD_OK or TD_EINVAL (bad type). */
static int td_nsreg_add_sas(td_ns_record_t *rec, const td_strlist_t *sas, int *added, char *err,
                            size_t errlen)
{
    for (int i = 0; sas != NULL && i < sas->n; i++) {
        const char *kv = sas->v[i];
        const char *eq = strchr(kv, '=');
        int type = eq ? td_sa_type_parse(eq + 1) : 0;
        size_t n = eq ? (size_t)(eq - kv) : 0;
        int found = 0;
        Temporald__Namespace__NamespaceRecord__CustomSearchAttributesEntry *e;

        if (type == 0) {
            snprintf(err, errlen, "search attribute '%s': expected Name=Type", kv);
            return TD_EINVAL;
        }
        for (size_t j = 0; j < rec->n_custom_search_attributes; j++) {
            found |= strlen(rec->custom_search_attributes[j]->key) == n &&
                     strncmp(rec->custom_search_attributes[j]->key, kv, n) == 0;
        }
        if (found) {
            continue;
        }
        e = td_malloc(sizeof(*e));
        temporald__namespace__namespace_record__custom_search_attributes_entry__init(e);
        e->key = td_strndup(kv, n);
        e->value = (Temporal__Api__Enums__V1__IndexedValueType)type;
        rec->custom_search_attributes = td_realloc(
                rec->custom_search_attributes, sizeof(e) * (rec->n_custom_search_attributes + 1));
        rec->custom_search_attributes[rec->n_custom_search_attributes++] = e;
        (*added)++;
    }
    return TD_OK;
}

static int td_nsreg_ensure_once(td_nsreg_t *r, const char *name, int retention_hours,
                                const td_strlist_t *search_attributes, char *err, size_t errlen)
{
    const td_ns_t *ns = td_nsreg_by_name(r, name);
    td_store_req_t *req = NULL;
    td_ns_record_t *rec = NULL;
    int added = 0;
    int rc;

    if (ns != NULL) {
        rec = td_ns_copy(ns->rec);
        rc = td_nsreg_add_sas(rec, search_attributes, &added, err, errlen);
        if (rc != TD_OK || added == 0) {
            goto out;
        }
        req = td_store_req_new(TD_STORE_OP_NS_UPDATE);
        td_nsreg_fill(req, rec);
        req->in.ns.rec.notification_version = ns->notification_version;
    } else {
        /* Built with the default allocator so td_nsreg_put can own it. */
        char id[TD_UUID_LEN + 1];
        Temporal__Api__Namespace__V1__NamespaceInfo *info = td_malloc(sizeof(*info));
        Temporal__Api__Namespace__V1__NamespaceConfig *cfg = td_malloc(sizeof(*cfg));
        Google__Protobuf__Duration *ttl = td_malloc(sizeof(*ttl));

        td_uuid_v4(id);
        rec = td_malloc(sizeof(*rec));
        temporald__namespace__namespace_record__init(rec);
        temporal__api__namespace__v1__namespace_info__init(info);
        temporal__api__namespace__v1__namespace_config__init(cfg);
        google__protobuf__duration__init(ttl);
        info->name = td_strdup(name);
        info->id = td_strdup(id);
        info->state = TEMPORAL__API__ENUMS__V1__NAMESPACE_STATE__NAMESPACE_STATE_REGISTERED;
        info->description = td_strdup("");
        info->owner_email = td_strdup("");
        ttl->seconds = (int64_t)retention_hours * 3600;
        cfg->workflow_execution_retention_ttl = ttl;
        cfg->history_archival_state =
                TEMPORAL__API__ENUMS__V1__ARCHIVAL_STATE__ARCHIVAL_STATE_DISABLED;
        cfg->visibility_archival_state =
                TEMPORAL__API__ENUMS__V1__ARCHIVAL_STATE__ARCHIVAL_STATE_DISABLED;
        cfg->history_archival_uri = td_strdup("");
        cfg->visibility_archival_uri = td_strdup("");
        rec->info = info;
        rec->config = cfg;
        rc = td_nsreg_add_sas(rec, search_attributes, &added, err, errlen);
        if (rc != TD_OK) {
            goto out;
        }
        req = td_store_req_new(TD_STORE_OP_NS_CREATE);
        td_nsreg_fill(req, rec);
    }
    rc = td_store_call(r->store, req);
    if (rc != TD_OK) {
        snprintf(err, errlen, "namespace %s: %s", name, req->err);
        goto out;
    }
    td_nsreg_put(r, rec->info->id, name, req->out.ns.rec.notification_version, rec);
    td_log_info("namespace %s (%s) %s", name, rec->info->id, ns ? "updated" : "created");
    rec = NULL;
out:
    if (rec != NULL) {
        temporald__namespace__namespace_record__free_unpacked(rec, NULL);
    }
    td_store_req_free(req);
    return rc;
}

int td_nsreg_ensure(td_nsreg_t *r, const char *name, int retention_hours,
                    const td_strlist_t *search_attributes, char *err, size_t errlen)
{
    int rc = TD_OK;

    /* Processes of a cluster starting together race to create the same namespace (or add
     * the same attributes): the loser reads the winner's record and tries again. */
    for (int attempt = 0; attempt < 5; attempt++) {
        rc = td_nsreg_ensure_once(r, name, retention_hours, search_attributes, err, errlen);
        if (rc != TD_EEXIST && rc != TD_ECONDITION) {
            break;
        }
        rc = td_nsreg_load(r, err, errlen);
        if (rc != TD_OK) {
            break;
        }
    }
    return rc;
}

typedef struct {
    td_nsreg_t *r;
    td_ns_record_t *rec; /* owned until committed */
    td_nsreg_cb cb;
    void *arg;
} td_nsreg_op_t;

static void td_nsreg_on_write(td_store_req_t *req, void *arg)
{
    td_nsreg_op_t *op = arg;
    int rc = req->rc;
    const char *msg = NULL;

    if (rc == TD_OK) {
        td_nsreg_put(op->r, op->rec->info->id, op->rec->info->name,
                     req->out.ns.rec.notification_version, op->rec);
        op->rec = NULL;
    } else if (rc == TD_EEXIST) {
        msg = "Namespace already exists.";
    } else if (rc == TD_ECONDITION) {
        msg = "Namespace was changed concurrently; retry.";
        rc = TD_EABORTED;
    } else {
        msg = req->err;
        td_log_warn("namespace write failed: %s", req->err);
    }
    op->cb(rc, msg, op->arg);
    if (op->rec != NULL) {
        temporald__namespace__namespace_record__free_unpacked(op->rec, NULL);
    }
    td_free(op);
    td_store_req_free(req);
}

void td_nsreg_create(td_nsreg_t *r, const td_ns_record_t *rec, td_nsreg_cb cb, void *arg)
{
    td_nsreg_op_t *op = td_calloc(1, sizeof(*op));
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_NS_CREATE);
    char id[TD_UUID_LEN + 1];

    op->r = r;
    op->cb = cb;
    op->arg = arg;
    op->rec = td_ns_copy(rec);
    td_uuid_v4(id);
    td_ns_set_str(&op->rec->info->id, id);
    op->rec->info->state = TEMPORAL__API__ENUMS__V1__NAMESPACE_STATE__NAMESPACE_STATE_REGISTERED;
    td_nsreg_fill(req, op->rec);
    req->cb = td_nsreg_on_write;
    req->arg = op;
    td_store_submit(r->store, req);
}

void td_nsreg_update(td_nsreg_t *r, const char *id, const td_ns_record_t *rec, td_nsreg_cb cb,
                     void *arg)
{
    const td_ns_t *ns = td_nsreg_by_id(r, id);
    td_nsreg_op_t *op;
    td_store_req_t *req;

    if (ns == NULL) {
        cb(TD_ENSNOTFOUND, "Namespace not found.", arg);
        return;
    }
    op = td_calloc(1, sizeof(*op));
    req = td_store_req_new(TD_STORE_OP_NS_UPDATE);
    op->r = r;
    op->cb = cb;
    op->arg = arg;
    op->rec = td_ns_copy(rec);
    td_ns_set_str(&op->rec->info->id, id);
    td_nsreg_fill(req, op->rec);
    req->in.ns.rec.notification_version = ns->notification_version;
    req->cb = td_nsreg_on_write;
    req->arg = op;
    td_store_submit(r->store, req);
}
