/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation wrappers. Out-of-memory aborts the process with a message: temporald never
 * tries to limp on without memory. Sizes that come from the network must be bounded by the
 * caller before they reach these functions.
 */
#ifndef TD_MEM_H
#define TD_MEM_H

#include <stddef.h>

void *td_malloc(size_t n);
void *td_calloc(size_t n, size_t size);
void *td_realloc(void *p, size_t n);
char *td_strdup(const char *s);
char *td_strndup(const char *s, size_t n);
void td_free(void *p);

#define TD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
