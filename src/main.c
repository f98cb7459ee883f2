/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The temporald executable: parses the command line and runs the command. Bad usage exits
 * with status 2 and one line naming the offending token; runtime failures exit 1.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "log.h"
#include "server.h"

int td_schema_main(const td_cli_t *cli);
int td_cluster_main(const td_cli_t *cli);

static void td_main_logging(const td_config_t *c)
{
    td_log_level_t level = TD_LOG_INFO;
    td_log_format_t format = TD_LOG_TEXT;
    td_log_level_parse(c->log_level, &level);
    td_log_format_parse(c->log_format, &format);
    td_log_setup(level, format);
}

int main(int argc, char **argv)
{
    td_cli_t cli;
    char err[1024];
    int status = 0;

    if (td_cli_parse(&cli, argc, argv, err, sizeof(err)) != TD_OK) {
        fprintf(stderr, "temporald: %s\n", err);
        td_cli_destroy(&cli);
        return 2;
    }
    if (cli.help) {
        fputs(td_cli_usage(cli.cmd), stdout);
        td_cli_destroy(&cli);
        return 0;
    }
    td_main_logging(&cli.config);
    switch (cli.cmd) {
    case TD_CMD_VERSION:
        printf("temporald %s (%s)\n", TD_VERSION, TD_GITREV);
        break;
    case TD_CMD_START_DEV:
    case TD_CMD_START:
        status = td_server_run(&cli.config);
        break;
    case TD_CMD_SCHEMA:
        status = td_schema_main(&cli);
        break;
    case TD_CMD_CLUSTER:
        status = td_cluster_main(&cli);
        break;
    case TD_CMD_HELP:
        fputs(td_cli_usage(TD_CMD_HELP), stdout);
        break;
    }
    td_cli_destroy(&cli);
    return status;
}
