/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared inside src/roles/matching/: owned copies of tasks and the flat string form
 * of a partition key. Not for other modules; the engine API is engine.h.
 */
#ifndef TD_MATCH_TASK_H
#define TD_MATCH_TASK_H

#include "roles/matching/engine.h"

/* One allocation holding the struct, its strings and data; free with td_free(). Never NULL. */
td_match_task_t *td_match__task_dup(const td_match_task_t *src);
/* "namespace_id\x1fname\x1ftype" in a td_malloc'd string; NULL if the key is incomplete. */
char *td_match__key_str(const td_match_key_t *key);
/* Whether key has a namespace id, a non-empty name and a known type and kind. */
int td_match__key_valid(const td_match_key_t *key);

#endif
