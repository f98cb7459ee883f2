/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The membership view (src/cluster/membership.c): local members from the configuration,
 * sorted and per-role lists, batched watcher notification, draining, the owned-count hook.
 */
#include "test.h"

#include "cluster/membership.h"
#include "config.h"
#include "error.h"
#include "loop.h"
#include "server.h"

static void stop_loop(void *arg)
{
    td_loop_stop(arg);
}

/* Runs the loop for one short while so zero-delay timers fire. */
static void spin(td_loop_t *loop)
{
    td_timer_t *t = td_timer_new(loop, stop_loop, loop);
    td_timer_start(t, 20);
    td_loop_run(loop);
    td_timer_free(t);
}

static void count_cb(void *arg)
{
    (*(int *)arg)++;
}

static td_member_t member(const char *id, int role, const char *addr)
{
    td_member_t m;
    memset(&m, 0, sizeof(m));
    m.id = id;
    m.role = role;
    m.grpc_addr = addr;
    m.status = TD_MEMBER_ALIVE;
    return m;
}

TD_TEST(membership_local_members_from_config)
{
    td_config_t c;
    td_server_t srv;
    const td_member_t *v;
    int n;

    td_config_init(&c);
    c.services = TD_ROLE_HISTORY | TD_ROLE_MATCHING | TD_ROLE_FRONTEND;
    c.history_membership_port = 16934;
    c.history_port = 17234;
    memset(&srv, 0, sizeof(srv));
    srv.config = &c;
    srv.loop = td_loop_new();
    TD_CHECK_INT(td_membership_open(&srv), ==, TD_OK);
    TD_CHECK(td_membership_of(&srv) == srv.membership);

    n = td_membership_list(srv.membership, 0, &v);
    TD_CHECK_INT(n, ==, 3);
    /* sorted by id */
    TD_CHECK_STR(v[0].id, "127.0.0.1:16934");
    TD_CHECK_STR(v[1].id, "127.0.0.1:6933");
    TD_CHECK_STR(v[2].id, "127.0.0.1:6935");
    TD_CHECK_INT(v[0].role, ==, TD_ROLE_HISTORY);
    TD_CHECK_STR(v[0].grpc_addr, "127.0.0.1:17234");
    TD_CHECK_STR(v[1].grpc_addr, "127.0.0.1:7233");
    TD_CHECK_STR(v[2].grpc_addr, "127.0.0.1:7235");
    for (int i = 0; i < n; i++) {
        TD_CHECK_INT(v[i].status, ==, TD_MEMBER_ALIVE);
        TD_CHECK_INT(v[i].self, ==, 1);
        TD_CHECK_INT(v[i].draining, ==, 0);
        TD_CHECK(v[i].session_start_ms > 1600000000000LL);
    }
    n = td_membership_list(srv.membership, TD_ROLE_MATCHING, &v);
    TD_CHECK_INT(n, ==, 1);
    TD_CHECK_STR(v[0].grpc_addr, "127.0.0.1:7235");
    TD_CHECK_INT(td_membership_list(srv.membership, TD_ROLE_WORKER, &v), ==, 0);
    td_membership_close(&srv);
    TD_CHECK(srv.membership == NULL);
    td_loop_free(srv.loop);
    td_config_destroy(&c);
}

TD_TEST(membership_lists_per_role_coexist)
{
    td_loop_t *loop = td_loop_new();
    td_membership_t *m = td_membership_new(loop);
    const td_member_t *h, *mt;
    td_member_t a = member("10.0.0.2:6934", TD_ROLE_HISTORY, "10.0.0.2:7234");
    td_member_t b = member("10.0.0.1:6934", TD_ROLE_HISTORY, "10.0.0.1:7234");
    td_member_t c = member("10.0.0.1:6935", TD_ROLE_MATCHING, "10.0.0.1:7235");

    td_membership_upsert(m, &a);
    td_membership_upsert(m, &b);
    td_membership_upsert(m, &c);
    TD_CHECK_INT(td_membership_list(m, TD_ROLE_HISTORY, &h), ==, 2);
    TD_CHECK_INT(td_membership_list(m, TD_ROLE_MATCHING, &mt), ==, 1);
    /* the history list is still intact after listing another role */
    TD_CHECK_STR(h[0].id, "10.0.0.1:6934");
    TD_CHECK_STR(h[1].id, "10.0.0.2:6934");
    TD_CHECK_STR(mt[0].id, "10.0.0.1:6935");
    TD_CHECK(td_membership_find(m, "10.0.0.2:6934") != NULL);
    TD_CHECK(td_membership_find(m, "10.0.0.3:6934") == NULL);

    td_membership_forget(m, "10.0.0.1:6934");
    TD_CHECK_INT(td_membership_list(m, TD_ROLE_HISTORY, &h), ==, 1);
    TD_CHECK_STR(h[0].id, "10.0.0.2:6934");
    TD_CHECK_INT(td_membership_list(m, 0, &h), ==, 2);
    td_membership_free(m);
    td_loop_free(loop);
}

TD_TEST(membership_watchers_batched_per_loop_turn)
{
    td_loop_t *loop = td_loop_new();
    td_membership_t *m = td_membership_new(loop);
    int calls = 0, other = 0;
    void *w = td_membership_watch(m, count_cb, &calls);
    void *w2 = td_membership_watch(m, count_cb, &other);
    td_member_t a = member("10.0.0.1:6934", TD_ROLE_HISTORY, "10.0.0.1:7234");
    td_member_t b = member("10.0.0.2:6934", TD_ROLE_HISTORY, "10.0.0.2:7234");

    td_membership_upsert(m, &a);
    td_membership_upsert(m, &b);
    TD_CHECK_INT(calls, ==, 0); /* never synchronously */
    spin(loop);
    TD_CHECK_INT(calls, ==, 1);
    TD_CHECK_INT(other, ==, 1);

    /* an incarnation alone is not a routing change */
    a.incarnation = 7;
    td_membership_upsert(m, &a);
    spin(loop);
    TD_CHECK_INT(calls, ==, 1);
    TD_CHECK_INT(td_membership_find(m, a.id)->incarnation, ==, 7);

    /* status, address and draining are */
    a.status = TD_MEMBER_SUSPECT;
    td_membership_upsert(m, &a);
    spin(loop);
    TD_CHECK_INT(calls, ==, 2);
    a.grpc_addr = "10.0.0.9:7234";
    td_membership_upsert(m, &a);
    spin(loop);
    TD_CHECK_INT(calls, ==, 3);
    TD_CHECK_INT(other, ==, 3);
    TD_CHECK_STR(td_membership_find(m, a.id)->grpc_addr, "10.0.0.9:7234");

    td_membership_unwatch(m, w2);
    td_membership_forget(m, b.id);
    td_membership_forget(m, "10.0.0.7:6934"); /* unknown: nothing */
    spin(loop);
    TD_CHECK_INT(calls, ==, 4);
    TD_CHECK_INT(other, ==, 3);
    td_membership_unwatch(m, w);
    td_membership_free(m);
    td_loop_free(loop);
}

static void unwatch_self_cb(void *arg)
{
    void **h = arg;
    td_membership_t *m = h[0];
    (*(int *)h[2])++;
    td_membership_unwatch(m, h[1]);
}

TD_TEST(membership_watcher_may_unwatch_itself)
{
    td_loop_t *loop = td_loop_new();
    td_membership_t *m = td_membership_new(loop);
    int calls = 0, later = 0;
    void *h[3] = { m, NULL, &calls };
    td_member_t a = member("10.0.0.1:6934", TD_ROLE_HISTORY, "10.0.0.1:7234");

    h[1] = td_membership_watch(m, unwatch_self_cb, h);
    td_membership_watch(m, count_cb, &later);
    td_membership_upsert(m, &a);
    spin(loop);
    a.status = TD_MEMBER_DEAD;
    td_membership_upsert(m, &a);
    spin(loop);
    TD_CHECK_INT(calls, ==, 1);
    TD_CHECK_INT(later, ==, 2);
    td_membership_free(m);
    td_loop_free(loop);
}

static int owned_cb(void *arg, const td_member_t *mem)
{
    return mem->self ? *(int *)arg : 0;
}

TD_TEST(membership_draining_and_owned_hook)
{
    td_loop_t *loop = td_loop_new();
    td_membership_t *m = td_membership_new(loop);
    int calls = 0, local = 0, owned = 5;
    td_member_t a = member("10.0.0.1:6934", TD_ROLE_HISTORY, "10.0.0.1:7234");
    td_member_t b = member("10.0.0.2:6934", TD_ROLE_HISTORY, "10.0.0.2:7234");

    a.self = 1;
    td_membership_upsert(m, &a);
    td_membership_upsert(m, &b);
    td_membership_watch(m, count_cb, &calls);
    td_membership_on_local_change(m, count_cb, &local);
    spin(loop);
    calls = 0;
    td_membership_set_draining(m);
    TD_CHECK_INT(local, ==, 1);
    TD_CHECK_INT(td_membership_find(m, a.id)->draining, ==, 1);
    TD_CHECK_INT(td_membership_find(m, b.id)->draining, ==, 0);
    spin(loop);
    TD_CHECK_INT(calls, ==, 1);
    td_membership_set_draining(m); /* already draining: no change */
    spin(loop);
    TD_CHECK_INT(calls, ==, 1);
    TD_CHECK_INT(local, ==, 1);

    TD_CHECK_INT(td_membership_owned(m, td_membership_find(m, a.id)), ==, -1);
    td_membership_set_owned_fn(m, TD_ROLE_HISTORY, owned_cb, &owned);
    TD_CHECK_INT(td_membership_owned(m, td_membership_find(m, a.id)), ==, 5);
    TD_CHECK_INT(td_membership_owned(m, td_membership_find(m, b.id)), ==, 0);
    td_membership_set_owned_fn(m, TD_ROLE_HISTORY, NULL, NULL);
    TD_CHECK_INT(td_membership_owned(m, td_membership_find(m, a.id)), ==, -1);
    td_membership_free(m);
    td_loop_free(loop);
}
