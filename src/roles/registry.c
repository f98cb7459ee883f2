/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The static table of roles (see role.h).
 */
#include "roles/role.h"

#include <string.h>

const td_role_t *const td_roles[] = {
    &td_role_history,
    &td_role_matching,
    &td_role_worker,
    &td_role_frontend,
};

const int td_roles_count = (int)(sizeof(td_roles) / sizeof(td_roles[0]));

const td_role_t *td_role_find(const char *name)
{
    for (int i = 0; i < td_roles_count; i++) {
        if (strcmp(td_roles[i]->name, name) == 0) {
            return td_roles[i];
        }
    }
    return NULL;
}
