/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line parsing for the temporald executable: the command word and its flags, turned
 * into a td_config_t. Pure: it reads argv and files named by --config, prints nothing, and
 * reports the first bad token in one line, so it is unit-tested without a process.
 */
#ifndef TD_CLI_H
#define TD_CLI_H

#include "config.h"

typedef enum {
    TD_CMD_HELP = 0,
    TD_CMD_VERSION,
    TD_CMD_START_DEV,
    TD_CMD_START,
    TD_CMD_SCHEMA,
    TD_CMD_CLUSTER,
} td_cmd_t;

typedef struct {
    td_cmd_t cmd;
    int help;               /* --help given: print help for cmd and exit 0 */
    const char *schema_op;  /* TD_CMD_SCHEMA: "setup", "update" or "version" */
    const char *cluster_op; /* TD_CMD_CLUSTER: "members" */
    const char *address;    /* TD_CMD_CLUSTER: --address HOST:PORT of a frontend */
    const char *config_path;
    td_config_t config;
} td_cli_t;

/* Parses argv (argv[0] is the program). Returns TD_OK, or TD_EINVAL with one line in err
 * that names the offending token and what was expected; the caller exits with status 2.
 * cli->config is initialised in both cases and must be destroyed by the caller. */
int td_cli_parse(td_cli_t *cli, int argc, char **argv, char *err, size_t errlen);
void td_cli_destroy(td_cli_t *cli);
/* Usage text for a command (TD_CMD_HELP: the overview). */
const char *td_cli_usage(td_cmd_t cmd);

#endif
