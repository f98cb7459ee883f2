/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SWIM (src/cluster/swim.c) in a simulated network (cluster_swim_sim.h): join, crash
 * detection under loss, refutation of a stalled member, restart, draining, refusal of another
 * cluster, HMAC authentication, and the datagram codec. Times are the simulation's, so the
 * bounds below are deterministic, not wall-clock.
 */
#include "test.h"

#include "cluster/swim.h"
#include "cluster_swim_sim.h"
#include "error.h"
#include "log.h"

static void quiet(void)
{
    td_log_setup(TD_LOG_WARN, TD_LOG_TEXT);
}

TD_TEST(swim_join_converges)
{
    sim_t s;
    int64_t t;
    quiet();
    sim_init(&s, 8, 0.0, 1, NULL);
    sim_start_all(&s);
    t = SIM_UNTIL(&s, sim_converged(&s), 10000);
    TD_CHECK(t >= 0);
    TD_CHECK_INT(t, <, 3000);
    sim_free(&s);
}

TD_TEST(swim_crash_declared_dead_everywhere_within_5s)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        sim_t s;
        int64_t t;
        quiet();
        sim_init(&s, 8, 0.05, seed, NULL);
        sim_start_all(&s);
        TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 10000) >= 0);
        sim_run(&s, 3000);
        sim_crash(&s, 3);
        t = SIM_UNTIL(&s, sim_count_seeing(&s, 3, TD_MEMBER_DEAD) == 7, 20000);
        TD_CHECK(t >= 0);
        TD_CHECK_INT(t, <=, 5000);
        /* nobody else was declared dead */
        for (int i = 0; i < 8; i++) {
            if (i != 3) {
                TD_CHECK_INT(sim_count_seeing(&s, i, TD_MEMBER_DEAD), ==, 0);
            }
        }
        sim_free(&s);
    }
}

TD_TEST(swim_no_false_dead_under_20pct_loss)
{
    sim_t s;
    quiet();
    sim_init(&s, 6, 0.20, 7, NULL);
    sim_start_all(&s);
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 20000) >= 0);
    sim_run(&s, 60000);
    TD_CHECK_INT(SIM_STAT(&s, declared_dead), ==, 0);
    for (int i = 0; i < 6; i++) {
        TD_CHECK_INT(sim_count_seeing(&s, i, TD_MEMBER_ALIVE) +
                             sim_count_seeing(&s, i, TD_MEMBER_SUSPECT),
                     ==, 5);
    }
    sim_free(&s);
}

TD_TEST(swim_stalled_member_refutes)
{
    sim_t s;
    quiet();
    sim_init(&s, 5, 0.0, 3, NULL);
    sim_start_all(&s);
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 10000) >= 0);
    sim_run(&s, 2000);
    s.nodes[2].stalled = 1; /* its loop stops: no ticks, datagrams wait */
    TD_CHECK(SIM_UNTIL(&s, sim_count_seeing(&s, 2, TD_MEMBER_SUSPECT) > 0, 5000) >= 0);
    s.nodes[2].stalled = 0;
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 5000) >= 0);
    TD_CHECK_INT(SIM_STAT(&s, declared_dead), ==, 0);
    TD_CHECK(td_swim_stats(s.nodes[2].swim)->refuted >= 1);
    sim_free(&s);
}

TD_TEST(swim_restarted_member_rejoins)
{
    sim_t s;
    quiet();
    sim_init(&s, 5, 0.0, 4, NULL);
    sim_start_all(&s);
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 10000) >= 0);
    sim_crash(&s, 4);
    TD_CHECK(SIM_UNTIL(&s, sim_count_seeing(&s, 4, TD_MEMBER_DEAD) == 4, 10000) >= 0);
    sim_restart(&s, 4);
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 10000) >= 0);
    /* the seed itself restarting: it learns the others back from their syncs */
    sim_crash(&s, 0);
    TD_CHECK(SIM_UNTIL(&s, sim_count_seeing(&s, 0, TD_MEMBER_DEAD) == 4, 10000) >= 0);
    sim_restart(&s, 0);
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 40000) >= 0);
    sim_free(&s);
}

TD_TEST(swim_draining_and_leave_propagate)
{
    sim_t s;
    td_member_t v[16];
    int n, draining = 0;
    quiet();
    sim_init(&s, 4, 0.0, 5, NULL);
    sim_start_all(&s);
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 10000) >= 0);
    td_swim_set_draining(s.nodes[1].swim, 1, s.now);
    sim_run(&s, 1000);
    n = td_swim_members(s.nodes[3].swim, v, 16);
    for (int i = 0; i < n; i++) {
        if (strcmp(v[i].id, s.nodes[1].id) == 0) {
            draining = v[i].draining;
            TD_CHECK_INT(v[i].status, ==, TD_MEMBER_ALIVE);
        }
    }
    TD_CHECK_INT(draining, ==, 1);
    td_swim_leave(s.nodes[1].swim, s.now);
    sim_crash(&s, 1); /* the process exits right after */
    TD_CHECK(SIM_UNTIL(&s, sim_count_seeing(&s, 1, TD_MEMBER_LEFT) == 3, 1000) >= 0);
    TD_CHECK_INT(SIM_STAT(&s, suspected), ==, 0);
    sim_free(&s);
}

TD_TEST(swim_other_cluster_refused)
{
    sim_t s;
    quiet();
    sim_init(&s, 4, 0.0, 6, NULL);
    sim_start_all(&s);
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 10000) >= 0);
    /* node 3 comes back configured for another cluster name, then for another shard count */
    sim_crash(&s, 3);
    TD_CHECK(SIM_UNTIL(&s, sim_count_seeing(&s, 3, TD_MEMBER_DEAD) == 3, 10000) >= 0);
    td_swim_free(s.nodes[3].swim);
    s.nodes[3].session += 1000;
    sim_start_node(&s, 3, "other", NULL);
    sim_run(&s, 5000);
    TD_CHECK_INT(sim_count_seeing(&s, 3, TD_MEMBER_ALIVE), ==, 0);
    TD_CHECK(td_swim_stats(s.nodes[0].swim)->dropped_foreign > 0);
    td_swim_free(s.nodes[3].swim);
    s.nodes[3].session += 1000;
    s.shards = 32;
    sim_start_node(&s, 3, "sim", NULL);
    sim_run(&s, 5000);
    TD_CHECK_INT(sim_count_seeing(&s, 3, TD_MEMBER_ALIVE), ==, 0);
    TD_CHECK_INT(td_swim_status_of(s.nodes[3].swim, s.nodes[0].id), ==, -1);
    sim_free(&s);
}

TD_TEST(swim_hmac_key_required)
{
    sim_t s;
    quiet();
    sim_init(&s, 4, 0.0, 8, NULL);
    s.key = "cluster-secret";
    sim_start_all(&s);
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 10000) >= 0);
    sim_crash(&s, 3);
    TD_CHECK(SIM_UNTIL(&s, sim_count_seeing(&s, 3, TD_MEMBER_DEAD) == 3, 10000) >= 0);
    /* with the wrong key, then with none: never trusted */
    td_swim_free(s.nodes[3].swim);
    s.nodes[3].session += 1000;
    sim_start_node(&s, 3, "sim", "wrong-secret");
    sim_run(&s, 4000);
    TD_CHECK_INT(sim_count_seeing(&s, 3, TD_MEMBER_ALIVE), ==, 0);
    TD_CHECK(td_swim_stats(s.nodes[0].swim)->dropped_auth > 0);
    td_swim_free(s.nodes[3].swim);
    s.nodes[3].session += 1000;
    sim_start_node(&s, 3, "sim", NULL);
    sim_run(&s, 4000);
    TD_CHECK_INT(sim_count_seeing(&s, 3, TD_MEMBER_ALIVE), ==, 0);
    /* and with the right key it joins */
    td_swim_free(s.nodes[3].swim);
    s.nodes[3].session += 1000;
    sim_start_node(&s, 3, "sim", "cluster-secret");
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 10000) >= 0);
    sim_free(&s);
}

TD_TEST(swim_codec_round_trip_and_rejects)
{
    td_swim_msg_t m, d;
    uint8_t buf[TD_SWIM_MAX_PACKET];
    size_t len;
    const uint8_t key[] = "k";

    memset(&m, 0, sizeof(m));
    m.type = TD_SWIM_PING_REQ;
    m.seq = 77;
    m.cluster = (td_swim_str_t){ "active", 6 };
    m.num_shards = 512;
    m.from = (td_swim_rec_t){ { "1.2.3.4:6934", 12 }, TD_ROLE_HISTORY, TD_MEMBER_ALIVE, 1, 9, 1234,
                              { "1.2.3.4:7234", 12 }, { NULL, 0 } };
    m.target = (td_swim_str_t){ "1.2.3.5:6934", 12 };
    m.n_recs = 1;
    m.recs[0] = m.from;
    m.recs[0].status = TD_MEMBER_SUSPECT;
    m.recs[0].by = (td_swim_str_t){ "9.9.9.9:1", 9 };
    for (int keyed = 0; keyed <= 1; keyed++) {
        size_t kl = keyed ? 1 : 0;
        len = td_swim_encode(&m, key, kl, buf, sizeof(buf));
        TD_CHECK(len > 0);
        TD_CHECK_INT(td_swim_decode(buf, len, key, kl, &d), ==, TD_OK);
        TD_CHECK_INT(d.type, ==, TD_SWIM_PING_REQ);
        TD_CHECK_INT(d.seq, ==, 77);
        TD_CHECK_INT(d.num_shards, ==, 512);
        TD_CHECK_INT(d.from.incarnation, ==, 9);
        TD_CHECK_INT(d.from.session_start_ms, ==, 1234);
        TD_CHECK_INT(d.from.draining, ==, 1);
        TD_CHECK_INT(d.target.len, ==, 12);
        TD_CHECK_INT(d.n_recs, ==, 1);
        TD_CHECK_INT(d.recs[0].status, ==, TD_MEMBER_SUSPECT);
        TD_CHECK(d.recs[0].by.len == 9 && memcmp(d.recs[0].by.p, "9.9.9.9:1", 9) == 0);
        /* every truncation and every single-byte change is refused or decodes cleanly */
        for (size_t cut = 0; cut < len; cut++) {
            TD_CHECK(td_swim_decode(buf, cut, key, kl, &d) != TD_OK);
        }
        if (keyed) {
            for (size_t i = 0; i < len; i++) {
                buf[i] ^= 0x40;
                TD_CHECK(td_swim_decode(buf, len, key, kl, &d) != TD_OK);
                buf[i] ^= 0x40;
            }
            TD_CHECK_INT(td_swim_decode(buf, len, NULL, 0, &d), ==, TD_EPERM);
            TD_CHECK_INT(td_swim_decode(buf, len, (const uint8_t *)"x", 1, &d), ==, TD_EPERM);
        } else {
            TD_CHECK_INT(td_swim_decode(buf, len, key, 1, &d), ==, TD_EPERM);
        }
    }
    /* too small a buffer: nothing */
    TD_CHECK_INT(td_swim_encode(&m, NULL, 0, buf, 20), ==, 0);
}

TD_TEST(swim_seed_down_at_start_is_found_later)
{
    sim_t s;
    const char *seeds[3];
    quiet();
    sim_init(&s, 3, 0.0, 9, NULL);
    for (int i = 0; i < 3; i++) {
        seeds[i] = s.nodes[i].id;
    }
    /* nodes 1 and 2 are one process's two roles: seeded with each other and with node 0,
     * which is not up yet; they find each other at once */
    for (int i = 1; i < 3; i++) {
        sim_start_node(&s, i, s.cluster, NULL);
        td_swim_set_seeds(s.nodes[i].swim, seeds, 3);
    }
    sim_run(&s, 3000);
    TD_CHECK_INT(td_swim_status_of(s.nodes[1].swim, s.nodes[2].id), ==, TD_MEMBER_ALIVE);
    sim_start_node(&s, 0, s.cluster, NULL);
    td_swim_set_seeds(s.nodes[0].swim, NULL, 0);
    TD_CHECK(SIM_UNTIL(&s, sim_converged(&s), 3000) >= 0);
    sim_free(&s);
}
