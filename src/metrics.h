/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process metrics in Prometheus text format, with Temporal's names and labels where they
 * exist: service_requests / service_errors_* / service_latency per operation and namespace,
 * persistence_requests / persistence_errors / persistence_latency per store operation,
 * workflow_success / _failed / _timeout / _terminate / _cancel / _continued_as_new per
 * namespace, the store's group-commit sizes, process_* (RSS, CPU, open fds), plus gauges that
 * roles add through collectors (owned shards, task-queue sync matches and backlogs).
 *
 * Cost: the service series are a hash table owned by the loop thread (no locks, no atomics);
 * the store counters, touched on store threads too, are relaxed atomic adds into fixed
 * arrays. Nothing is formatted until a scrape asks (td_metrics_render, loop thread).
 */
#ifndef TD_METRICS_H
#define TD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic nanoseconds, for durations. */
int64_t td_metrics_now_ns(void);

/* A public API call ended (loop thread). method: "/pkg.Service/Op" or "Op"; ns may be NULL
 * or ""; status a gRPC code; dur_ns its duration. */
void td_metrics_rpc(const char *method, const char *ns, int status, int64_t dur_ns);
/* A store request ended (any thread). op_name: the store's name of the operation. */
void td_metrics_persistence(int op, const char *op_name, int rc, int64_t dur_ns);
/* The store committed n requests in one transaction (any thread). */
void td_metrics_group_commit(int n);
/* A workflow run closed with a WorkflowExecutionStatus (loop thread). */
void td_metrics_workflow_closed(const char *ns, int status);

/* Gauges from a role, written at each scrape (loop thread): fn calls td_metrics_gauge for
 * each value. ud identifies the collector for removal. */
typedef struct td_metrics_out_s td_metrics_out_t;
typedef void (*td_metrics_collect_fn)(td_metrics_out_t *o, void *ud);
void td_metrics_add_collector(td_metrics_collect_fn fn, void *ud);
void td_metrics_remove_collector(td_metrics_collect_fn fn, void *ud);
/* One sample: name (a gauge or counter, type "gauge" or "counter"), labels as
 * "k=\"v\",k2=\"v2\"" (already escaped, or NULL), value. Samples of one name must come
 * together (one collector call). */
void td_metrics_sample(td_metrics_out_t *o, const char *name, const char *type, const char *help,
                       const char *labels, double value);
/* Escapes a label value for the text format into out (size n). */
void td_metrics_escape(const char *v, char *out, size_t n);

/* The whole exposition (text format 0.0.4), malloc'd; *len set. Loop thread. */
char *td_metrics_render(size_t *len);
/* Drops every series (tests, process end). */
void td_metrics_reset(void);

#endif
