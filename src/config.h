/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server configuration: one struct filled from defaults, then an INI file (inih), then
 * command-line flags. Every INI key is a row of one table (config.c), which also documents
 * it; an unknown section or key, or a value out of range, is an error naming file, line and
 * key. Process lifetime: built once at start, read-only afterwards.
 */
#ifndef TD_CONFIG_H
#define TD_CONFIG_H

#include <stddef.h>

/* A growable list of owned strings. */
typedef struct {
    char **v;
    int n;
} td_strlist_t;

void td_strlist_add(td_strlist_t *l, const char *s);
void td_strlist_clear(td_strlist_t *l);

/* Role bits for --services. */
enum {
    TD_ROLE_FRONTEND = 1 << 0,
    TD_ROLE_HISTORY = 1 << 1,
    TD_ROLE_MATCHING = 1 << 2,
    TD_ROLE_WORKER = 1 << 3,
    TD_ROLE_ALL = 0xf,
};

/* A listener port that only defaults can hold: bind any free port (start-dev). */
#define TD_PORT_ANY (-1)

typedef struct td_config_s {
    /* [server] */
    char *ip;             /* address every listener binds to */
    int services;         /* TD_ROLE_* bits */
    char *log_level;      /* debug|info|warn|error|never */
    char *log_format;     /* text|json|pretty */
    int drain_timeout_ms; /* in-flight calls get this long after SIGTERM */
    char *cluster_name;
    /* [frontend] [history] [matching] [worker]: gRPC and membership ports */
    int frontend_port, frontend_membership_port;
    int history_port, history_membership_port;
    int matching_port, matching_membership_port;
    int worker_port, worker_membership_port;
    int http_port;                /* HTTP API; 0 = off, TD_PORT_ANY = a free port */
    int metrics_port;             /* Prometheus; 0 = off, TD_PORT_ANY = a free port */
    int max_recv_bytes;           /* largest gRPC message accepted */
    int num_history_shards;       /* fixed when the cluster is created */
    int history_events_cache_mib; /* events cache budget (hist_evc.c); 0 = off */
    /* [cluster] */
    char *cluster_seeds;        /* "host:port,..." membership addresses to join through */
    char *cluster_advertise_ip; /* address peers reach this host at (default: server.ip) */
    char *cluster_key;          /* shared secret authenticating membership datagrams */
    /* [persistence] */
    char *db_url;             /* sqlite:///path, sqlite://:memory:, postgres://... */
    char *sqlite_synchronous; /* FULL|NORMAL|OFF */
    int db_max_conns;
    /* [ui] */
    int ui_enabled;
    int ui_port;
    char *ui_ip;
    /* [tls] */
    char *tls_cert_file, *tls_key_file, *tls_ca_file;
    int tls_require_client_cert;
    /* [tls.internode]: mutual TLS between temporald processes (role-to-role gRPC) */
    char *tls_internode_cert_file, *tls_internode_key_file, *tls_internode_ca_file;
    /* [namespace] default retention for namespaces created at boot */
    int namespace_retention_hours;
    /* start-dev and repeatable flags */
    td_strlist_t namespaces;        /* created at boot besides "default" */
    td_strlist_t search_attributes; /* Name=Type */
    td_strlist_t dynamic_config;    /* key=JSON */
    td_strlist_t sqlite_pragmas;    /* name=value */
    int dev;                        /* started by start-dev */
} td_config_t;

/* Defaults of `temporald start` (start-dev adjusts a few, see td_config_dev_defaults). */
void td_config_init(td_config_t *c);
void td_config_dev_defaults(td_config_t *c);
void td_config_destroy(td_config_t *c);

/* Reads an INI file over c. On error returns TD_EINVAL and writes one line naming
 * file:line, section and key into err. */
int td_config_load(td_config_t *c, const char *path, char *err, size_t errlen);
/* Sets one key as the INI file would ("section", "key", "value"); same errors, with
 * `where` naming the source (a file:line or a flag). */
int td_config_set(td_config_t *c, const char *section, const char *key, const char *value,
                  const char *where, char *err, size_t errlen);
/* Parses "frontend,history,..." into TD_ROLE_* bits; names the bad token in err. */
int td_config_parse_services(const char *s, int *out, char *err, size_t errlen);
/* Checks cross-field rules (ports distinct, TLS pairs). */
int td_config_validate(const td_config_t *c, char *err, size_t errlen);

/* Dynamic config (--dynamic-config-value KEY=JSON): the JSON text of the last value set for
 * key, or NULL. */
const char *td_config_dyn(const td_config_t *c, const char *key);
/* A duration value ("5s", "150ms", "2m", or a JSON number of seconds... quoted or not) in
 * milliseconds, or def when absent or unparsable. */
long long td_config_dyn_ms(const td_config_t *c, const char *key, long long def);
/* An integer value, or def. */
long long td_config_dyn_int(const td_config_t *c, const char *key, long long def);
/* A JSON true / false (quoted or not); def when unset or anything else. */
int td_config_dyn_bool(const td_config_t *c, const char *key, int def);
/* Whether temporald reads a dynamic config key (others are accepted and logged at debug). */
int td_config_dyn_is_used(const char *key);
/* Parses a Go-style duration ("1h2m3s", "150ms", "2.5s") into milliseconds. */
int td_parse_duration_ms(const char *s, long long *out);

/* Writes the documented key table as INI comments (used by `temporald config keys`). */
void td_config_print_keys(void);

#endif
