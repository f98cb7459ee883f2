/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The visibility query language of ListWorkflowExecutions / CountWorkflowExecutions (Temporal's
 * SQL-like "List Filter"): a lexer, a recursive-descent parser and a compiler that turns a query
 * into the store's structured filter tree (td_store_vfilter_t), an ordering and a grouping. It
 * is pure: no I/O, no loop, everything allocated in the caller's arena. It does not run queries
 * (fe_visibility.c does) and knows custom search attributes only through the lookup it is given.
 * Any thread; used by the frontend's visibility handlers and by tests.
 */
#ifndef TD_FE_QUERY_H
#define TD_FE_QUERY_H

#include "arena.h"
#include "store/store.h"

/* The type of a custom search attribute name (td_store_sa_type_t), or 0 when the namespace has
 * no such attribute. */
typedef int (*td_fe_query_sa_fn)(const void *arg, const char *name);

/* What a query compiles to. */
typedef struct {
    const td_store_vfilter_t *filter;          /* NULL = every record */
    int order;                                 /* td_store_vorder_t (when n_sort is 0) */
    td_store_vsort_t sort[TD_STORE_VSORT_MAX]; /* other ORDER BY keys */
    int n_sort;
    int has_order;       /* an ORDER BY clause was given */
    int group_by_status; /* GROUP BY ExecutionStatus */
} td_fe_query_t;

/* Compiles text (NULL or blank = everything) against the system search attributes and the
 * custom ones sa_type(sa_arg, name) knows (sa_type may be NULL: none). On success returns TD_OK
 * and fills *out (its filter lives in arena). On a syntax error, an unknown attribute, a value
 * of the wrong type, an operator the attribute's type does not take, or a feature temporald
 * does not serve yet, returns TD_EINVAL with *err an arena message starting "invalid query: "
 * that names the offending token's text and 1-based column. Never calls back. */
int td_fe_query_compile(const char *text, td_fe_query_sa_fn sa_type, const void *sa_arg,
                        td_arena_t *arena, td_fe_query_t *out, const char **err);

/* The name of a WorkflowExecutionStatus as the query language and Temporal's group-by values
 * spell it ("Running", "Completed", ...), or NULL for an unknown number. */
const char *td_fe_query_status_name(int status);

/* Parses an RFC 3339 time ("2024-01-02T03:04:05.123Z", "+02:00" offsets) into Unix ns.
 * TD_OK or TD_EINVAL. */
int td_fe_query_parse_time(const char *s, int64_t *ns);

/* Parses an ExecutionDuration value: integer nanoseconds, a Go duration ("1h30m", "1.5s",
 * "300ms", "-2h"; Temporal also takes "d" for days) or "hh:mm:ss". TD_OK or TD_EINVAL. */
int td_fe_query_parse_duration(const char *s, int64_t *ns);

#endif
