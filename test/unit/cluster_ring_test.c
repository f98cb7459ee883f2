/* SPDX-License-Identifier: Apache-2.0 */
/* Consistent-hash rings (src/cluster/ring.c): stable placement, balance, and how many keys
 * move when an owner joins or leaves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/ring.h"
#include "config.h"
#include "test.h"

#define NKEYS 20000

static void ring_fill(td_ring_t *r, int n, int reverse)
{
    td_ring_owner_t v[16];
    char ids[16][32], addrs[16][32];

    for (int i = 0; i < n; i++) {
        int k = reverse ? n - 1 - i : i;
        snprintf(ids[i], sizeof(ids[i]), "10.0.0.%d:6934", k + 1);
        snprintf(addrs[i], sizeof(addrs[i]), "10.0.0.%d:7234", k + 1);
        v[i].id = ids[i];
        v[i].grpc_addr = addrs[i];
        v[i].loop = 0;
        v[i].self = k == 0;
    }
    td_ring_set(r, v, n);
}

static const char *key_of(int i, char *buf, size_t n)
{
    snprintf(buf, n, "ns-%d/queue-%d", i % 7, i);
    return buf;
}

TD_TEST(ring_hash_is_stable)
{
    /* Rings of processes built from different versions must agree: the hash never changes. */
    /* (values from an independent implementation of FNV-1a + the murmur3 finaliser) */
    TD_CHECK_INT(td_ring_hash("", 0), ==, 0xab3e7c0bu);
    TD_CHECK_INT(td_ring_hash("1", 1), ==, 0x551f758fu);
    TD_CHECK_INT(td_ring_hash("10.0.0.1:6934#0", 15), ==, 0x6234b0ffu);
}

TD_TEST(ring_empty_and_unchanged)
{
    td_ring_t *r = td_ring_new(TD_ROLE_HISTORY);

    TD_CHECK(td_ring_lookup(r, "x") == NULL);
    TD_CHECK(td_ring_lookup_shard(r, 1) == NULL);
    ring_fill(r, 3, 0);
    TD_CHECK_INT(td_ring_count(r), ==, 3);
    TD_CHECK_INT(td_ring_version(r), ==, 1);
    /* the same owners in another order: no change, no rebuild */
    {
        td_ring_owner_t v[3];
        for (int i = 0; i < 3; i++) {
            v[i] = *td_ring_owner(r, 2 - i);
        }
        TD_CHECK_INT(td_ring_set(r, v, 3), ==, 0);
    }
    TD_CHECK_INT(td_ring_version(r), ==, 1);
    TD_CHECK_STR(td_ring_owner(r, 0)->id, "10.0.0.1:6934");
    {
        const td_ring_owner_t *o = td_ring_lookup(r, "anything");
        TD_CHECK(o != NULL);
        TD_CHECK(strncmp(o->id, o->grpc_addr, strlen("10.0.0.1")) == 0); /* one owner's fields */
    }
    td_ring_free(r);
}

TD_TEST(ring_same_owners_same_placement)
{
    td_ring_t *a = td_ring_new(TD_ROLE_MATCHING), *b = td_ring_new(TD_ROLE_MATCHING);
    char k[64];

    ring_fill(a, 5, 0);
    ring_fill(b, 5, 1);
    for (int i = 0; i < NKEYS; i++) {
        TD_CHECK_STR(td_ring_lookup(a, key_of(i, k, sizeof(k)))->id, td_ring_lookup(b, k)->id);
    }
    td_ring_free(a);
    td_ring_free(b);
}

static int owner_index(const td_ring_owner_t *o)
{
    return (int)strtol(strrchr(o->id, '.') + 1, NULL, 10) - 1;
}

TD_TEST(ring_balance)
{
    td_ring_t *r = td_ring_new(TD_ROLE_HISTORY);
    int count[3] = { 0 };

    ring_fill(r, 3, 0);
    for (int s = 1; s <= 4096; s++) {
        count[owner_index(td_ring_lookup_shard(r, s))]++;
    }
    printf("# 4096 shards on 3 owners: %d %d %d\n", count[0], count[1], count[2]);
    for (int i = 0; i < 3; i++) {
        /* 1365 each ideally; 100 points per owner keep every owner within a loose band */
        TD_CHECK_INT(count[i], >, 4096 / 6);
        TD_CHECK_INT(count[i], <, 4096 * 2 / 3);
    }
    td_ring_free(r);
}

TD_TEST(ring_join_and_leave_move_few_keys)
{
    td_ring_t *r = td_ring_new(TD_ROLE_HISTORY);
    static int before[NKEYS];
    char k[64];
    int moved = 0;

    ring_fill(r, 3, 0);
    for (int i = 0; i < NKEYS; i++) {
        before[i] = owner_index(td_ring_lookup(r, key_of(i, k, sizeof(k))));
    }
    ring_fill(r, 4, 0); /* 10.0.0.4 joins */
    for (int i = 0; i < NKEYS; i++) {
        int now = owner_index(td_ring_lookup(r, key_of(i, k, sizeof(k))));
        if (now != before[i]) {
            moved++;
            TD_CHECK_INT(now, ==, 3); /* keys move only to the newcomer */
        }
    }
    printf("# join 3 -> 4 owners: %.3f of keys moved (ideal 0.250)\n", (double)moved / NKEYS);
    TD_CHECK_INT(moved, >, NKEYS / 10);
    TD_CHECK_INT(moved, <, NKEYS * 2 / 5);

    ring_fill(r, 3, 0); /* and leaves: exactly its keys go back */
    moved = 0;
    for (int i = 0; i < NKEYS; i++) {
        int now = owner_index(td_ring_lookup(r, key_of(i, k, sizeof(k))));
        TD_CHECK_INT(now, ==, before[i]);
    }

    /* 10.0.0.2 leaves the 3: only its keys move */
    {
        td_ring_owner_t v[2] = { *td_ring_owner(r, 0), *td_ring_owner(r, 2) };
        char id0[32], a0[32], id2[32], a2[32];
        snprintf(id0, sizeof(id0), "%s", v[0].id);
        snprintf(a0, sizeof(a0), "%s", v[0].grpc_addr);
        snprintf(id2, sizeof(id2), "%s", v[1].id);
        snprintf(a2, sizeof(a2), "%s", v[1].grpc_addr);
        v[0].id = id0;
        v[0].grpc_addr = a0;
        v[1].id = id2;
        v[1].grpc_addr = a2;
        TD_CHECK_INT(td_ring_set(r, v, 2), ==, 1);
    }
    for (int i = 0; i < NKEYS; i++) {
        int now = owner_index(td_ring_lookup(r, key_of(i, k, sizeof(k))));
        if (before[i] != 1) {
            TD_CHECK_INT(now, ==, before[i]);
        } else {
            moved++;
            TD_CHECK(now == 0 || now == 2);
        }
    }
    printf("# leave 3 -> 2 owners: %.3f of keys moved (ideal 0.333)\n", (double)moved / NKEYS);
    td_ring_free(r);
}
