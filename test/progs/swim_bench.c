/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Membership figures at the default SWIM timings, from the deterministic simulation
 * (test/unit/cluster_swim_sim.h): join convergence, failure detection (first suspicion, first
 * and last "dead" verdict after a crash) and false verdicts over long runs with loss, for a
 * few cluster sizes. Usage: swim_bench [runs]. Prints one table; no pass/fail.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "unit/cluster_swim_sim.h"

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void summary(const char *what, int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp64);
    printf("  %-34s median %5lld ms  p90 %5lld ms  max %5lld ms\n", what, (long long)v[n / 2],
           (long long)v[(n * 9) / 10], (long long)v[n - 1]);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 40;
    const int sizes[] = { 3, 8, 24 };
    const double losses[] = { 0.0, 0.05 };
    td_swim_timing_t t;

    td_log_setup(TD_LOG_NEVER, TD_LOG_TEXT);
    td_swim_timing_default(&t);
    printf("SWIM membership, simulated network (1-4 ms latency), default timings: probe %d ms, "
           "timeout %d ms, k=%d, suspicion %d-%d ms, gossip %d ms x %d\n",
           t.probe_interval_ms, t.probe_timeout_ms, t.indirect_k, t.suspicion_min_ms,
           t.suspicion_max_ms, t.gossip_interval_ms, t.gossip_nodes);
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        for (size_t li = 0; li < sizeof(losses) / sizeof(losses[0]); li++) {
            int n = sizes[si];
            int64_t *join = calloc((size_t)runs, sizeof(int64_t));
            int64_t *susp = calloc((size_t)runs, sizeof(int64_t));
            int64_t *first = calloc((size_t)runs, sizeof(int64_t));
            int64_t *all = calloc((size_t)runs, sizeof(int64_t));
            int failed = 0;
            uint64_t false_dead = 0, false_susp = 0, packets = 0;
            int64_t sim_ms = 0;
            printf("%d members, %.0f%% loss, %d runs:\n", n, losses[li] * 100, runs);
            for (int r = 0; r < runs; r++) {
                sim_t s;
                int victim;
                sim_init(&s, n, losses[li], (uint64_t)(r + 1) * 7919, NULL);
                sim_start_all(&s);
                join[r] = SIM_UNTIL(&s, sim_converged(&s), 60000);
                sim_run(&s, 10000 + (int64_t)(sim_rand(&s) % 1000));
                false_susp += SIM_STAT(&s, suspected);
                false_dead += SIM_STAT(&s, declared_dead);
                packets += s.packets;
                sim_ms += s.now - 1000000;
                victim = 1 + (int)(sim_rand(&s) % (uint64_t)(n - 1));
                sim_crash(&s, victim);
                susp[r] = SIM_UNTIL(&s,
                                    sim_count_seeing(&s, victim, TD_MEMBER_SUSPECT) > 0 ||
                                            sim_count_seeing(&s, victim, TD_MEMBER_DEAD) > 0,
                                    30000);
                first[r] = susp[r] +
                           SIM_UNTIL(&s, sim_count_seeing(&s, victim, TD_MEMBER_DEAD) > 0, 30000);
                all[r] =
                        first[r] +
                        SIM_UNTIL(&s, sim_count_seeing(&s, victim, TD_MEMBER_DEAD) == n - 1, 30000);
                if (join[r] < 0 || susp[r] < 0 || all[r] < first[r]) {
                    failed++;
                }
                sim_free(&s);
            }
            summary("join: all see all alive", join, runs);
            summary("crash -> first suspicion", susp, runs);
            summary("crash -> first dead verdict", first, runs);
            summary("crash -> dead everywhere", all, runs);
            printf("  before the crash: %llu suspicion(s), %llu dead verdict(s) of live members "
                   "in %lld simulated s; %.1f datagrams/s per member; %d run(s) incomplete\n",
                   (unsigned long long)false_susp, (unsigned long long)false_dead,
                   (long long)(sim_ms / 1000), (double)packets * 1000.0 / (double)sim_ms / n,
                   failed);
            free(join);
            free(susp);
            free(first);
            free(all);
        }
    }
    return 0;
}
