/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line parsing (see cli.h). Flags are rows of one table per command; each row
 * either sets a config key through td_config_set (so the INI file and the flag share one
 * validation) or is handled by a small function here. `--flag value` and `--flag=value`
 * are both accepted, and the leading word `server` is ignored so that tools that launch
 * `temporal server start-dev ...` can launch temporald the same way.
 */
#include "cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"

typedef enum {
    TD_FL_KEY,       /* sets section/key through td_config_set */
    TD_FL_BOOL_OFF,  /* flag without value: sets section/key to "false" */
    TD_FL_CONFIG,    /* --config FILE */
    TD_FL_DB_FILE,   /* --db-filename */
    TD_FL_PORT,      /* --port: frontend port, and the UI port follows unless given */
    TD_FL_NAMESPACE, /* repeatable lists */
    TD_FL_SEARCH_ATTR,
    TD_FL_DYNCONFIG,
    TD_FL_PRAGMA,
    TD_FL_ADDRESS, /* --address HOST:PORT */
} td_fl_t;

typedef struct {
    const char *name; /* long name without "--" */
    char shortname;   /* 0 if none */
    td_fl_t kind;
    const char *section, *key;
    const char *doc;
} td_flag_t;

static const td_flag_t td_dev_flags[] = {
    { "ip", 0, TD_FL_KEY, "server", "ip",
      "address to bind (default 127.0.0.1; localhost = 127.0.0.1)" },
    { "port", 'p', TD_FL_PORT, "frontend", "port", "frontend gRPC port (default 7233)" },
    { "ui-port", 0, TD_FL_KEY, "ui", "port", "web UI port (default: port + 1000)" },
    { "ui-ip", 0, TD_FL_KEY, "ui", "ip", "web UI address (default: --ip)" },
    { "headless", 0, TD_FL_BOOL_OFF, "ui", "enabled", "do not serve the web UI" },
    { "http-port", 0, TD_FL_KEY, "frontend", "http_port",
      "HTTP API port (default: a free port; 0: off)" },
    { "metrics-port", 0, TD_FL_KEY, "frontend", "metrics_port",
      "Prometheus /metrics port (default: a free port; 0: off)" },
    { "db-filename", 'f', TD_FL_DB_FILE, NULL, NULL,
      "SQLite file to keep state in (default: in memory, lost at exit)" },
    { "db-url", 0, TD_FL_KEY, "persistence", "url",
      "database URL: sqlite:///path/file.db or postgres://user:pass@host:port/db" },
    { "namespace", 'n', TD_FL_NAMESPACE, NULL, NULL,
      "namespace to create at start (repeatable; 'default' always exists)" },
    { "search-attribute", 0, TD_FL_SEARCH_ATTR, NULL, NULL,
      "custom search attribute Name=Type (repeatable; Text, Keyword, Int, Double, Bool, "
      "Datetime, KeywordList)" },
    { "dynamic-config-value", 0, TD_FL_DYNCONFIG, NULL, NULL,
      "dynamic config KEY=JSON (repeatable)" },
    { "log-level", 0, TD_FL_KEY, "server", "log_level",
      "debug, info, warn (default), error, never" },
    { "log-format", 0, TD_FL_KEY, "server", "log_format", "text (default), json, pretty" },
    { "sqlite-pragma", 0, TD_FL_PRAGMA, NULL, NULL, "SQLite pragma NAME=VALUE (repeatable)" },
    { "config", 'c', TD_FL_CONFIG, NULL, NULL, "INI file read before the flags" },
};

static const td_flag_t td_start_flags[] = {
    { "config", 'c', TD_FL_CONFIG, NULL, NULL, "INI configuration file (required)" },
    { "services", 's', TD_FL_KEY, "server", "services",
      "roles to host: frontend,history,matching,worker (default: all)" },
    { "log-level", 0, TD_FL_KEY, "server", "log_level", "debug, info, warn, error, never" },
    { "log-format", 0, TD_FL_KEY, "server", "log_format", "text, json, pretty" },
    { "namespace", 'n', TD_FL_NAMESPACE, NULL, NULL, "namespace to create at start (repeatable)" },
    { "search-attribute", 0, TD_FL_SEARCH_ATTR, NULL, NULL,
      "custom search attribute Name=Type (repeatable)" },
    { "dynamic-config-value", 0, TD_FL_DYNCONFIG, NULL, NULL,
      "dynamic config KEY=JSON (repeatable)" },
};

static const td_flag_t td_schema_flags[] = {
    { "config", 'c', TD_FL_CONFIG, NULL, NULL, "INI configuration file naming the database" },
    { "db-url", 0, TD_FL_KEY, "persistence", "url", "database URL (overrides the file)" },
    { "log-level", 0, TD_FL_KEY, "server", "log_level", "debug, info, warn, error, never" },
};

static const td_flag_t td_cluster_flags[] = {
    { "address", 'a', TD_FL_ADDRESS, NULL, NULL,
      "HOST:PORT of a frontend's gRPC port (default 127.0.0.1:7233)" },
};

static const char *const td_sa_types[] = { "Text", "Keyword",  "Int",        "Double",
                                           "Bool", "Datetime", "KeywordList" };

static char td_usage_buf[8192];

static void td_usage_flags(const td_flag_t *flags, size_t n, size_t *len)
{
    for (size_t i = 0; i < n; i++) {
        char name[64];
        int takes = flags[i].kind != TD_FL_BOOL_OFF;
        if (flags[i].shortname) {
            snprintf(name, sizeof(name), "-%c, --%s%s", flags[i].shortname, flags[i].name,
                     takes ? " VALUE" : "");
        } else {
            snprintf(name, sizeof(name), "    --%s%s", flags[i].name, takes ? " VALUE" : "");
        }
        *len += (size_t)snprintf(td_usage_buf + *len, sizeof(td_usage_buf) - *len, "  %-34s %s\n",
                                 name, flags[i].doc);
    }
}

const char *td_cli_usage(td_cmd_t cmd)
{
    size_t len = 0;
    switch (cmd) {
    case TD_CMD_START_DEV:
        len = (size_t)snprintf(td_usage_buf, sizeof(td_usage_buf),
                               "Usage: temporald [server] start-dev [flags]\n\n"
                               "Runs every role in one process on SQLite, for development.\n\n"
                               "Flags:\n");
        td_usage_flags(td_dev_flags, TD_ARRAY_LEN(td_dev_flags), &len);
        break;
    case TD_CMD_START:
        len = (size_t)snprintf(td_usage_buf, sizeof(td_usage_buf),
                               "Usage: temporald start --config FILE [--services=LIST] [flags]\n\n"
                               "Runs the chosen roles with the configuration in FILE.\n\n"
                               "Flags:\n");
        td_usage_flags(td_start_flags, TD_ARRAY_LEN(td_start_flags), &len);
        break;
    case TD_CMD_SCHEMA:
        len = (size_t)snprintf(td_usage_buf, sizeof(td_usage_buf),
                               "Usage: temporald schema setup|update|version [flags]\n\n"
                               "  setup     create the schema in an empty database\n"
                               "  update    apply pending migrations (idempotent)\n"
                               "  version   print the schema version of the database\n\n"
                               "Flags:\n");
        td_usage_flags(td_schema_flags, TD_ARRAY_LEN(td_schema_flags), &len);
        break;
    case TD_CMD_CLUSTER:
        len = (size_t)snprintf(td_usage_buf, sizeof(td_usage_buf),
                               "Usage: temporald cluster members [--address HOST:PORT]\n\n"
                               "  members   list the cluster's members as the process at "
                               "--address sees them:\n"
                               "            role, membership id, gRPC address, status, "
                               "incarnation, owned keys\n\n"
                               "Flags:\n");
        td_usage_flags(td_cluster_flags, TD_ARRAY_LEN(td_cluster_flags), &len);
        break;
    case TD_CMD_VERSION:
        snprintf(td_usage_buf, sizeof(td_usage_buf),
                 "Usage: temporald version\n\nPrints the temporald version.\n");
        break;
    case TD_CMD_HELP:
    default:
        snprintf(td_usage_buf, sizeof(td_usage_buf),
                 "temporald: a Temporal-compatible durable workflow server.\n\n"
                 "Usage: temporald COMMAND [flags]\n\n"
                 "Commands:\n"
                 "  start-dev   run every role in one process on SQLite (development)\n"
                 "  start       run the roles chosen by --services with a config file\n"
                 "  schema      create, migrate or inspect the database schema\n"
                 "  cluster     show the cluster's members (cluster members --address ...)\n"
                 "  version     print the version\n\n"
                 "Run 'temporald COMMAND --help' for the flags of a command.\n");
        break;
    }
    return td_usage_buf;
}

static int td_split_kv(const char *v, const char *flag, const char *what, char *err, size_t errlen)
{
    const char *eq = strchr(v, '=');
    if (eq == NULL || eq == v || eq[1] == '\0') {
        snprintf(err, errlen, "--%s '%s': expected %s", flag, v, what);
        return TD_EINVAL;
    }
    return TD_OK;
}

static int td_cli_apply(td_cli_t *cli, const td_flag_t *f, const char *v, int *ui_port_set,
                        char *err, size_t errlen)
{
    td_config_t *c = &cli->config;
    char where[80];
    char url[4200];
    int rc = TD_OK;

    snprintf(where, sizeof(where), "--%s", f->name);
    switch (f->kind) {
    case TD_FL_KEY:
        rc = td_config_set(c, f->section, f->key, v, where, err, errlen);
        if (rc == TD_OK && strcmp(f->name, "ui-port") == 0) {
            *ui_port_set = 1;
        }
        break;
    case TD_FL_BOOL_OFF:
        rc = td_config_set(c, f->section, f->key, "false", where, err, errlen);
        break;
    case TD_FL_PORT:
        rc = td_config_set(c, f->section, f->key, v, where, err, errlen);
        break;
    case TD_FL_CONFIG:
        cli->config_path = v;
        rc = td_config_load(c, v, err, errlen);
        break;
    case TD_FL_DB_FILE:
        if (v[0] == '\0' || strlen(v) > 4096) {
            snprintf(err, errlen, "--db-filename '%s': expected a file path", v);
            return TD_EINVAL;
        }
        snprintf(url, sizeof(url), "sqlite://%s", v);
        rc = td_config_set(c, "persistence", "url", url, where, err, errlen);
        break;
    case TD_FL_NAMESPACE:
        if (v[0] == '\0' || strlen(v) > 255) {
            snprintf(err, errlen, "--namespace '%s': expected a name of 1 to 255 characters", v);
            return TD_EINVAL;
        }
        td_strlist_add(&c->namespaces, v);
        break;
    case TD_FL_SEARCH_ATTR: {
        const char *eq = strchr(v, '=');
        int ok = 0;
        if ((rc = td_split_kv(v, f->name, "Name=Type", err, errlen)) != TD_OK) {
            return rc;
        }
        for (size_t i = 0; i < TD_ARRAY_LEN(td_sa_types); i++) {
            if (strcasecmp(eq + 1, td_sa_types[i]) == 0) {
                ok = 1;
            }
        }
        if (!ok) {
            snprintf(err, errlen,
                     "--search-attribute '%s': unknown type '%s': expected Text, Keyword, Int, "
                     "Double, Bool, Datetime or KeywordList",
                     v, eq + 1);
            return TD_EINVAL;
        }
        td_strlist_add(&c->search_attributes, v);
        break;
    }
    case TD_FL_DYNCONFIG:
        if ((rc = td_split_kv(v, f->name, "KEY=JSON", err, errlen)) != TD_OK) {
            return rc;
        }
        td_strlist_add(&c->dynamic_config, v);
        break;
    case TD_FL_ADDRESS: {
        const char *colon = strrchr(v, ':');
        if (colon == NULL || colon == v || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535) {
            snprintf(err, errlen, "--address '%s': expected HOST:PORT", v);
            return TD_EINVAL;
        }
        cli->address = v;
        break;
    }
    case TD_FL_PRAGMA:
        if ((rc = td_split_kv(v, f->name, "NAME=VALUE", err, errlen)) != TD_OK) {
            return rc;
        }
        for (const char *p = v; *p != '='; p++) {
            if (!isalnum((unsigned char)*p) && *p != '_') {
                snprintf(err, errlen, "--sqlite-pragma '%s': pragma names are letters, digits, _",
                         v);
                return TD_EINVAL;
            }
        }
        td_strlist_add(&c->sqlite_pragmas, v);
        break;
    }
    return rc;
}

static const td_flag_t *td_find_flag(const td_flag_t *flags, size_t n, const char *arg,
                                     size_t namelen, int is_short)
{
    for (size_t i = 0; i < n; i++) {
        if (is_short ? (flags[i].shortname == arg[0] && namelen == 1)
                     : (strlen(flags[i].name) == namelen &&
                        strncmp(flags[i].name, arg, namelen) == 0)) {
            return &flags[i];
        }
    }
    return NULL;
}

static int td_cli_flags(td_cli_t *cli, const td_flag_t *flags, size_t nflags, int argc, char **argv,
                        int i, char *err, size_t errlen)
{
    int ui_port_set = 0;
    int rc;

    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *name, *val = NULL, *eq;
        size_t namelen;
        int is_short;
        const td_flag_t *f;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli->help = 1;
            return TD_OK;
        }
        if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0) {
            snprintf(err, errlen, "unexpected argument '%s': expected a flag (see --help)", a);
            return TD_EINVAL;
        }
        is_short = a[1] != '-';
        name = a + (is_short ? 1 : 2);
        eq = strchr(name, '=');
        namelen = eq ? (size_t)(eq - name) : strlen(name);
        f = td_find_flag(flags, nflags, name, namelen, is_short);
        if (f == NULL) {
            snprintf(err, errlen, "unknown flag '%.*s': see 'temporald %s --help'",
                     (int)(namelen + (is_short ? 1 : 2)), a,
                     cli->cmd == TD_CMD_START_DEV ? "start-dev"
                     : cli->cmd == TD_CMD_START   ? "start"
                     : cli->cmd == TD_CMD_CLUSTER ? "cluster members"
                                                  : "schema");
            return TD_EINVAL;
        }
        if (f->kind == TD_FL_BOOL_OFF) {
            if (eq != NULL && strcmp(eq + 1, "true") != 0) {
                snprintf(err, errlen, "flag '--%s' takes no value", f->name);
                return TD_EINVAL;
            }
        } else if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, errlen, "flag '%s' needs a value", a);
            return TD_EINVAL;
        }
        if ((rc = td_cli_apply(cli, f, val ? val : "", &ui_port_set, err, errlen)) != TD_OK) {
            return rc;
        }
    }
    if (cli->cmd == TD_CMD_START_DEV && !ui_port_set) {
        int p = cli->config.frontend_port + 1000;
        cli->config.ui_port = p > 65535 ? 65535 : p;
    }
    if (cli->cmd == TD_CMD_START && cli->config_path == NULL && !cli->help) {
        snprintf(err, errlen, "start needs --config FILE (see conf/development.ini)");
        return TD_EINVAL;
    }
    if ((rc = td_config_validate(&cli->config, err, errlen)) != TD_OK && cli->config_path) {
        char sub[512];
        snprintf(sub, sizeof(sub), "%s", err);
        snprintf(err, errlen, "%s: %s", cli->config_path, sub);
    }
    return rc;
}

int td_cli_parse(td_cli_t *cli, int argc, char **argv, char *err, size_t errlen)
{
    int i = 1;
    const char *word;

    memset(cli, 0, sizeof(*cli));
    td_config_init(&cli->config);
    err[0] = '\0';
    if (i < argc && strcmp(argv[i], "server") == 0) {
        i++;
    }
    if (i >= argc) {
        cli->cmd = TD_CMD_HELP;
        cli->help = 1;
        return TD_OK;
    }
    word = argv[i++];
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0) {
        cli->cmd = TD_CMD_HELP;
        cli->help = 1;
        return TD_OK;
    }
    if (strcmp(word, "version") == 0 || strcmp(word, "--version") == 0) {
        cli->cmd = TD_CMD_VERSION;
        if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            cli->help = 1;
        } else if (i < argc) {
            snprintf(err, errlen, "unexpected argument '%s': version takes no flags", argv[i]);
            return TD_EINVAL;
        }
        return TD_OK;
    }
    if (strcmp(word, "start-dev") == 0) {
        cli->cmd = TD_CMD_START_DEV;
        td_config_dev_defaults(&cli->config);
        return td_cli_flags(cli, td_dev_flags, TD_ARRAY_LEN(td_dev_flags), argc, argv, i, err,
                            errlen);
    }
    if (strcmp(word, "start") == 0) {
        cli->cmd = TD_CMD_START;
        return td_cli_flags(cli, td_start_flags, TD_ARRAY_LEN(td_start_flags), argc, argv, i, err,
                            errlen);
    }
    if (strcmp(word, "schema") == 0) {
        cli->cmd = TD_CMD_SCHEMA;
        if (i >= argc || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli->help = 1;
            return TD_OK;
        }
        word = argv[i++];
        if (strcmp(word, "setup") != 0 && strcmp(word, "update") != 0 &&
            strcmp(word, "version") != 0) {
            snprintf(err, errlen, "unknown schema command '%s': expected setup, update or version",
                     word);
            return TD_EINVAL;
        }
        cli->schema_op = word;
        return td_cli_flags(cli, td_schema_flags, TD_ARRAY_LEN(td_schema_flags), argc, argv, i, err,
                            errlen);
    }
    if (strcmp(word, "cluster") == 0) {
        cli->cmd = TD_CMD_CLUSTER;
        cli->address = "127.0.0.1:7233";
        if (i >= argc || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli->help = 1;
            return TD_OK;
        }
        word = argv[i++];
        if (strcmp(word, "members") != 0) {
            snprintf(err, errlen, "unknown cluster command '%s': expected members", word);
            return TD_EINVAL;
        }
        cli->cluster_op = word;
        return td_cli_flags(cli, td_cluster_flags, TD_ARRAY_LEN(td_cluster_flags), argc, argv, i,
                            err, errlen);
    }
    snprintf(err, errlen,
             "unknown command '%s': expected start-dev, start, schema, cluster or version", word);
    return TD_EINVAL;
}

void td_cli_destroy(td_cli_t *cli)
{
    td_config_destroy(&cli->config);
}
