/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation wrappers that abort on exhaustion (see mem.h).
 */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void td_oom(size_t n)
{
    fprintf(stderr, "temporald: out of memory allocating %zu bytes\n", n);
    abort();
}

void *td_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        td_oom(n);
    }
    return p;
}

void *td_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        td_oom(n * size);
    }
    return p;
}

void *td_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        td_oom(n);
    }
    return q;
}

char *td_strndup(const char *s, size_t n)
{
    char *d = td_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *td_strdup(const char *s)
{
    return td_strndup(s, strlen(s));
}

void td_free(void *p)
{
    free(p);
}
