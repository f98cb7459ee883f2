/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Visibility SQL shared by the SQL backends (store_vis.c): Text words, ORDER BY keys and
 * their page tokens. Private to src/store/.
 */
#ifndef TD_STORE_VIS_H
#define TD_STORE_VIS_H

#include "store/store.h"

/* The visibility_sa row type of one word of a Text value (sval = the word): written beside
 * the Text row itself, matched by Text comparisons. Not a td_store_sa_type_t. */
#define TD_STORE_SA_WORD 101
/* The most words of one Text value (or query value) that are indexed (or matched). */
#define TD_STORE_TEXT_WORDS_MAX 64

/* How a sort key compares. */
enum { TD_STORE_SKEY_INT = 1, TD_STORE_SKEY_DOUBLE = 2, TD_STORE_SKEY_STR = 3 };

/* One sort key's value in a page token. */
typedef struct {
    int null; /* the value is missing */
    int kind; /* TD_STORE_SKEY_* */
    int64_t i;
    double d;
    const char *s;
} td_store_skey_t;

/* A statement builder: add appends text, bind appends a placeholder bound to *v (v lives as
 * long as the arena given to the function that calls bind); bind returns TD_OK or an error. */
typedef struct {
    void *ctx;
    void (*add)(void *ctx, const char *text);
    int (*bind)(void *ctx, const td_store_sa_t *v);
} td_store_sqlw_t;

/* The SQL expression of sort key k (no bound values) and its kind; NULL for an unknown field
 * or a type without order. sqlite: spelled for SQLite's planner (same result). */
const char *td_store__vsort_expr(td_arena_t *a, const td_store_vsort_t *k, int sqlite, int *kind);
/* Resolves in->sort[0..n_sort) into exprs[] and kinds[]; TD_EINVAL when one is bad. */
int td_store__vsort_check(td_arena_t *a, const td_store_vis_query_in_t *in, int sqlite,
                          const char **exprs, int *kinds);
/* Appends " ORDER BY ..." for in->sort. */
void td_store__vsort_order_by(const td_store_vis_query_in_t *in, const char **exprs,
                              const td_store_sqlw_t *w);
/* Appends " AND (...)": the rows after the one whose keys and run id are given. */
int td_store__vsort_after(td_arena_t *a, const td_store_vis_query_in_t *in, const char **exprs,
                          const td_store_skey_t *keys, const char *run_id,
                          const td_store_sqlw_t *w);
/* Page tokens of a sorted listing. read: TD_EINVAL unless the token was made for n keys of
 * these kinds; an empty token is "absent". */
td_store_token_t td_store__vsort_token_make(td_arena_t *a, const td_store_skey_t *keys, int n,
                                            const char *run_id);
int td_store__vsort_token_read(td_arena_t *a, const td_store_token_t *t, const int *kinds, int n,
                               td_store_skey_t *keys, const char **run_id, int *present);

#endif
