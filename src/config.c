/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration table and INI loading (see config.h). Each row names a section and key, the
 * field it sets, its kind and range, and a line of documentation; the files in conf/
 * mirror it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "error.h"
#include "mem.h"

typedef enum {
    TD_CK_STR,
    TD_CK_INT,
    TD_CK_BOOL,
    TD_CK_PORT,
    TD_CK_ENUM,
    TD_CK_SERVICES,
} td_ck_t;

typedef struct {
    const char *section;
    const char *key;
    td_ck_t kind;
    size_t off;
    long min, max;     /* TD_CK_INT range */
    const char *enums; /* TD_CK_ENUM: "a|b|c" */
    const char *doc;
} td_config_key_t;

#define F(field) offsetof(td_config_t, field)

static const td_config_key_t td_config_keys[] = {
    { "server", "ip", TD_CK_STR, F(ip), 0, 0, NULL, "address every listener binds to" },
    { "server", "services", TD_CK_SERVICES, F(services), 0, 0, NULL,
      "roles this process hosts: frontend,history,matching,worker" },
    { "server", "log_level", TD_CK_ENUM, F(log_level), 0, 0, "debug|info|warn|error|never",
      "lowest level written to stderr" },
    { "server", "log_format", TD_CK_ENUM, F(log_format), 0, 0, "text|json|pretty",
      "log line format" },
    { "server", "drain_timeout_ms", TD_CK_INT, F(drain_timeout_ms), 0, 600000, NULL,
      "time in-flight calls get to finish after SIGTERM" },
    { "server", "cluster_name", TD_CK_STR, F(cluster_name), 0, 0, NULL, "cluster name" },
    { "frontend", "port", TD_CK_PORT, F(frontend_port), 0, 0, NULL, "public gRPC port" },
    { "frontend", "membership_port", TD_CK_PORT, F(frontend_membership_port), 0, 0, NULL,
      "SWIM membership port" },
    { "frontend", "http_port", TD_CK_PORT, F(http_port), 0, 0, NULL,
      "HTTP API port (0: off; default 7243)" },
    { "frontend", "metrics_port", TD_CK_PORT, F(metrics_port), 0, 0, NULL,
      "Prometheus metrics port (0: off)" },
    { "frontend", "max_recv_bytes", TD_CK_INT, F(max_recv_bytes), 1024, 1L << 30, NULL,
      "largest gRPC message accepted" },
    { "history", "port", TD_CK_PORT, F(history_port), 0, 0, NULL, "internal gRPC port" },
    { "history", "membership_port", TD_CK_PORT, F(history_membership_port), 0, 0, NULL,
      "SWIM membership port" },
    { "history", "num_shards", TD_CK_INT, F(num_history_shards), 1, 16384, NULL,
      "history shards; fixed when the cluster is created" },
    { "history", "events_cache_mib", TD_CK_INT, F(history_events_cache_mib), 0, 65536, NULL,
      "memory for the history events of recently written runs, in MiB (0: off)" },
    { "matching", "port", TD_CK_PORT, F(matching_port), 0, 0, NULL, "internal gRPC port" },
    { "matching", "membership_port", TD_CK_PORT, F(matching_membership_port), 0, 0, NULL,
      "SWIM membership port" },
    { "worker", "port", TD_CK_PORT, F(worker_port), 0, 0, NULL, "internal gRPC port" },
    { "worker", "membership_port", TD_CK_PORT, F(worker_membership_port), 0, 0, NULL,
      "SWIM membership port" },
    { "cluster", "seeds", TD_CK_STR, F(cluster_seeds), 0, 0, NULL,
      "membership addresses (host:port, comma-separated) to join through, besides the "
      "cluster_membership table" },
    { "cluster", "advertise_ip", TD_CK_STR, F(cluster_advertise_ip), 0, 0, NULL,
      "address other hosts reach this one at (default: server.ip; required when that is "
      "0.0.0.0)" },
    { "cluster", "key", TD_CK_STR, F(cluster_key), 0, 0, NULL,
      "shared secret: membership datagrams carry an HMAC-SHA256 with it, others are dropped" },
    { "persistence", "url", TD_CK_STR, F(db_url), 0, 0, NULL,
      "sqlite:///path/file.db, sqlite://:memory: or postgres://user:pass@host:port/db" },
    { "persistence", "sqlite_synchronous", TD_CK_ENUM, F(sqlite_synchronous), 0, 0,
      "FULL|NORMAL|OFF", "SQLite synchronous pragma for files (FULL: acknowledged is on disk)" },
    { "persistence", "max_conns", TD_CK_INT, F(db_max_conns), 1, 256, NULL,
      "database connections (readers plus the writer)" },
    { "ui", "enabled", TD_CK_BOOL, F(ui_enabled), 0, 0, NULL, "serve the web UI" },
    { "ui", "port", TD_CK_PORT, F(ui_port), 0, 0, NULL, "web UI port" },
    { "ui", "ip", TD_CK_STR, F(ui_ip), 0, 0, NULL, "web UI address (default: server.ip)" },
    { "tls", "cert_file", TD_CK_STR, F(tls_cert_file), 0, 0, NULL, "server certificate (PEM)" },
    { "tls", "key_file", TD_CK_STR, F(tls_key_file), 0, 0, NULL, "server private key (PEM)" },
    { "tls", "ca_file", TD_CK_STR, F(tls_ca_file), 0, 0, NULL,
      "CA bundle that client certificates must chain to" },
    { "tls", "require_client_cert", TD_CK_BOOL, F(tls_require_client_cert), 0, 0, NULL,
      "mutual TLS: refuse clients without a valid certificate" },
    { "tls.internode", "cert_file", TD_CK_STR, F(tls_internode_cert_file), 0, 0, NULL,
      "certificate (PEM) this process presents to other temporald processes, as server and "
      "client of role-to-role gRPC (history, matching); separate from [tls]" },
    { "tls.internode", "key_file", TD_CK_STR, F(tls_internode_key_file), 0, 0, NULL,
      "private key (PEM) of [tls.internode] cert_file" },
    { "tls.internode", "ca_file", TD_CK_STR, F(tls_internode_ca_file), 0, 0, NULL,
      "CA bundle every peer's certificate must chain to; a peer without a valid certificate "
      "is refused (mutual TLS)" },
    { "namespace", "default_retention_hours", TD_CK_INT, F(namespace_retention_hours), 1,
      24 * 365 * 10, NULL, "retention of namespaces created at boot" },
};

#undef F

void td_strlist_add(td_strlist_t *l, const char *s)
{
    l->v = td_realloc(l->v, sizeof(char *) * (size_t)(l->n + 1));
    l->v[l->n++] = td_strdup(s);
}

void td_strlist_clear(td_strlist_t *l)
{
    for (int i = 0; i < l->n; i++) {
        td_free(l->v[i]);
    }
    td_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void td_config_set_str(char **field, const char *v)
{
    td_free(*field);
    *field = td_strdup(v);
}

void td_config_init(td_config_t *c)
{
    memset(c, 0, sizeof(*c));
    td_config_set_str(&c->ip, "127.0.0.1");
    c->services = TD_ROLE_ALL;
    td_config_set_str(&c->log_level, "info");
    td_config_set_str(&c->log_format, "text");
    c->drain_timeout_ms = 10000;
    td_config_set_str(&c->cluster_name, "active");
    c->frontend_port = 7233;
    c->frontend_membership_port = 6933;
    c->history_port = 7234;
    c->history_membership_port = 6934;
    c->matching_port = 7235;
    c->matching_membership_port = 6935;
    c->worker_port = 7239;
    c->worker_membership_port = 6939;
    c->http_port = 7243;
    c->max_recv_bytes = 4 << 20;
    c->num_history_shards = 4;
    c->history_events_cache_mib = 8;
    td_config_set_str(&c->db_url, "sqlite:///var/lib/temporald/temporald.db");
    td_config_set_str(&c->sqlite_synchronous, "FULL");
    c->db_max_conns = 4;
    c->ui_enabled = 0;
    c->ui_port = 8233;
    c->namespace_retention_hours = 24;
}

void td_config_dev_defaults(td_config_t *c)
{
    c->dev = 1;
    c->num_history_shards = 1;
    c->ui_enabled = 1;
    /* Like Temporal's dev server: the HTTP API and /metrics on free ports unless given. */
    c->http_port = TD_PORT_ANY;
    c->metrics_port = TD_PORT_ANY;
    td_config_set_str(&c->db_url, "sqlite://:memory:");
    td_config_set_str(&c->log_level, "warn");
}

void td_config_destroy(td_config_t *c)
{
    for (size_t i = 0; i < TD_ARRAY_LEN(td_config_keys); i++) {
        const td_config_key_t *k = &td_config_keys[i];
        if (k->kind == TD_CK_STR || k->kind == TD_CK_ENUM) {
            char **f = (char **)((char *)c + k->off);
            td_free(*f);
            *f = NULL;
        }
    }
    td_strlist_clear(&c->namespaces);
    td_strlist_clear(&c->search_attributes);
    td_strlist_clear(&c->dynamic_config);
    td_strlist_clear(&c->sqlite_pragmas);
}

int td_config_parse_services(const char *s, int *out, char *err, size_t errlen)
{
    static const char *const names[] = { "frontend", "history", "matching", "worker" };
    int bits = 0;
    const char *p = s;

    while (*p != '\0') {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int found = 0;
        for (size_t i = 0; i < TD_ARRAY_LEN(names); i++) {
            if (n == strlen(names[i]) && strncmp(p, names[i], n) == 0) {
                bits |= 1 << i;
                found = 1;
            }
        }
        if (!found) {
            snprintf(err, errlen,
                     "unknown role '%.*s': expected frontend, history, matching or worker", (int)n,
                     p);
            return TD_EINVAL;
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    if (bits == 0) {
        snprintf(err, errlen,
                 "no role given: expected a list of frontend, history, matching, worker");
        return TD_EINVAL;
    }
    *out = bits;
    return TD_OK;
}

static int td_parse_long(const char *v, long *out)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0') {
        return TD_EINVAL;
    }
    *out = n;
    return TD_OK;
}

static int td_parse_bool(const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0 ||
        strcmp(v, "1") == 0) {
        *out = 1;
    } else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0 ||
               strcmp(v, "0") == 0) {
        *out = 0;
    } else {
        return TD_EINVAL;
    }
    return TD_OK;
}

static int td_enum_has(const char *enums, const char *v)
{
    size_t n = strlen(v);
    const char *p = enums;
    while (p != NULL && *p != '\0') {
        const char *e = strchr(p, '|');
        size_t m = e ? (size_t)(e - p) : strlen(p);
        if (m == n && strncmp(p, v, n) == 0) {
            return 1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int td_config_set(td_config_t *c, const char *section, const char *key, const char *value,
                  const char *where, char *err, size_t errlen)
{
    const td_config_key_t *k = NULL;
    int section_known = 0;
    void *field;
    long n;
    char sub[200];

    for (size_t i = 0; i < TD_ARRAY_LEN(td_config_keys); i++) {
        if (strcmp(td_config_keys[i].section, section) == 0) {
            section_known = 1;
            if (strcmp(td_config_keys[i].key, key) == 0) {
                k = &td_config_keys[i];
            }
        }
    }
    if (!section_known) {
        snprintf(err, errlen, "%s: unknown section [%s]", where, section);
        return TD_EINVAL;
    }
    if (k == NULL) {
        snprintf(err, errlen, "%s: unknown key '%s' in section [%s]", where, key, section);
        return TD_EINVAL;
    }
    field = (char *)c + k->off;
    switch (k->kind) {
    case TD_CK_STR:
        if (strcmp(key, "ip") == 0 && strcasecmp(value, "localhost") == 0) {
            value = "127.0.0.1"; /* the Temporal CLI's default address */
        }
        td_config_set_str(field, value);
        break;
    case TD_CK_ENUM:
        if (!td_enum_has(k->enums, value)) {
            snprintf(err, errlen, "%s: [%s] %s = '%s': expected one of %s", where, section, key,
                     value, k->enums);
            return TD_EINVAL;
        }
        td_config_set_str(field, value);
        break;
    case TD_CK_INT:
        if (td_parse_long(value, &n) != TD_OK || n < k->min || n > k->max) {
            snprintf(err, errlen, "%s: [%s] %s = '%s': expected an integer from %ld to %ld", where,
                     section, key, value, k->min, k->max);
            return TD_EINVAL;
        }
        *(int *)field = (int)n;
        break;
    case TD_CK_PORT:
        if (td_parse_long(value, &n) != TD_OK || n < 0 || n > 65535) {
            snprintf(err, errlen, "%s: [%s] %s = '%s': expected a port from 0 to 65535", where,
                     section, key, value);
            return TD_EINVAL;
        }
        *(int *)field = (int)n;
        break;
    case TD_CK_BOOL:
        if (td_parse_bool(value, field) != TD_OK) {
            snprintf(err, errlen, "%s: [%s] %s = '%s': expected true or false", where, section, key,
                     value);
            return TD_EINVAL;
        }
        break;
    case TD_CK_SERVICES:
        if (td_config_parse_services(value, field, sub, sizeof(sub)) != TD_OK) {
            snprintf(err, errlen, "%s: [%s] %s: %s", where, section, key, sub);
            return TD_EINVAL;
        }
        break;
    }
    return TD_OK;
}

typedef struct {
    td_config_t *c;
    const char *path;
    FILE *f;
    int lineno; /* line last handed to inih: the one its handler is called for */
    char *err;
    size_t errlen;
    int failed;
} td_ini_ctx_t;

/* inih reader: fgets that counts lines, so errors can name the line. */
static char *td_config_ini_reader(char *buf, int size, void *stream)
{
    td_ini_ctx_t *x = stream;
    char *r = fgets(buf, size, x->f);
    const char *p = buf;
    size_t n;

    if (r == NULL) {
        return NULL;
    }
    x->lineno++;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    /* Check section headers here: inih reports a section only with its first key. */
    if (*p == '[' && !x->failed && (n = strcspn(p + 1, "]")) > 0 && p[1 + n] == ']') {
        int known = 0;
        for (size_t i = 0; i < TD_ARRAY_LEN(td_config_keys); i++) {
            const char *s = td_config_keys[i].section;
            known |= strlen(s) == n && strncmp(s, p + 1, n) == 0;
        }
        if (!known) {
            snprintf(x->err, x->errlen, "%s:%d: unknown section [%.*s]", x->path, x->lineno, (int)n,
                     p + 1);
            x->failed = 1;
        }
    }
    return r;
}

static int td_config_ini_handler(void *user, const char *section, const char *name,
                                 const char *value)
{
    td_ini_ctx_t *x = user;
    char where[512];

    if (x->failed) {
        return 0;
    }
    snprintf(where, sizeof(where), "%s:%d", x->path, x->lineno);
    if (section[0] == '\0') {
        snprintf(x->err, x->errlen, "%s: key '%s' outside any section", where, name);
        x->failed = 1;
        return 0;
    }
    if (td_config_set(x->c, section, name, value, where, x->err, x->errlen) != TD_OK) {
        x->failed = 1;
        return 0;
    }
    return 1;
}

int td_config_load(td_config_t *c, const char *path, char *err, size_t errlen)
{
    td_ini_ctx_t x = { c, path, NULL, 0, err, errlen, 0 };
    int rc;

    x.f = fopen(path, "r");
    if (x.f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return TD_EINVAL;
    }
    rc = ini_parse_stream(td_config_ini_reader, &x, td_config_ini_handler, &x);
    fclose(x.f);
    if (x.failed) {
        return TD_EINVAL;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s:%d: syntax error: expected 'key = value' or '[section]'", path,
                 rc);
        return TD_EINVAL;
    }
    return TD_OK;
}

int td_config_validate(const td_config_t *c, char *err, size_t errlen)
{
    if ((c->tls_cert_file != NULL) != (c->tls_key_file != NULL)) {
        snprintf(err, errlen, "[tls] cert_file and key_file must be given together");
        return TD_EINVAL;
    }
    if ((c->tls_internode_cert_file != NULL) != (c->tls_internode_key_file != NULL) ||
        (c->tls_internode_cert_file != NULL) != (c->tls_internode_ca_file != NULL)) {
        snprintf(err, errlen,
                 "[tls.internode] cert_file, key_file and ca_file must be given "
                 "together (mutual TLS between temporald processes)");
        return TD_EINVAL;
    }
    if (c->tls_require_client_cert && c->tls_ca_file == NULL) {
        snprintf(err, errlen, "[tls] require_client_cert needs ca_file");
        return TD_EINVAL;
    }
    if (c->ui_enabled && c->ui_port == c->frontend_port) {
        snprintf(err, errlen, "ui port %d is the same as the frontend port", c->ui_port);
        return TD_EINVAL;
    }
    return TD_OK;
}

const char *td_config_dyn(const td_config_t *c, const char *key)
{
    size_t n = strlen(key);
    for (int i = c->dynamic_config.n - 1; i >= 0; i--) {
        const char *kv = c->dynamic_config.v[i];
        if (strncmp(kv, key, n) == 0 && kv[n] == '=') {
            return kv + n + 1;
        }
    }
    return NULL;
}

int td_parse_duration_ms(const char *s, long long *out)
{
    double total = 0;
    const char *p = s;

    if (*p == '\0') {
        return TD_EINVAL;
    }
    while (*p != '\0') {
        char *end;
        double v = strtod(p, &end);
        double unit;
        if (end == p || v < 0) {
            return TD_EINVAL;
        }
        p = end;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1, p += 2;
        } else if (strncmp(p, "us", 2) == 0) {
            unit = 0.001, p += 2;
        } else if (strncmp(p, "ns", 2) == 0) {
            unit = 0.000001, p += 2;
        } else if (*p == 'h') {
            unit = 3600000, p++;
        } else if (*p == 'm') {
            unit = 60000, p++;
        } else if (*p == 's') {
            unit = 1000, p++;
        } else {
            return TD_EINVAL;
        }
        total += v * unit;
    }
    *out = (long long)total;
    return TD_OK;
}

/* Copies a JSON scalar without its quotes into buf. */
static void td_json_unquote(const char *v, char *buf, size_t len)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n >= len) {
        n = len - 1;
    }
    memcpy(buf, v, n);
    buf[n] = '\0';
}

long long td_config_dyn_ms(const td_config_t *c, const char *key, long long def)
{
    const char *v = td_config_dyn(c, key);
    char buf[64];
    long long ms;
    char *end;
    double secs;

    if (v == NULL) {
        return def;
    }
    td_json_unquote(v, buf, sizeof(buf));
    if (td_parse_duration_ms(buf, &ms) == TD_OK) {
        return ms;
    }
    /* A bare number is taken as seconds, as Temporal's dynamic config does. */
    secs = strtod(buf, &end);
    if (end != buf && *end == '\0' && secs >= 0) {
        return (long long)(secs * 1000);
    }
    return def;
}

long long td_config_dyn_int(const td_config_t *c, const char *key, long long def)
{
    const char *v = td_config_dyn(c, key);
    char buf[64];
    char *end;
    long long n;

    if (v == NULL) {
        return def;
    }
    td_json_unquote(v, buf, sizeof(buf));
    n = strtoll(buf, &end, 10);
    return (end != buf && *end == '\0') ? n : def;
}

int td_config_dyn_bool(const td_config_t *c, const char *key, int def)
{
    const char *v = td_config_dyn(c, key);
    char buf[16];

    if (v == NULL) {
        return def;
    }
    td_json_unquote(v, buf, sizeof(buf));
    if (strcasecmp(buf, "true") == 0) {
        return 1;
    }
    if (strcasecmp(buf, "false") == 0) {
        return 0;
    }
    return def;
}

/* Dynamic config keys some part of temporald reads; any other key is accepted and ignored. */
static const char *const td_config_dyn_used[] = {
    "history.longPollExpirationInterval",
    "matching.longPollExpirationInterval",
    "limit.blobSize.error",
    "limit.blobSize.warn",
    "limit.memoSize.error",
    "limit.historyCount.warn",
    "limit.historyCount.error",
    "limit.historySize.warn",
    "limit.historySize.error",
    "limit.historyCount.suggestContinueAsNew",
    "limit.historySize.suggestContinueAsNew",
    "limit.numPendingActivities.error",
    "limit.numPendingChildExecutions.error",
    "limit.numPendingSignals.error",
    "limit.numPendingCancelRequests.error",
    "history.maximumSignalsPerExecution",
    "limit.maxIDLength",
    "system.namespaceMinRetentionLocal",
    "history.retentionTimerJitterDuration",
    "frontend.enableCancelWorkerPollsOnShutdown",
};

int td_config_dyn_is_used(const char *key)
{
    for (size_t i = 0; i < TD_ARRAY_LEN(td_config_dyn_used); i++) {
        if (strcmp(key, td_config_dyn_used[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

void td_config_print_keys(void)
{
    const char *section = "";
    for (size_t i = 0; i < TD_ARRAY_LEN(td_config_keys); i++) {
        const td_config_key_t *k = &td_config_keys[i];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            printf("%s[%s]\n", i ? "\n" : "", section);
        }
        printf("%-24s %s%s%s\n", k->key, k->doc, k->enums ? ": " : "", k->enums ? k->enums : "");
    }
}
