/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `temporald schema setup|update|version`: creates, migrates and reports the database
 * schema through the store layer (td_store_schema), for the database named by the
 * configuration's [persistence] url. It prints one line on success (stdout) or one error
 * line (stderr, exit status 1). Only main.c calls it.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "store/store.h"

int td_schema_main(const td_cli_t *cli);

int td_schema_main(const td_cli_t *cli)
{
    const td_config_t *c = &cli->config;
    td_store_options_t opt;
    char err[512] = "";
    int from = 0, to = 0, want = 0;
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.schema = TD_STORE_SCHEMA_IGNORE;
    opt.sqlite_synchronous = c->sqlite_synchronous;
    opt.pragmas = (const char *const *)c->sqlite_pragmas.v;
    opt.n_pragmas = c->sqlite_pragmas.n;
    rc = td_store_schema(c->db_url, &opt, cli->schema_op, &from, &to, &want, err, sizeof(err));
    if (rc != TD_OK) {
        fprintf(stderr, "temporald: schema %s: %s\n", cli->schema_op, err);
        return 1;
    }
    if (strcmp(cli->schema_op, "version") == 0) {
        printf("schema version %d (this binary wants %d)%s\n", from, want,
               from == want  ? ""
               : from < want ? ": run `temporald schema update`"
                             : ": newer than this binary");
    } else if (from == to) {
        printf("schema already at version %d\n", to);
    } else {
        printf("schema %s: version %d -> %d\n", cli->schema_op, from, to);
    }
    return 0;
}
