/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the visibility query language (src/roles/frontend/fe_query.c): the
 * input is a query (a caller-controlled string of ListWorkflowExecutions). Checks that a query
 * either compiles into a filter tree of bounded depth whose comparisons all name a field, or
 * fails with a message that starts "invalid query: " and names a column; also feeds the input
 * to the time and duration parsers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "mem.h"
#include "roles/frontend/fe_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_sa(const void *arg, const char *name)
{
    (void)arg;
    if (strcmp(name, "Kw") == 0) {
        return TD_STORE_SA_KEYWORD;
    }
    if (strcmp(name, "Kl") == 0) {
        return TD_STORE_SA_KEYWORD_LIST;
    }
    if (strcmp(name, "In") == 0) {
        return TD_STORE_SA_INT;
    }
    if (strcmp(name, "Tx") == 0) {
        return TD_STORE_SA_TEXT;
    }
    return strcmp(name, "Bo") == 0 ? TD_STORE_SA_BOOL : 0;
}

/* The depth of f; aborts on a malformed node. */
static int fz_depth(const td_store_vfilter_t *f)
{
    int d = 0;

    if (f->kind == TD_STORE_VF_CMP) {
        if (f->field == NULL || f->op < TD_STORE_VF_EQ || f->op > TD_STORE_VF_IS_NOT_NULL) {
            abort();
        }
        return 1;
    }
    if ((f->kind == TD_STORE_VF_NOT && f->n_args != 1) || f->n_args < 0) {
        abort();
    }
    for (int i = 0; i < f->n_args; i++) {
        int k = fz_depth(f->args[i]);
        d = k > d ? k : d;
    }
    return d + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_arena_t a;
    td_fe_query_t q;
    const char *err = NULL;
    char *s = td_malloc(size + 1);
    int64_t ns;
    int rc;

    memcpy(s, data, size);
    s[size] = '\0';
    td_arena_init(&a, 1024);
    rc = td_fe_query_compile(s, fz_sa, NULL, &a, &q, &err);
    if (rc == TD_OK) {
        /* the store refuses filters deeper than 32 */
        if (err != NULL || (q.filter != NULL && fz_depth(q.filter) > 32)) {
            abort();
        }
    } else if (rc != TD_EINVAL || err == NULL || strncmp(err, "invalid query: ", 15) != 0 ||
               strstr(err, " column ") == NULL) {
        abort();
    }
    td_fe_query_parse_time(s, &ns);
    td_fe_query_parse_duration(s, &ns);
    td_arena_destroy(&a);
    free(s);
    return 0;
}
