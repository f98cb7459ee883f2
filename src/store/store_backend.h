/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract between the store front (store.c: URL parsing, the backend registry,
 * completion delivery) and a storage backend (sqlite/, postgres/). A backend implements
 * td_store_ops_t; only store.c and the backends include this header, never a role.
 *
 * A backend receives every request through submit() (on any thread, usually the loop's),
 * executes it on threads of its own, fills req->rc, req->err and req->out, and hands it back
 * with td_store__complete() (or td_store__complete_list() for a group commit). It must never
 * complete a request inside submit() itself. Conditions, transactions and error mapping are
 * the backend's job: see the error contract in store.h, which the conformance suite
 * (test/store/) checks against every backend.
 */
#ifndef TD_STORE_BACKEND_H
#define TD_STORE_BACKEND_H

#include <stdarg.h>

#include "store/store.h"

typedef struct td_store_backend_s td_store_backend_t; /* defined by each backend */

/* A parsed db_url. Strings are owned by the struct (td_store__url_parse/free). */
typedef struct {
    const char *raw; /* the whole URL as given */
    char *scheme;    /* "sqlite", "postgres" (also accepted: "postgresql") */
    /* sqlite: a file path (absolute for sqlite:///abs, relative for sqlite://rel) */
    char *path;
    int memory; /* sqlite://:memory: */
    /* postgres */
    char *user;
    char *password;
    char *host;
    int port; /* 0 = default */
    char *dbname;
    char *query; /* text after '?', or NULL */
} td_store_url_t;

typedef struct td_store_ops_s {
    const char *scheme; /* as in td_store_url_t.scheme */
    /* Opens (and per opt->schema checks or migrates) the database. s is the front the
     * backend completes requests through. Returns TD_OK or an error with one line in err. */
    int (*open)(td_store_t *s, const td_store_url_t *url, const td_store_options_t *opt,
                td_store_backend_t **out, char *err, size_t errlen);
    /* Queues a request; never completes it synchronously. */
    void (*submit)(td_store_backend_t *b, td_store_req_t *req);
    /* Finishes or fails (TD_ECLOSED) queued requests, joins threads, frees. */
    void (*close)(td_store_backend_t *b);
    /* `temporald schema setup|update|version` (see td_store_schema in store.h). */
    int (*schema)(const td_store_url_t *url, const td_store_options_t *opt, const char *op,
                  int *from, int *to, int *want, char *err, size_t errlen);
} td_store_ops_t;

/* The backends: td_store_open() picks the one whose scheme matches the URL from the static
 * table in store.c (td_store_backends), which references each of these by name, so the
 * linker pulls every backend out of the static archive without any flag. */
extern const td_store_ops_t td_store_sqlite_ops;
extern const td_store_ops_t td_store_postgres_ops;

/* Schema migrations, generated at build time from schema/<backend>/NNN_name.sql (see
 * schema/embed.sh): version NNN of a backend is reached by running that file's SQL after
 * versions 1..NNN-1. Sorted by backend, then version. */
typedef struct {
    const char *backend; /* folder name: "sqlite", "postgresql" */
    int version;
    const char *name; /* file name */
    const char *sql;
} td_store_migration_t;

extern const td_store_migration_t td_store_migrations[];
extern const int td_store_migrations_count;

/* Whether a database at schema version cur can serve a binary that wants version want:
 * TD_OK, or TD_ESCHEMA with one line in err naming the command to run. */
int td_store__schema_check(int cur, int want, char *err, size_t errlen);
/* The highest migration version of a backend folder (0 when it has none). */
int td_store__schema_latest(const char *backend);

/* Hands a finished request back to its submitter: wakes td_store_call(), or posts the
 * callback to the loop, or (no loop) calls it on this thread. Any thread. */
void td_store__complete(td_store_req_t *req);
/* The same for n requests; one loop post for the whole group. */
void td_store__complete_list(td_store_req_t **reqs, int n);
/* Sets req->rc and a formatted req->err (allocated in req->arena). Returns rc. */
int td_store__fail(td_store_req_t *req, int rc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Parses a db_url; TD_EINVAL with one line in err on a malformed one. */
int td_store__url_parse(const char *raw, td_store_url_t *url, char *err, size_t errlen);
void td_store__url_free(td_store_url_t *url);

/* Page tokens built from one or more int64 keys (backend-neutral): encode writes n keys into
 * the request arena; decode fails with TD_EINVAL unless the token has exactly n keys. An
 * empty token decodes as "absent" (*present = 0). */
td_store_token_t td_store__token_make(td_store_req_t *req, const int64_t *keys, int n);
int td_store__token_read(const td_store_token_t *t, int64_t *keys, int n, int *present);
/* A token carrying int64 keys followed by one string (visibility keyset paging). */
td_store_token_t td_store__token_make_str(td_store_req_t *req, const int64_t *keys, int n,
                                          const char *str);
int td_store__token_read_str(td_store_req_t *req, const td_store_token_t *t, int64_t *keys, int n,
                             const char **str, int *present);

#endif
