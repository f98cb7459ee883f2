/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Owned task copies and partition key strings for the matching engine and the in-memory
 * backlog (see match_task.h). Pure functions over memory: no loop, no state.
 */
#include "roles/matching/match_task.h"

#include <stdio.h>
#include <string.h>

#include "mem.h"

static size_t td_match_strsize(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static const char *td_match_strput(char **cursor, const char *s)
{
    char *p = *cursor;
    size_t n;
    if (s == NULL) {
        return NULL;
    }
    n = strlen(s) + 1;
    memcpy(p, s, n);
    *cursor = p + n;
    return p;
}

td_match_task_t *td_match__task_dup(const td_match_task_t *src)
{
    size_t size = sizeof(td_match_task_t) + td_match_strsize(src->workflow_id) +
                  td_match_strsize(src->run_id) + td_match_strsize(src->query_id) + src->data_len;
    td_match_task_t *t = td_malloc(size);
    char *cursor = (char *)(t + 1);

    *t = *src;
    t->data = NULL;
    if (src->data_len > 0 && src->data != NULL) {
        memcpy(cursor, src->data, src->data_len);
        t->data = (const uint8_t *)cursor;
        cursor += src->data_len;
    } else {
        t->data_len = 0;
    }
    t->workflow_id = td_match_strput(&cursor, src->workflow_id);
    t->run_id = td_match_strput(&cursor, src->run_id);
    t->query_id = td_match_strput(&cursor, src->query_id);
    return t;
}

int td_match__key_valid(const td_match_key_t *key)
{
    return key != NULL && key->namespace_id != NULL && key->name != NULL && key->name[0] != '\0' &&
           (key->type == TD_MATCH_WORKFLOW || key->type == TD_MATCH_ACTIVITY) &&
           (key->kind == TD_MATCH_NORMAL || key->kind == TD_MATCH_STICKY);
}

char *td_match__key_str(const td_match_key_t *key)
{
    size_t n;
    char *s;
    if (key == NULL || key->namespace_id == NULL || key->name == NULL) {
        return NULL;
    }
    n = strlen(key->namespace_id) + strlen(key->name) + 16;
    s = td_malloc(n);
    snprintf(s, n, "%s\x1f%s\x1f%d", key->namespace_id, key->name, (int)key->type);
    return s;
}
