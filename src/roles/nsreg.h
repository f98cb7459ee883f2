/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The namespace registry: every namespace of the cluster, cached in memory and kept in the
 * store. Each process that hosts a role has one (shared by its roles through the server);
 * lookups are by name (the API) or by id (everything inside). Loading and boot-time
 * creation block and run before the loop; creates and updates while serving are
 * asynchronous. Loop thread only.
 */
#ifndef TD_NSREG_H
#define TD_NSREG_H

#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "namespace.pb-c.h"
#include "store/store.h"

typedef Temporald__Namespace__NamespaceRecord td_ns_record_t;

typedef struct {
    char *id; /* 36-char UUID */
    char *name;
    int64_t notification_version;
    td_ns_record_t *rec; /* unpacked with the default allocator; owned */
    int64_t retention_ns;
} td_ns_t;

typedef struct td_nsreg_s td_nsreg_t;
typedef void (*td_nsreg_cb)(int rc, const char *msg, void *arg);

td_nsreg_t *td_nsreg_new(td_store_t *store);
void td_nsreg_free(td_nsreg_t *r);
/* Reads every namespace from the store. Blocking (start-up only). */
int td_nsreg_load(td_nsreg_t *r, char *err, size_t errlen);
/* Creates namespace name unless it exists, with the retention and custom search attributes
 * ("Name=Type") given; an existing namespace gains the attributes it lacks. Blocking
 * (start-up only). */
int td_nsreg_ensure(td_nsreg_t *r, const char *name, int retention_hours,
                    const td_strlist_t *search_attributes, char *err, size_t errlen);

/* Re-reads the namespaces from the store every ms (asynchronously, on loop): namespaces
 * other processes created or updated (higher notification_version) replace the cached
 * ones. For processes of a cluster; start-dev is the only writer and needs none. */
void td_nsreg_refresh_every(td_nsreg_t *r, td_loop_t *loop, int64_t ms);

const td_ns_t *td_nsreg_by_name(const td_nsreg_t *r, const char *name);
const td_ns_t *td_nsreg_by_id(const td_nsreg_t *r, const char *id);
/* Namespaces in name order: count and the i-th. */
int td_nsreg_count(const td_nsreg_t *r);
const td_ns_t *td_nsreg_at(const td_nsreg_t *r, int i);

/* Creates a namespace from rec (its info.name set; info.id and state are filled here).
 * cb gets TD_OK, TD_EEXIST ("Namespace already exists."), or a store error. rec is copied. */
void td_nsreg_create(td_nsreg_t *r, const td_ns_record_t *rec, td_nsreg_cb cb, void *arg);
/* Replaces the record of namespace id with rec (name must not change). cb as above. */
void td_nsreg_update(td_nsreg_t *r, const char *id, const td_ns_record_t *rec, td_nsreg_cb cb,
                     void *arg);

/* Parses a search attribute type name (Text, Keyword, Int, Double, Bool, Datetime,
 * KeywordList; case-insensitive) into the IndexedValueType number, or 0. */
int td_sa_type_parse(const char *s);
/* The IndexedValueType's name as SDKs spell it in payload metadata ("Keyword"), or NULL. */
const char *td_sa_type_name(int type);

#endif
