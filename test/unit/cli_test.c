/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line parsing: every command, the start-dev flags that SDK test harnesses pass,
 * and every bad-input case (which must name the offending token).
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"

#define ARGV(...) ((char *[]){ "temporald", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "temporald", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(cli, err, ...) \
    td_cli_parse(cli, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), err, sizeof(err))

static void td_expect_bad(int argc, char **argv, const char *needle)
{
    td_cli_t cli;
    char err[512];
    TD_CHECK_INT(td_cli_parse(&cli, argc, argv, err, sizeof(err)), ==, TD_EINVAL);
    TD_CHECK_CONTAINS(err, needle);
    td_cli_destroy(&cli);
}
#define BAD(needle, ...) td_expect_bad(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), needle)

TD_TEST(cli_start_dev_defaults)
{
    td_cli_t cli;
    char err[512];
    TD_CHECK_INT(PARSE(&cli, err, "start-dev"), ==, TD_OK);
    TD_CHECK_INT(cli.cmd, ==, TD_CMD_START_DEV);
    TD_CHECK_STR(cli.config.ip, "127.0.0.1");
    TD_CHECK_INT(cli.config.frontend_port, ==, 7233);
    TD_CHECK_INT(cli.config.ui_port, ==, 8233);
    TD_CHECK_INT(cli.config.ui_enabled, ==, 1);
    TD_CHECK_STR(cli.config.db_url, "sqlite://:memory:");
    TD_CHECK_INT(cli.config.services, ==, TD_ROLE_ALL);
    TD_CHECK_INT(cli.config.num_history_shards, ==, 1);
    td_cli_destroy(&cli);
}

TD_TEST(cli_sdk_launch_line)
{
    /* The command line @temporalio/testing uses to launch a dev server executable. */
    td_cli_t cli;
    char err[512];
    TD_CHECK_INT(PARSE(&cli, err, "server", "start-dev", "--port", "7240", "--namespace", "default",
                       "--ip", "127.0.0.1", "--log-format", "pretty", "--log-level", "warn",
                       "--headless", "--dynamic-config-value",
                       "frontend.enableServerVersionCheck=false"),
                 ==, TD_OK);
    TD_CHECK_INT(cli.config.frontend_port, ==, 7240);
    TD_CHECK_INT(cli.config.ui_enabled, ==, 0);
    TD_CHECK_INT(cli.config.ui_port, ==, 8240);
    TD_CHECK_STR(cli.config.log_format, "pretty");
    TD_CHECK_STR(cli.config.log_level, "warn");
    TD_CHECK_INT(cli.config.namespaces.n, ==, 1);
    TD_CHECK_STR(cli.config.namespaces.v[0], "default");
    TD_CHECK_STR(td_config_dyn(&cli.config, "frontend.enableServerVersionCheck"), "false");
    td_cli_destroy(&cli);
}

TD_TEST(cli_start_dev_all_flags)
{
    td_cli_t cli;
    char err[512];
    TD_CHECK_INT(PARSE(&cli, err, "start-dev", "-p", "9000", "--ui-port=9100", "--http-port",
                       "9200", "--metrics-port", "9300", "-f", "/tmp/x.db", "-n", "a", "-n", "b",
                       "--search-attribute", "CustomKeywordField=Keyword", "--search-attribute",
                       "Age=int", "--sqlite-pragma", "journal_mode=WAL", "--dynamic-config-value",
                       "history.longPollExpirationInterval=\"5s\""),
                 ==, TD_OK);
    TD_CHECK_INT(cli.config.frontend_port, ==, 9000);
    TD_CHECK_INT(cli.config.ui_port, ==, 9100);
    TD_CHECK_INT(cli.config.http_port, ==, 9200);
    TD_CHECK_INT(cli.config.metrics_port, ==, 9300);
    TD_CHECK_STR(cli.config.db_url, "sqlite:///tmp/x.db");
    TD_CHECK_INT(cli.config.namespaces.n, ==, 2);
    TD_CHECK_INT(cli.config.search_attributes.n, ==, 2);
    TD_CHECK_STR(cli.config.sqlite_pragmas.v[0], "journal_mode=WAL");
    TD_CHECK_INT(td_config_dyn_ms(&cli.config, "history.longPollExpirationInterval", 20000), ==,
                 5000);
    td_cli_destroy(&cli);
}

TD_TEST(cli_db_url_and_version)
{
    td_cli_t cli;
    char err[512];
    TD_CHECK_INT(PARSE(&cli, err, "start-dev", "--db-url", "postgres://u:p@127.0.0.1:5432/t"), ==,
                 TD_OK);
    TD_CHECK_STR(cli.config.db_url, "postgres://u:p@127.0.0.1:5432/t");
    td_cli_destroy(&cli);
    TD_CHECK_INT(PARSE(&cli, err, "version"), ==, TD_OK);
    TD_CHECK_INT(cli.cmd, ==, TD_CMD_VERSION);
    td_cli_destroy(&cli);
    TD_CHECK_INT(PARSE(&cli, err, "start-dev", "--help"), ==, TD_OK);
    TD_CHECK_INT(cli.help, ==, 1);
    TD_CHECK_CONTAINS(td_cli_usage(cli.cmd), "--dynamic-config-value");
    td_cli_destroy(&cli);
    TD_CHECK_INT(PARSE(&cli, err, "schema", "update", "--db-url", "sqlite:///tmp/a.db"), ==, TD_OK);
    TD_CHECK_STR(cli.schema_op, "update");
    td_cli_destroy(&cli);
}

TD_TEST(cli_bad_input)
{
    BAD("unknown command 'frobnicate'", "frobnicate");
    BAD("unknown flag '--nope'", "start-dev", "--nope");
    BAD("unknown flag '-x'", "start-dev", "-x", "1");
    BAD("flag '--port' needs a value", "start-dev", "--port");
    BAD("'70000': expected a port from 0 to 65535", "start-dev", "--port", "70000");
    BAD("'abc': expected a port", "start-dev", "--port", "abc");
    BAD("'-1': expected a port", "start-dev", "--ui-port=-1");
    BAD("'loud': expected one of debug|info|warn|error|never", "start-dev", "--log-level", "loud");
    BAD("'xml': expected one of text|json|pretty", "start-dev", "--log-format", "xml");
    BAD("unknown type 'Blob'", "start-dev", "--search-attribute", "X=Blob");
    BAD("expected Name=Type", "start-dev", "--search-attribute", "X");
    BAD("expected KEY=JSON", "start-dev", "--dynamic-config-value", "novalue");
    BAD("expected NAME=VALUE", "start-dev", "--sqlite-pragma", "=1");
    BAD("flag '--headless' takes no value", "start-dev", "--headless=maybe");
    BAD("unexpected argument 'extra'", "start-dev", "extra");
    BAD("unknown role 'scheduler'", "start", "--config", "/dev/null", "--services",
        "history,scheduler");
    BAD("start needs --config FILE", "start");
    BAD("unknown schema command 'drop'", "schema", "drop");
    BAD("cannot open", "start", "--config", "/nonexistent/x.ini");
}

static const char *td_write_ini(const char *text)
{
    static char path[64];
    FILE *f;
    snprintf(path, sizeof(path), "/tmp/td-cli-test-%d.ini", (int)getpid());
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

TD_TEST(config_ini_file)
{
    td_cli_t cli;
    char err[512];
    const char *p = td_write_ini("[server]\nip = 0.0.0.0\nservices = history,matching\n"
                                 "[history]\nnum_shards = 16\nport = 17234\n"
                                 "[persistence]\nurl = sqlite:///tmp/x.db\n"
                                 "sqlite_synchronous = NORMAL\n[ui]\nenabled = false\n");
    TD_CHECK_INT(PARSE(&cli, err, "start", "--config", (char *)p, "--services=frontend"), ==,
                 TD_OK);
    TD_CHECK_STR(cli.config.ip, "0.0.0.0");
    /* the flag overrides the file */
    TD_CHECK_INT(cli.config.services, ==, TD_ROLE_FRONTEND);
    TD_CHECK_INT(cli.config.num_history_shards, ==, 16);
    TD_CHECK_INT(cli.config.history_port, ==, 17234);
    TD_CHECK_STR(cli.config.sqlite_synchronous, "NORMAL");
    td_cli_destroy(&cli);
    unlink(p);
}

static void td_expect_bad_ini(const char *text, const char *needle)
{
    td_cli_t cli;
    char err[512];
    const char *p = td_write_ini(text);
    TD_CHECK_INT(PARSE(&cli, err, "start", "--config", (char *)p), ==, TD_EINVAL);
    TD_CHECK_CONTAINS(err, needle);
    TD_CHECK_CONTAINS(err, p);
    td_cli_destroy(&cli);
    unlink(p);
}

TD_TEST(config_ini_bad_lines)
{
    td_expect_bad_ini("[server]\nip = 1.2.3.4\n[nosuch]\nx = 1\n", ":3: unknown section [nosuch]");
    td_expect_bad_ini("[server]\nbogus = 1\n", ":2: unknown key 'bogus' in section [server]");
    td_expect_bad_ini("[history]\nnum_shards = 0\n", ":2: [history] num_shards = '0'");
    td_expect_bad_ini("[history]\nnum_shards = many\n", "expected an integer from 1 to 16384");
    td_expect_bad_ini("[frontend]\nport = 99999\n", "expected a port");
    td_expect_bad_ini("[ui]\nenabled = perhaps\n", "expected true or false");
    td_expect_bad_ini("[server]\nservices = frontend,nope\n", "unknown role 'nope'");
    td_expect_bad_ini("ip = 1\n", ":1: key 'ip' outside any section");
    td_expect_bad_ini("[server]\nthis line has no equals\n", ":2: syntax error");
    td_expect_bad_ini("[tls]\ncert_file = /x.pem\n", "cert_file and key_file");
}

TD_TEST(config_services_and_durations)
{
    int bits = 0;
    char err[200];
    long long ms = 0;
    TD_CHECK_INT(
            td_config_parse_services("frontend,history,matching,worker", &bits, err, sizeof(err)),
            ==, TD_OK);
    TD_CHECK_INT(bits, ==, TD_ROLE_ALL);
    TD_CHECK_INT(td_config_parse_services("", &bits, err, sizeof(err)), ==, TD_EINVAL);
    TD_CHECK_INT(td_parse_duration_ms("1h2m3s", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 3723000);
    TD_CHECK_INT(td_parse_duration_ms("150ms", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 150);
    TD_CHECK_INT(td_parse_duration_ms("2.5s", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 2500);
    TD_CHECK_INT(td_parse_duration_ms("5x", &ms), ==, TD_EINVAL);
}
