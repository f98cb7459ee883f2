/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers of the store conformance suite: open the backend named by TD_TEST_DB_URL, make
 * keys unique to the running test (so every backend can share one database between tests),
 * and build requests tersely. Test code only.
 */
#ifndef TD_STORE_FIXTURE_H
#define TD_STORE_FIXTURE_H

#include "store/store.h"

/* The URL under test: TD_TEST_DB_URL, default sqlite://:memory:. A sqlite URL ending in '/'
 * names a folder: each test gets a fresh file in it. */
const char *td_fx_url(void);
/* 1 when the URL under test is a SQLite file (per-test file), 0 otherwise. */
int td_fx_is_sqlite_file(void);
/* Opens the store under test (schema AUTO, loop NULL); fails the test on error. */
td_store_t *td_fx_open(void);
/* Same, with options (opt->schema and loop are honoured). Returns rc, store in *out. */
int td_fx_open_opt(const td_store_options_t *opt, td_store_t **out, char *err, size_t errlen);
/* The per-test database path for SQLite file URLs ("" otherwise). */
const char *td_fx_path(void);
/* A string unique to this test process: prefix-<pid>-<counter>. Static storage ring. */
const char *td_fx_id(const char *prefix);
/* A shard id unique to this test process. */
int32_t td_fx_shard(void);
/* Blob helpers: a blob over a C string (encoding PROTO3). */
td_store_blob_t td_fx_blob(const char *s);
/* Whether a blob holds exactly the string s. */
int td_fx_blob_eq(const td_store_blob_t *b, const char *s);

/* A write: acquire a shard and return its range_id. */
int64_t td_fx_acquire(td_store_t *s, int32_t shard);
/* Creates a brand-new run (version 1, one batch [1, 2], one transfer task) under the shard.
 * Returns rc. */
int td_fx_create_run(td_store_t *s, int32_t shard, int64_t range, const char *ns, const char *wf,
                     const char *run, int64_t task_id);
/* Reads an execution (run NULL = current). Returns rc; row version in *version. */
int td_fx_get_version(td_store_t *s, const char *ns, const char *wf, const char *run,
                      int64_t *version);

#endif
