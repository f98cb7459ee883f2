/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SWIM membership for one member (swim.h): failure detection by probing, dissemination by
 * piggy-backing, with the Lifeguard refinements. Pure: time comes in as arguments, datagrams
 * go out through a callback. Not thread-safe; the owner calls it from one thread.
 *
 * Design notes
 *
 * Probing. Every probe interval the node probes the next member of a shuffled round-robin
 * order: PING, and if no ACK came within the probe timeout, PING_REQ to k other members, which
 * PING the target and forward its ACK, or answer NACK when it stays silent. No ACK by the end
 * of the interval: the target becomes SUSPECT. Every datagram carries the sender's own
 * record, so hearing from a member at all is news of it.
 *
 * Member states, as this node sees them (incarnations are the member's own counter; only the
 * member itself raises it, to refute):
 *
 *     ALIVE --probe failed / suspect(i >= inc) heard--> SUSPECT
 *     SUSPECT --alive(i > inc) heard--> ALIVE
 *     SUSPECT --suspicion timeout--> DEAD
 *     ALIVE|SUSPECT --dead(i >= inc) heard--> DEAD
 *     ALIVE|SUSPECT --left(i >= inc) heard--> LEFT
 *     DEAD|LEFT --alive(i > inc) or a newer session heard--> ALIVE
 *     DEAD|LEFT --dead_forget_ms--> (forgotten)
 *
 *     FROM -> TO              [function]
 *     ALIVE -> SUSPECT        [td_swim_probe_end, td_swim_apply]
 *     SUSPECT -> ALIVE        [td_swim_apply]
 *     SUSPECT -> DEAD         [td_swim_tick]
 *     * -> DEAD|LEFT|ALIVE    [td_swim_apply]
 *
 * Our own record: hearing SUSPECT or DEAD about ourselves at an incarnation >= ours makes us
 * refute with incarnation + 1 (an ALIVE broadcast). A restarted member (newer session start)
 * replaces what is known of its id whatever the incarnation.
 *
 * Dissemination. A change of a member is queued as "send this member's current record";
 * each outgoing datagram carries the queued records least sent first, each retired after
 * retransmit_mult * ceil(log10(n + 1)) sends. Besides pings and acks, pending records are
 * pushed to gossip_nodes random members every gossip interval. A full-state exchange
 * (SYNC_REQ answered by SYNC) runs with the seeds while alone and with one random member
 * every sync interval, which heals partitions and lets a restarted member learn its past.
 *
 * Lifeguard. (1) Local health: a score 0..max_health multiplies the probe interval and
 * timeout; it rises when our probe failed although the helpers did not NACK (we may be the
 * slow one), when we had to refute, or when our own tick came late (a stalled loop); it falls
 * with every successful probe. (2) Suspicion timeouts start at suspicion_max and shrink
 * towards suspicion_min as independent suspicions of the same member arrive
 * (log(c + 1) / log(K + 1), K = 3 when n > 4, else the minimum at once). (3) Buddy system:
 * a PING to a suspect carries its suspicion, so it can refute before the timeout.
 *
 * Safety. A datagram from another cluster name or shard count is dropped, counted and
 * logged (its sender never enters the table); malformed or unauthenticated ones are dropped
 * and counted.
 *
 * Wire layout (big-endian; str = u8 length + bytes):
 *     "TS" u8 version=1, u8 type, u8 flags (bit 0: MAC follows), u32 seq,
 *     str cluster, u32 num_shards, record from, [PING_REQ: str target],
 *     u8 n, n x record, [32-byte HMAC-SHA256 of everything before]
 *     record = str id, u8 role, u8 status, u8 draining, u64 incarnation,
 *              i64 session_start_ms, str grpc_addr, str by
 */
#define TD_LOG_COMPONENT "swim"

#include "cluster/swim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"

/* ---- wire format ---- */

typedef struct {
    const uint8_t *p;
    size_t len, off;
    int bad;
} td_rd_t;

static uint64_t td_rd_uint(td_rd_t *r, int n)
{
    uint64_t v = 0;
    if (r->bad || r->len - r->off < (size_t)n) {
        r->bad = 1;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        v = (v << 8) | r->p[r->off++];
    }
    return v;
}

static td_swim_str_t td_rd_str(td_rd_t *r, int max)
{
    td_swim_str_t s = { NULL, 0 };
    uint8_t n = (uint8_t)td_rd_uint(r, 1);
    if (r->bad || n > max || r->len - r->off < n) {
        r->bad = 1;
        return s;
    }
    s.p = (const char *)r->p + r->off;
    s.len = n;
    for (int i = 0; i < n; i++) {
        if (s.p[i] < 0x21 || s.p[i] > 0x7e) { /* printable, no spaces */
            r->bad = 1;
        }
    }
    r->off += n;
    return s;
}

static int td_role_bit_valid(int role)
{
    return role == TD_ROLE_FRONTEND || role == TD_ROLE_HISTORY || role == TD_ROLE_MATCHING ||
           role == TD_ROLE_WORKER;
}

static void td_rd_rec(td_rd_t *r, td_swim_rec_t *rec)
{
    rec->id = td_rd_str(r, TD_SWIM_MAX_ID);
    rec->role = (uint8_t)td_rd_uint(r, 1);
    rec->status = (uint8_t)td_rd_uint(r, 1);
    rec->draining = (uint8_t)td_rd_uint(r, 1);
    rec->incarnation = td_rd_uint(r, 8);
    rec->session_start_ms = (int64_t)td_rd_uint(r, 8);
    rec->grpc_addr = td_rd_str(r, TD_SWIM_MAX_ID);
    rec->by = td_rd_str(r, TD_SWIM_MAX_ID);
    if (!r->bad && (rec->id.len == 0 || !td_role_bit_valid(rec->role) ||
                    rec->status > TD_MEMBER_LEFT || rec->draining > 1)) {
        r->bad = 1;
    }
}

int td_swim_decode(const uint8_t *buf, size_t len, const uint8_t *key, size_t key_len,
                   td_swim_msg_t *msg)
{
    td_rd_t r = { buf, len, 0, 0 };
    uint8_t flags;

    memset(msg, 0, sizeof(*msg));
    if (len < 9 || buf[0] != 'T' || buf[1] != 'S' || buf[2] != 1) {
        return TD_EPROTO;
    }
    r.off = 3;
    msg->type = (uint8_t)td_rd_uint(&r, 1);
    flags = (uint8_t)td_rd_uint(&r, 1);
    if (msg->type < TD_SWIM_PING || msg->type > TD_SWIM_GOSSIP || (flags & ~1u) != 0) {
        return TD_EPROTO;
    }
    if (key_len > 0) {
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        if (!(flags & 1) || len < 9 + TD_SWIM_MAC_LEN) {
            return TD_EPERM;
        }
        r.len = len - TD_SWIM_MAC_LEN;
        if (HMAC(EVP_sha256(), key, (int)key_len, buf, r.len, mac, &mac_len) == NULL ||
            mac_len != TD_SWIM_MAC_LEN || CRYPTO_memcmp(mac, buf + r.len, TD_SWIM_MAC_LEN) != 0) {
            return TD_EPERM;
        }
    } else if (flags & 1) {
        return TD_EPERM;
    }
    msg->seq = (uint32_t)td_rd_uint(&r, 4);
    msg->cluster = td_rd_str(&r, TD_SWIM_MAX_NAME);
    msg->num_shards = (uint32_t)td_rd_uint(&r, 4);
    td_rd_rec(&r, &msg->from);
    if (msg->type == TD_SWIM_PING_REQ) {
        msg->target = td_rd_str(&r, TD_SWIM_MAX_ID);
        if (!r.bad && msg->target.len == 0) {
            r.bad = 1;
        }
    }
    msg->n_recs = (int)td_rd_uint(&r, 1);
    if (msg->n_recs > TD_SWIM_MAX_RECORDS) {
        r.bad = 1;
    }
    for (int i = 0; i < msg->n_recs && !r.bad; i++) {
        td_rd_rec(&r, &msg->recs[i]);
    }
    if (r.bad || r.off != r.len) {
        return TD_EPROTO;
    }
    return TD_OK;
}

typedef struct {
    uint8_t *p;
    size_t cap, off;
    int full;
} td_wr_t;

static void td_wr_uint(td_wr_t *w, uint64_t v, int n)
{
    if (w->cap - w->off < (size_t)n) {
        w->full = 1;
        return;
    }
    for (int i = n - 1; i >= 0; i--) {
        w->p[w->off++] = (uint8_t)(v >> (8 * i));
    }
}

static void td_wr_str(td_wr_t *w, td_swim_str_t s)
{
    td_wr_uint(w, s.len, 1);
    if (w->full || w->cap - w->off < s.len) {
        w->full = 1;
        return;
    }
    if (s.len > 0) { /* s.p may be NULL for an empty string */
        memcpy(w->p + w->off, s.p, s.len);
    }
    w->off += s.len;
}

static void td_wr_rec(td_wr_t *w, const td_swim_rec_t *rec)
{
    td_wr_str(w, rec->id);
    td_wr_uint(w, rec->role, 1);
    td_wr_uint(w, rec->status, 1);
    td_wr_uint(w, rec->draining, 1);
    td_wr_uint(w, rec->incarnation, 8);
    td_wr_uint(w, (uint64_t)rec->session_start_ms, 8);
    td_wr_str(w, rec->grpc_addr);
    td_wr_str(w, rec->by);
}

static size_t td_swim_rec_size(const td_swim_rec_t *rec)
{
    return 3u + rec->id.len + rec->grpc_addr.len + rec->by.len + 3 + 16;
}

size_t td_swim_encode(const td_swim_msg_t *msg, const uint8_t *key, size_t key_len, uint8_t *buf,
                      size_t cap)
{
    td_wr_t w = { buf, cap, 0, 0 };
    td_wr_uint(&w, 'T', 1);
    td_wr_uint(&w, 'S', 1);
    td_wr_uint(&w, 1, 1);
    td_wr_uint(&w, msg->type, 1);
    td_wr_uint(&w, key_len > 0 ? 1 : 0, 1);
    td_wr_uint(&w, msg->seq, 4);
    td_wr_str(&w, msg->cluster);
    td_wr_uint(&w, msg->num_shards, 4);
    td_wr_rec(&w, &msg->from);
    if (msg->type == TD_SWIM_PING_REQ) {
        td_wr_str(&w, msg->target);
    }
    td_wr_uint(&w, (uint64_t)msg->n_recs, 1);
    for (int i = 0; i < msg->n_recs; i++) {
        td_wr_rec(&w, &msg->recs[i]);
    }
    if (key_len > 0 && !w.full) {
        unsigned int mac_len = 0;
        if (w.cap - w.off < TD_SWIM_MAC_LEN) {
            return 0;
        }
        HMAC(EVP_sha256(), key, (int)key_len, buf, w.off, buf + w.off, &mac_len);
        w.off += mac_len;
    }
    return w.full ? 0 : w.off;
}

/* ---- the node ---- */

#define TD_SWIM_MAX_CONFIRM 3
#define TD_SWIM_MAX_RELAYS  32
#define TD_SWIM_MAX_MEMBERS 1024

typedef struct {
    char *id;
    int role;
    char *grpc_addr;
    td_member_status_t status;
    uint64_t incarnation;
    int draining;
    int64_t session_start_ms;
    int64_t status_ms; /* when the status was set */
    /* SUSPECT */
    int64_t suspect_start_ms;
    char *suspect_by;
    char *confirmers[TD_SWIM_MAX_CONFIRM];
    int n_confirm;
    /* dissemination */
    int queued;
    int transmits;
} td_snode_t;

typedef struct {
    uint32_t seq; /* our ping to the target */
    char *origin; /* who asked */
    uint32_t origin_seq;
    int64_t deadline_ms;
} td_relay_t;

struct td_swim_s {
    td_swim_options_t o;
    td_swim_timing_t t;
    char *cluster;
    uint8_t *key;
    td_snode_t self;
    td_snode_t **v; /* other members */
    int n, cap;
    td_snode_t **order; /* probe order */
    int n_order, order_pos;
    char **seeds;
    int n_seeds;
    uint64_t rng;
    uint32_t seq;
    int health;
    int64_t last_tick_ms, next_probe_ms, next_gossip_ms, next_sync_ms, next_join_ms;
    int sync_backoff_ms; /* early full-state exchanges: 1 s, 2 s, 4 s... up to the interval */
    /* the probe in flight */
    struct {
        char *target;
        uint32_t seq;
        int64_t start_ms, timeout_ms, end_ms;
        int acked, indirect_sent, nacks_expected, nacks;
    } probe;
    td_relay_t relays[TD_SWIM_MAX_RELAYS];
    int64_t last_foreign_log_ms;
    td_swim_stats_t stats;
};

void td_swim_timing_default(td_swim_timing_t *t)
{
    t->probe_interval_ms = 500;
    t->probe_timeout_ms = 250;
    t->indirect_k = 3;
    t->suspicion_min_ms = 1500;
    t->suspicion_max_ms = 2500;
    t->retransmit_mult = 4;
    t->gossip_interval_ms = 200;
    t->gossip_nodes = 3;
    t->sync_interval_ms = 30000;
    t->join_retry_ms = 1000;
    t->dead_forget_ms = 60000;
    t->max_health = 8;
}

static uint64_t td_swim_rand(td_swim_t *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int td_swim_rand_n(td_swim_t *s, int n)
{
    return n <= 0 ? 0 : (int)(td_swim_rand(s) % (uint64_t)n);
}

static td_swim_str_t td_str(const char *s)
{
    td_swim_str_t r = { s, (uint8_t)(s != NULL ? strlen(s) : 0) };
    return r;
}

static int td_str_eq(td_swim_str_t a, const char *b)
{
    return strlen(b) == a.len && memcmp(a.p, b, a.len) == 0;
}

static char *td_str_dup(td_swim_str_t s)
{
    return td_strndup(s.p != NULL ? s.p : "", s.len);
}

static void td_snode_to_member(const td_swim_t *s, const td_snode_t *n, td_member_t *m)
{
    memset(m, 0, sizeof(*m));
    m->id = n->id;
    m->role = n->role;
    m->grpc_addr = n->grpc_addr;
    m->status = n->status;
    m->incarnation = n->incarnation;
    m->draining = n->draining;
    m->self = n == &s->self;
    m->session_start_ms = n->session_start_ms;
}

static void td_swim_report(td_swim_t *s, const td_snode_t *n, int forgotten)
{
    td_member_t m;
    if (s->o.changed != NULL) {
        td_snode_to_member(s, n, &m);
        s->o.changed(s->o.arg, &m, forgotten);
    }
}

static td_swim_rec_t td_snode_rec(const td_snode_t *n)
{
    td_swim_rec_t r;
    memset(&r, 0, sizeof(r));
    r.id = td_str(n->id);
    r.role = (uint8_t)n->role;
    r.status = (uint8_t)n->status;
    r.draining = (uint8_t)n->draining;
    r.incarnation = n->incarnation;
    r.session_start_ms = n->session_start_ms;
    r.grpc_addr = td_str(n->grpc_addr);
    r.by = td_str(n->status == TD_MEMBER_SUSPECT ? n->suspect_by : NULL);
    return r;
}

static td_snode_t *td_swim_find(td_swim_t *s, td_swim_str_t id)
{
    for (int i = 0; i < s->n; i++) {
        if (td_str_eq(id, s->v[i]->id)) {
            return s->v[i];
        }
    }
    return NULL;
}

static td_snode_t *td_swim_find_c(td_swim_t *s, const char *id)
{
    return td_swim_find(s, td_str(id));
}

/* Members counted for timeouts and retransmits: alive or suspect, self included. */
static int td_swim_live_count(const td_swim_t *s)
{
    int c = 1;
    for (int i = 0; i < s->n; i++) {
        c += s->v[i]->status <= TD_MEMBER_SUSPECT;
    }
    return c;
}

static int td_swim_retransmit_limit(const td_swim_t *s)
{
    int n = td_swim_live_count(s);
    return s->t.retransmit_mult * (int)ceil(log10((double)n + 1));
}

static void td_swim_queue(td_snode_t *n)
{
    n->queued = 1;
    n->transmits = 0;
}

static void td_snode_clear_suspicion(td_snode_t *n)
{
    td_free(n->suspect_by);
    n->suspect_by = NULL;
    for (int i = 0; i < n->n_confirm; i++) {
        td_free(n->confirmers[i]);
    }
    n->n_confirm = 0;
}

static void td_snode_free(td_snode_t *n)
{
    td_snode_clear_suspicion(n);
    td_free(n->id);
    td_free(n->grpc_addr);
    td_free(n);
}

static void td_swim_set_status(td_swim_t *s, td_snode_t *n, td_member_status_t st, int64_t now)
{
    if (n->status != st) {
        n->status_ms = now;
        if (st != TD_MEMBER_SUSPECT) {
            td_snode_clear_suspicion(n);
        }
    }
    n->status = st;
}

/* Fills up to max records from the dissemination queue into msg, least sent first, within
 * the byte budget. force (may be NULL) goes first whatever the queue says. */
static void td_swim_piggyback(td_swim_t *s, td_swim_msg_t *msg, size_t budget, td_snode_t *force)
{
    int limit = td_swim_retransmit_limit(s);
    td_snode_t *all[1 + 256];
    int n_all = 0;

    if (force != NULL) {
        td_swim_rec_t r = td_snode_rec(force);
        size_t sz = td_swim_rec_size(&r);
        if (sz <= budget) {
            msg->recs[msg->n_recs++] = r;
            budget -= sz;
            if (force->queued) {
                force->transmits++;
            }
        }
    }
    if (s->self.queued) {
        all[n_all++] = &s->self;
    }
    for (int i = 0; i < s->n && n_all < (int)TD_ARRAY_LEN(all); i++) {
        if (s->v[i]->queued && s->v[i] != force) {
            all[n_all++] = s->v[i];
        }
    }
    /* least transmitted first (selection, the queue is short) */
    while (n_all > 0 && msg->n_recs < TD_SWIM_MAX_RECORDS) {
        int best = 0;
        td_swim_rec_t r;
        size_t sz;
        for (int i = 1; i < n_all; i++) {
            if (all[i]->transmits < all[best]->transmits) {
                best = i;
            }
        }
        r = td_snode_rec(all[best]);
        sz = td_swim_rec_size(&r);
        if (sz <= budget) {
            msg->recs[msg->n_recs++] = r;
            budget -= sz;
            if (++all[best]->transmits >= limit) {
                all[best]->queued = 0;
            }
        }
        all[best] = all[--n_all];
    }
}

static void td_swim_msg_init(td_swim_t *s, td_swim_msg_t *msg, int type, uint32_t seq)
{
    memset(msg, 0, sizeof(*msg));
    msg->type = (uint8_t)type;
    msg->seq = seq;
    msg->cluster = td_str(s->cluster);
    msg->num_shards = s->o.num_shards;
    msg->from = td_snode_rec(&s->self);
}

static void td_swim_send_msg(td_swim_t *s, const char *to, td_swim_msg_t *msg)
{
    uint8_t buf[TD_SWIM_MAX_PACKET];
    size_t len = td_swim_encode(msg, s->key, s->o.key_len, buf, sizeof(buf));
    if (len > 0 && strcmp(to, s->self.id) != 0) {
        s->stats.sent++;
        s->o.send(s->o.arg, to, buf, len);
    }
}

/* Sends one datagram of the type to `to`, with piggy-backed records. */
static void td_swim_send(td_swim_t *s, const char *to, int type, uint32_t seq, const char *target,
                         td_snode_t *force)
{
    td_swim_msg_t msg;
    size_t used;
    td_swim_msg_init(s, &msg, type, seq);
    if (target != NULL) {
        msg.target = td_str(target);
    }
    used = 9 + msg.cluster.len + 4 + td_swim_rec_size(&msg.from) + 1 + msg.target.len + 1 +
           (s->o.key_len > 0 ? TD_SWIM_MAC_LEN : 0);
    td_swim_piggyback(s, &msg, TD_SWIM_MAX_PACKET - used, force);
    td_swim_send_msg(s, to, &msg);
}

/* Full state to `to`, in as many datagrams as it takes. */
static void td_swim_send_state(td_swim_t *s, const char *to, int type)
{
    int i = -1; /* -1 = self */
    while (i < s->n) {
        td_swim_msg_t msg;
        size_t budget;
        td_swim_msg_init(s, &msg, type, ++s->seq);
        budget = TD_SWIM_MAX_PACKET -
                 (9 + msg.cluster.len + 4 + td_swim_rec_size(&msg.from) + 1 + TD_SWIM_MAC_LEN);
        for (; i < s->n && msg.n_recs < TD_SWIM_MAX_RECORDS; i++) {
            td_swim_rec_t r = td_snode_rec(i < 0 ? &s->self : s->v[i]);
            size_t sz = td_swim_rec_size(&r);
            if (sz > budget) {
                break;
            }
            msg.recs[msg.n_recs++] = r;
            budget -= sz;
        }
        td_swim_send_msg(s, to, &msg);
        type = TD_SWIM_SYNC; /* only the first asks for an answer */
    }
}

static void td_swim_health(td_swim_t *s, int delta)
{
    s->health += delta;
    if (s->health < 0) {
        s->health = 0;
    }
    if (s->health > s->t.max_health) {
        s->health = s->t.max_health;
    }
}

static void td_swim_order_add(td_swim_t *s, td_snode_t *n)
{
    int at = s->order_pos + td_swim_rand_n(s, s->n_order - s->order_pos + 1);
    s->order = td_realloc(s->order, sizeof(*s->order) * (size_t)(s->n_order + 1));
    memmove(&s->order[at + 1], &s->order[at], sizeof(*s->order) * (size_t)(s->n_order - at));
    s->order[at] = n;
    s->n_order++;
}

static void td_swim_order_remove(td_swim_t *s, td_snode_t *n)
{
    for (int i = 0; i < s->n_order; i++) {
        if (s->order[i] == n) {
            memmove(&s->order[i], &s->order[i + 1],
                    sizeof(*s->order) * (size_t)(s->n_order - i - 1));
            s->n_order--;
            if (i < s->order_pos) {
                s->order_pos--;
            }
            return;
        }
    }
}

static td_snode_t *td_swim_add(td_swim_t *s, const td_swim_rec_t *r, int64_t now)
{
    td_snode_t *n = td_calloc(1, sizeof(*n));
    n->id = td_str_dup(r->id);
    n->role = r->role;
    n->grpc_addr = td_str_dup(r->grpc_addr);
    n->status = TD_MEMBER_ALIVE;
    n->incarnation = r->incarnation;
    n->draining = r->draining;
    n->session_start_ms = r->session_start_ms;
    n->status_ms = now;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = td_realloc(s->v, sizeof(*s->v) * (size_t)s->cap);
    }
    s->v[s->n++] = n;
    td_swim_order_add(s, n);
    return n;
}

static double td_swim_suspicion_timeout(const td_swim_t *s, const td_snode_t *n)
{
    int k = td_swim_live_count(s) - 2 < TD_SWIM_MAX_CONFIRM ? 0 : TD_SWIM_MAX_CONFIRM;
    double min = s->t.suspicion_min_ms, max = s->t.suspicion_max_ms, t;
    if (k == 0) {
        return min;
    }
    t = max - (max - min) * log((double)n->n_confirm + 1) / log((double)k + 1);
    return t < min ? min : t;
}

/* A suspicion of n by `by` (NULL = ourselves). Returns whether it is news worth passing on. */
static int td_swim_suspect(td_swim_t *s, td_snode_t *n, const char *by, int64_t now)
{
    if (n->status == TD_MEMBER_ALIVE) {
        td_swim_set_status(s, n, TD_MEMBER_SUSPECT, now);
        n->suspect_start_ms = now;
        n->suspect_by = td_strdup(by != NULL ? by : s->self.id);
        s->stats.suspected++;
        td_log_info("%s suspects %s (%s, incarnation %llu)", s->self.id, n->id,
                    by != NULL ? by : "no ack", (unsigned long long)n->incarnation);
        td_swim_report(s, n, 0);
        /* tell the suspect at once: if it is alive it refutes long before the timeout */
        td_swim_send(s, n->id, TD_SWIM_GOSSIP, ++s->seq, NULL, n);
        return 1;
    }
    if (n->status == TD_MEMBER_SUSPECT && by != NULL && strcmp(by, n->suspect_by) != 0 &&
        n->n_confirm < TD_SWIM_MAX_CONFIRM) {
        for (int i = 0; i < n->n_confirm; i++) {
            if (strcmp(n->confirmers[i], by) == 0) {
                return 0;
            }
        }
        n->confirmers[n->n_confirm++] = td_strdup(by);
        return 1;
    }
    return 0;
}

static void td_swim_refute(td_swim_t *s, uint64_t heard_inc)
{
    if (heard_inc >= s->self.incarnation) {
        s->self.incarnation = heard_inc + 1;
    }
    s->stats.refuted++;
    td_swim_health(s, 1);
    td_swim_queue(&s->self);
    td_log_info("%s refutes a suspicion with incarnation %llu", s->self.id,
                (unsigned long long)s->self.incarnation);
    td_swim_report(s, &s->self, 0);
}

/* Applies one gossiped record. */
static void td_swim_apply(td_swim_t *s, const td_swim_rec_t *r, int64_t now)
{
    td_snode_t *n;
    int changed = 0, news = 0;

    if (td_str_eq(r->id, s->self.id)) {
        if (s->self.status == TD_MEMBER_LEFT) {
            return;
        }
        if (r->status != TD_MEMBER_ALIVE && r->incarnation >= s->self.incarnation) {
            td_swim_refute(s, r->incarnation);
        }
        return;
    }
    n = td_swim_find(s, r->id);
    if (n == NULL) {
        if (r->status == TD_MEMBER_DEAD || r->status == TD_MEMBER_LEFT) {
            return; /* never heard of it alive: nothing to forget */
        }
        if (s->n >= TD_SWIM_MAX_MEMBERS) {
            return; /* a bound on what gossip can make us hold */
        }
        n = td_swim_add(s, r, now);
        td_log_info("%s learns of %s (role %d, %.*s, incarnation %llu)", s->self.id, n->id, n->role,
                    (int)r->grpc_addr.len, r->grpc_addr.p, (unsigned long long)n->incarnation);
        td_swim_queue(n);
        td_swim_report(s, n, 0);
        if (r->status == TD_MEMBER_SUSPECT) {
            char *by = td_str_dup(r->by);
            if (td_swim_suspect(s, n, by, now)) {
                td_swim_queue(n);
            }
            td_free(by);
        }
        return;
    }
    if (r->session_start_ms > n->session_start_ms) {
        /* a restarted member: what we knew of the old one does not count */
        if (r->status == TD_MEMBER_ALIVE) {
            n->session_start_ms = r->session_start_ms;
            n->incarnation = r->incarnation;
            n->role = r->role;
            n->draining = r->draining;
            td_free(n->grpc_addr);
            n->grpc_addr = td_str_dup(r->grpc_addr);
            td_swim_set_status(s, n, TD_MEMBER_ALIVE, now);
            td_log_info("%s: %s restarted", s->self.id, n->id);
            td_swim_queue(n);
            td_swim_report(s, n, 0);
        }
        return;
    }
    if (r->session_start_ms < n->session_start_ms) {
        return; /* about an earlier life */
    }
    switch (r->status) {
    case TD_MEMBER_ALIVE:
        if (r->incarnation > n->incarnation) {
            changed = n->status != TD_MEMBER_ALIVE || n->draining != r->draining ||
                      !td_str_eq(r->grpc_addr, n->grpc_addr);
            if (n->status != TD_MEMBER_ALIVE) {
                td_log_info("%s: %s is alive again (incarnation %llu)", s->self.id, n->id,
                            (unsigned long long)r->incarnation);
            }
            n->incarnation = r->incarnation;
            n->draining = r->draining;
            if (!td_str_eq(r->grpc_addr, n->grpc_addr)) {
                td_free(n->grpc_addr);
                n->grpc_addr = td_str_dup(r->grpc_addr);
            }
            td_swim_set_status(s, n, TD_MEMBER_ALIVE, now);
            news = 1;
        }
        break;
    case TD_MEMBER_SUSPECT:
        if (r->incarnation > n->incarnation && n->status == TD_MEMBER_SUSPECT) {
            td_swim_set_status(s, n, TD_MEMBER_ALIVE, now);
        }
        if (r->incarnation >= n->incarnation && n->status <= TD_MEMBER_SUSPECT) {
            char *by = td_str_dup(r->by);
            n->incarnation = r->incarnation;
            news = td_swim_suspect(s, n, by[0] != '\0' ? by : NULL, now);
            td_free(by);
            if (news && n->n_confirm > 0) {
                /* pass the confirmation on under its own suspector */
                td_free(n->suspect_by);
                n->suspect_by = td_strdup(n->confirmers[n->n_confirm - 1]);
            }
        }
        break;
    case TD_MEMBER_DEAD:
    case TD_MEMBER_LEFT:
        if (r->incarnation >= n->incarnation && n->status <= TD_MEMBER_SUSPECT) {
            td_log_info("%s: %s is %s (incarnation %llu)", s->self.id, n->id,
                        r->status == TD_MEMBER_DEAD ? "dead" : "gone (left)",
                        (unsigned long long)r->incarnation);
            n->incarnation = r->incarnation;
            td_swim_set_status(s, n, (td_member_status_t)r->status, now);
            if (r->status == TD_MEMBER_DEAD) {
                s->stats.declared_dead++;
            }
            changed = news = 1;
        }
        break;
    }
    if (news) {
        td_swim_queue(n);
        td_swim_report(s, n, 0);
    } else if (changed) {
        td_swim_report(s, n, 0);
    }
}

/* ---- lifecycle ---- */

td_swim_t *td_swim_new(const td_swim_options_t *o, int64_t now_ms)
{
    td_swim_t *s = td_calloc(1, sizeof(*s));
    td_swim_timing_t d;

    s->o = *o;
    td_swim_timing_default(&d);
    s->t = o->timing;
#define TD_SWIM_DEF(f) \
    if (s->t.f <= 0)   \
    s->t.f = d.f
    TD_SWIM_DEF(probe_interval_ms);
    TD_SWIM_DEF(probe_timeout_ms);
    TD_SWIM_DEF(indirect_k);
    TD_SWIM_DEF(suspicion_min_ms);
    TD_SWIM_DEF(suspicion_max_ms);
    TD_SWIM_DEF(retransmit_mult);
    TD_SWIM_DEF(gossip_interval_ms);
    TD_SWIM_DEF(gossip_nodes);
    TD_SWIM_DEF(sync_interval_ms);
    TD_SWIM_DEF(join_retry_ms);
    TD_SWIM_DEF(dead_forget_ms);
    TD_SWIM_DEF(max_health);
#undef TD_SWIM_DEF
    s->cluster = td_strdup(o->cluster_name != NULL ? o->cluster_name : "");
    if (o->key_len > 0) {
        s->key = td_malloc(o->key_len);
        memcpy(s->key, o->key, o->key_len);
    }
    s->o.key = s->key;
    s->self.id = td_strdup(o->id);
    s->self.role = o->role;
    s->self.grpc_addr = td_strdup(o->grpc_addr != NULL ? o->grpc_addr : "");
    s->self.status = TD_MEMBER_ALIVE;
    s->self.session_start_ms = o->session_start_ms;
    s->self.status_ms = now_ms;
    s->rng = o->rng_seed != 0 ? o->rng_seed : 0x9E3779B97F4A7C15ULL;
    s->last_tick_ms = now_ms;
    s->next_probe_ms = now_ms + td_swim_rand_n(s, s->t.probe_interval_ms);
    s->next_gossip_ms = now_ms + s->t.gossip_interval_ms;
    s->sync_backoff_ms = 1000 < s->t.sync_interval_ms ? 1000 : s->t.sync_interval_ms;
    s->next_sync_ms = now_ms + s->sync_backoff_ms;
    s->next_join_ms = now_ms;
    td_swim_queue(&s->self);
    td_swim_report(s, &s->self, 0);
    return s;
}

void td_swim_free(td_swim_t *s)
{
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < s->n; i++) {
        td_snode_free(s->v[i]);
    }
    td_free(s->v);
    td_free(s->order);
    for (int i = 0; i < s->n_seeds; i++) {
        td_free(s->seeds[i]);
    }
    td_free(s->seeds);
    for (int i = 0; i < TD_SWIM_MAX_RELAYS; i++) {
        td_free(s->relays[i].origin);
    }
    td_free(s->probe.target);
    td_snode_clear_suspicion(&s->self);
    td_free(s->self.id);
    td_free(s->self.grpc_addr);
    td_free(s->cluster);
    td_free(s->key);
    td_free(s);
}

void td_swim_set_seeds(td_swim_t *s, const char *const *seeds, int n)
{
    for (int i = 0; i < s->n_seeds; i++) {
        td_free(s->seeds[i]);
    }
    td_free(s->seeds);
    s->seeds = td_calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
    s->n_seeds = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(seeds[i], s->self.id) != 0) {
            s->seeds[s->n_seeds++] = td_strdup(seeds[i]);
        }
    }
}

int td_swim_tick_ms(const td_swim_t *s)
{
    int t = s->t.gossip_interval_ms / 2;
    return t < 10 ? 10 : t > 100 ? 100 : t;
}

/* A random live member other than self and `not`, or NULL. */
static td_snode_t *td_swim_pick(td_swim_t *s, const char * not )
{
    int live = 0;
    for (int i = 0; i < s->n; i++) {
        live += s->v[i]->status <= TD_MEMBER_SUSPECT && (not == NULL || strcmp(s->v[i]->id, not ));
    }
    if (live == 0) {
        return NULL;
    }
    live = td_swim_rand_n(s, live);
    for (int i = 0; i < s->n; i++) {
        if (s->v[i]->status <= TD_MEMBER_SUSPECT && (not == NULL || strcmp(s->v[i]->id, not ))) {
            if (live-- == 0) {
                return s->v[i];
            }
        }
    }
    return NULL;
}

static td_snode_t *td_swim_pick_dead(td_swim_t *s)
{
    int dead = 0;
    for (int i = 0; i < s->n; i++) {
        dead += s->v[i]->status == TD_MEMBER_DEAD;
    }
    dead = dead > 0 ? td_swim_rand_n(s, dead) + 1 : 0;
    for (int i = 0; i < s->n && dead > 0; i++) {
        if (s->v[i]->status == TD_MEMBER_DEAD && --dead == 0) {
            return s->v[i];
        }
    }
    return NULL;
}

static void td_swim_probe_end(td_swim_t *s, int64_t now)
{
    td_snode_t *n = s->probe.target != NULL ? td_swim_find_c(s, s->probe.target) : NULL;
    if (s->probe.target == NULL) {
        return;
    }
    if (s->probe.acked) {
        td_swim_health(s, -1);
    } else if (n != NULL && n->status <= TD_MEMBER_SUSPECT) {
        if (s->probe.nacks_expected > s->probe.nacks) {
            td_swim_health(s, 1); /* the helpers did not answer either: maybe it is us */
        }
        if (td_swim_suspect(s, n, NULL, now)) {
            td_swim_queue(n);
        }
    }
    td_free(s->probe.target);
    s->probe.target = NULL;
}

static void td_swim_probe_start(td_swim_t *s, int64_t now)
{
    int mult = s->health + 1;
    td_snode_t *target = NULL;

    for (int tries = 0; tries < s->n_order && target == NULL; tries++) {
        if (s->order_pos >= s->n_order) {
            /* a new round in a new order */
            for (int i = s->n_order - 1; i > 0; i--) {
                int j = td_swim_rand_n(s, i + 1);
                td_snode_t *x = s->order[i];
                s->order[i] = s->order[j];
                s->order[j] = x;
            }
            s->order_pos = 0;
        }
        if (s->order[s->order_pos]->status <= TD_MEMBER_SUSPECT) {
            target = s->order[s->order_pos];
        }
        s->order_pos++;
    }
    s->next_probe_ms = now + (int64_t)s->t.probe_interval_ms * mult;
    if (target == NULL) {
        return;
    }
    memset(&s->probe, 0, sizeof(s->probe));
    s->probe.target = td_strdup(target->id);
    s->probe.seq = ++s->seq;
    s->probe.start_ms = now;
    s->probe.timeout_ms = now + (int64_t)s->t.probe_timeout_ms * mult;
    s->probe.end_ms = s->next_probe_ms;
    /* buddy system: a suspect hears of its suspicion on our ping */
    td_swim_send(s, target->id, TD_SWIM_PING, s->probe.seq, NULL,
                 target->status == TD_MEMBER_SUSPECT ? target : NULL);
}

static void td_swim_probe_indirect(td_swim_t *s, int64_t now)
{
    td_snode_t *picked[16];
    int n_picked = 0;
    int k = s->t.indirect_k < 16 ? s->t.indirect_k : 16;

    s->probe.indirect_sent = 1;
    for (int tries = 0; tries < 4 * k && n_picked < k; tries++) {
        td_snode_t *h = td_swim_pick(s, s->probe.target);
        int dup = h == NULL || h->status != TD_MEMBER_ALIVE;
        for (int i = 0; i < n_picked && !dup; i++) {
            dup = picked[i] == h;
        }
        if (!dup) {
            picked[n_picked++] = h;
        }
    }
    for (int i = 0; i < n_picked; i++) {
        td_swim_send(s, picked[i]->id, TD_SWIM_PING_REQ, s->probe.seq, s->probe.target, NULL);
    }
    s->probe.nacks_expected = n_picked;
}

static void td_swim_forget_dead(td_swim_t *s, int64_t now)
{
    for (int i = 0; i < s->n; i++) {
        td_snode_t *n = s->v[i];
        if (n->status >= TD_MEMBER_DEAD && now - n->status_ms >= s->t.dead_forget_ms) {
            td_swim_report(s, n, 1);
            td_swim_order_remove(s, n);
            s->v[i--] = s->v[--s->n];
            td_snode_free(n);
        }
    }
}

void td_swim_tick(td_swim_t *s, int64_t now)
{
    int alone = 1;
    int64_t gap = now - s->last_tick_ms;

    if (gap > (int64_t)s->t.probe_timeout_ms && s->probe.target != NULL) {
        /* our own loop stalled: the probe's silence says nothing of the target */
        td_swim_health(s, 1);
        s->probe.acked = 1;
    }
    s->last_tick_ms = now;
    /* suspicion timeouts */
    for (int i = 0; i < s->n; i++) {
        td_snode_t *n = s->v[i];
        if (n->status == TD_MEMBER_SUSPECT &&
            now - n->suspect_start_ms >= (int64_t)td_swim_suspicion_timeout(s, n)) {
            td_log_info("%s declares %s dead after %lld ms of suspicion (%d confirmation(s))",
                        s->self.id, n->id, (long long)(now - n->suspect_start_ms), n->n_confirm);
            td_swim_set_status(s, n, TD_MEMBER_DEAD, now);
            s->stats.declared_dead++;
            td_swim_queue(n);
            td_swim_report(s, n, 0);
        }
        alone &= n->status > TD_MEMBER_SUSPECT;
    }
    /* relays that got no ack: NACK to their origin */
    for (int i = 0; i < TD_SWIM_MAX_RELAYS; i++) {
        td_relay_t *r = &s->relays[i];
        if (r->origin != NULL && now >= r->deadline_ms) {
            td_swim_send(s, r->origin, TD_SWIM_NACK, r->origin_seq, NULL, NULL);
            td_free(r->origin);
            r->origin = NULL;
        }
    }
    /* the probe in flight */
    if (s->probe.target != NULL && !s->probe.acked && !s->probe.indirect_sent &&
        now >= s->probe.timeout_ms) {
        td_swim_probe_indirect(s, now);
    }
    if (s->probe.target != NULL && now >= s->probe.end_ms) {
        td_swim_probe_end(s, now);
    }
    if (now >= s->next_probe_ms) {
        td_swim_probe_end(s, now);
        td_swim_probe_start(s, now);
    }
    /* gossip pending changes */
    if (now >= s->next_gossip_ms) {
        s->next_gossip_ms = now + s->t.gossip_interval_ms;
        int pending = s->self.queued;
        for (int i = 0; i < s->n && !pending; i++) {
            pending = s->v[i]->queued;
        }
        for (int g = 0; g < s->t.gossip_nodes && pending; g++) {
            td_snode_t *to = td_swim_pick(s, NULL);
            if (to != NULL) {
                td_swim_send(s, to->id, TD_SWIM_GOSSIP, ++s->seq, NULL, NULL);
            }
        }
    }
    /* joining: every seed not known alive, each join retry while alone or in our first
     * minute, ten times slower after (so a process whose own roles found each other at once
     * still reaches the others, and a seed that was down when we started is found) */
    if (s->n_seeds > 0 && now >= s->next_join_ms) {
        int fast = alone || now - s->self.status_ms < 60000;
        s->next_join_ms = now + (int64_t)s->t.join_retry_ms * (fast ? 1 : 10);
        for (int i = 0; i < s->n_seeds; i++) {
            td_snode_t *seed = td_swim_find_c(s, s->seeds[i]);
            if (seed == NULL || seed->status > TD_MEMBER_SUSPECT) {
                td_swim_send_state(s, s->seeds[i], TD_SWIM_SYNC_REQ);
            }
        }
    }
    if (now >= s->next_sync_ms) {
        td_snode_t *to = td_swim_pick(s, NULL);
        s->sync_backoff_ms *= 2;
        if (s->sync_backoff_ms > s->t.sync_interval_ms) {
            s->sync_backoff_ms = s->t.sync_interval_ms;
        }
        s->next_sync_ms = now + s->sync_backoff_ms;
        if (to != NULL) {
            td_swim_send_state(s, to->id, TD_SWIM_SYNC_REQ);
        } else if (s->n_seeds > 0) {
            td_swim_send_state(s, s->seeds[td_swim_rand_n(s, s->n_seeds)], TD_SWIM_SYNC_REQ);
        }
        /* and one member we believe dead, in case it came back (a restarted seed) */
        to = td_swim_pick_dead(s);
        if (to != NULL) {
            td_swim_send_state(s, to->id, TD_SWIM_SYNC_REQ);
        }
    }
    td_swim_forget_dead(s, now);
}

static void td_swim_foreign(td_swim_t *s, const td_swim_msg_t *m, int64_t now)
{
    s->stats.dropped_foreign++;
    if (s->last_foreign_log_ms == 0 || now - s->last_foreign_log_ms >= 10000) {
        s->last_foreign_log_ms = now;
        td_log_warn("refusing member %.*s: it belongs to cluster '%.*s' with %u history shards, "
                    "this one is '%s' with %u; it will not join",
                    (int)m->from.id.len, m->from.id.p, (int)m->cluster.len, m->cluster.p,
                    m->num_shards, s->cluster, s->o.num_shards);
    }
}

void td_swim_recv(td_swim_t *s, int64_t now, const uint8_t *buf, size_t len)
{
    td_swim_msg_t *m = td_malloc(sizeof(*m));
    int rc = td_swim_decode(buf, len, s->key, s->o.key_len, m);
    td_snode_t *from;
    char *from_id = NULL;

    if (rc != TD_OK) {
        if (rc == TD_EPERM) {
            s->stats.dropped_auth++;
        } else {
            s->stats.dropped_decode++;
        }
        goto out;
    }
    if (!td_str_eq(m->cluster, s->cluster) || m->num_shards != s->o.num_shards) {
        td_swim_foreign(s, m, now);
        goto out;
    }
    if (td_str_eq(m->from.id, s->self.id)) {
        goto out; /* our own datagram */
    }
    s->stats.received++;
    from_id = td_str_dup(m->from.id);
    td_swim_apply(s, &m->from, now);
    for (int i = 0; i < m->n_recs; i++) {
        td_swim_apply(s, &m->recs[i], now);
    }
    from = td_swim_find_c(s, from_id);
    switch (m->type) {
    case TD_SWIM_PING:
        /* a sender we think dead hears it, so it can refute */
        td_swim_send(s, from_id, TD_SWIM_ACK, m->seq, NULL,
                     from != NULL && from->status >= TD_MEMBER_SUSPECT ? from : NULL);
        break;
    case TD_SWIM_ACK:
        if (s->probe.target != NULL && m->seq == s->probe.seq) {
            s->probe.acked = 1;
        }
        for (int i = 0; i < TD_SWIM_MAX_RELAYS; i++) {
            td_relay_t *r = &s->relays[i];
            if (r->origin != NULL && r->seq == m->seq) {
                td_swim_send(s, r->origin, TD_SWIM_ACK, r->origin_seq, NULL, NULL);
                td_free(r->origin);
                r->origin = NULL;
            }
        }
        break;
    case TD_SWIM_NACK:
        if (s->probe.target != NULL && m->seq == s->probe.seq) {
            s->probe.nacks++;
        }
        break;
    case TD_SWIM_PING_REQ: {
        char *target = td_str_dup(m->target);
        for (int i = 0; i < TD_SWIM_MAX_RELAYS; i++) {
            td_relay_t *r = &s->relays[i];
            if (r->origin == NULL) {
                r->origin = td_strdup(from_id);
                r->origin_seq = m->seq;
                r->seq = ++s->seq;
                r->deadline_ms = now + (int64_t)s->t.probe_timeout_ms * (s->health + 1);
                td_swim_send(s, target, TD_SWIM_PING, r->seq, NULL, NULL);
                break;
            }
        }
        td_free(target);
        break;
    }
    case TD_SWIM_SYNC_REQ:
        td_swim_send_state(s, from_id, TD_SWIM_SYNC);
        break;
    default:
        break;
    }
out:
    td_free(from_id);
    td_free(m);
}

void td_swim_set_draining(td_swim_t *s, int draining, int64_t now_ms)
{
    if (s->self.draining == draining) {
        return;
    }
    s->self.draining = draining;
    s->self.incarnation++;
    td_swim_queue(&s->self);
    td_swim_report(s, &s->self, 0);
}

void td_swim_leave(td_swim_t *s, int64_t now_ms)
{
    s->self.status = TD_MEMBER_LEFT;
    s->self.incarnation++;
    td_swim_queue(&s->self);
    for (int i = 0; i < s->t.gossip_nodes; i++) {
        td_snode_t *to = td_swim_pick(s, NULL);
        if (to != NULL) {
            td_swim_send(s, to->id, TD_SWIM_GOSSIP, ++s->seq, NULL, &s->self);
        }
    }
    td_swim_report(s, &s->self, 0);
}

int td_swim_members(td_swim_t *s, td_member_t *out, int cap)
{
    int n = 0;
    if (n < cap) {
        td_snode_to_member(s, &s->self, &out[n++]);
    }
    for (int i = 0; i < s->n && n < cap; i++) {
        td_snode_to_member(s, s->v[i], &out[n++]);
    }
    return n;
}

int td_swim_status_of(td_swim_t *s, const char *id)
{
    td_snode_t *n;
    if (strcmp(id, s->self.id) == 0) {
        return (int)s->self.status;
    }
    n = td_swim_find_c(s, id);
    return n != NULL ? (int)n->status : -1;
}

const td_swim_stats_t *td_swim_stats(const td_swim_t *s)
{
    return &s->stats;
}
