/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the membership datagram decoder (src/cluster/swim.c): the first input
 * byte picks keyed (HMAC) or plain decoding, the rest is a datagram. A datagram that decodes
 * must encode back to the same bytes; then it is fed to a SWIM member (cluster "fuzz", 4
 * shards, no key) whose clock advances by the byte's value, so the state machine sees it too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/swim.h"
#include "config.h"
#include "error.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_send(void *arg, const char *to, const uint8_t *buf, size_t len)
{
    td_swim_msg_t m;
    /* what the member sends must decode */
    if (td_swim_decode(buf, len, NULL, 0, &m) != TD_OK) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static td_swim_t *node;
    static int64_t now = 1000000;
    static const uint8_t key[] = "fuzz-key";
    static td_swim_msg_t m;
    static uint8_t again[65536];
    size_t klen, n;

    if (size < 1) {
        return 0;
    }
    if (node == NULL) {
        td_swim_options_t o;
        td_log_setup(TD_LOG_NEVER, TD_LOG_TEXT);
        memset(&o, 0, sizeof(o));
        o.id = "127.0.0.1:6934";
        o.role = TD_ROLE_HISTORY;
        o.grpc_addr = "127.0.0.1:7234";
        o.cluster_name = "fuzz";
        o.num_shards = 4;
        o.session_start_ms = 1;
        o.send = fz_send;
        node = td_swim_new(&o, now);
    }
    klen = (data[0] & 1) ? sizeof(key) - 1 : 0;
    if (td_swim_decode(data + 1, size - 1, key, klen, &m) == TD_OK) {
        n = td_swim_encode(&m, key, klen, again, sizeof(again));
        if (n != size - 1 || memcmp(again, data + 1, n) != 0) {
            abort();
        }
    }
    now += data[0];
    td_swim_recv(node, now, data + 1, size - 1);
    td_swim_tick(node, now);
    return 0;
}
