/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `temporald schema setup|update|version`: creates, migrates and reports the database
 * schema through the store layer.
 */
#include <stdio.h>

#include "cli.h"
#include "error.h"

int td_schema_main(const td_cli_t *cli);

int td_schema_main(const td_cli_t *cli)
{
    fprintf(stderr, "temporald: schema %s: the persistence layer is not built yet (%s)\n",
            cli->schema_op, cli->config.db_url);
    return 1;
}
