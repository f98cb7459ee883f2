/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the history role exposes besides its internal service methods (which other roles
 * call by path, see proto/historyservice.proto and roles/svc.h): a few questions and knobs
 * for tests and tools that host the role themselves. The role state is the void * that
 * td_role_history.init returned. Loop thread only.
 */
#ifndef TD_HIST_H
#define TD_HIST_H

/* 1 when every shard of this process is owned and its leftover tasks were re-driven. */
int td_hist_ready(const void *role_state);
/* 1 when no store request, matching dispatch or queued operation is in flight. */
int td_hist_idle(const void *role_state);
/* Forgets every cached mutable state (the next operation reloads it from the store). */
void td_hist_drop_cache(void *role_state);
/* The shard id (1..n) that owns a workflow: FNV-1a of (namespace_id, 0, workflow_id) mod n,
 * plus one. Fixed forever for a cluster. */
int td_hist_shard_of(const char *namespace_id, const char *workflow_id, int num_shards);

/* Tests: leaves only `left` task ids in the current range of every shard, so the range
 * renewal path runs. */
void td_hist_test_exhaust_ids(void *role_state, int64_t left);

#endif
