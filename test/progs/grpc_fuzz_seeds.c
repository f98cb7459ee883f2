/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the seed corpus of test/fuzz/fuzz_h2_server: client byte streams (after the
 * connection preface, which the driver adds) made by an nghttp2 client session: plain, gzip
 * and timed-out requests, a cancelled long poll, pings and several streams. Not part of
 * temporald; run by hand when the corpus needs refreshing:
 *     build/release/progs/grpc_fuzz_seeds test/fuzz/corpus/fuzz_h2_server
 */
#include <stdio.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "arena.h"
#include "net/grpc_wire.h"
#include "temporal/api/common/v1/message.pb-c.h"

typedef struct {
    const uint8_t *p;
    size_t n, off;
} seed_body_t;

static ssize_t seed_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    seed_body_t *b = src->ptr;
    size_t k = b->n - b->off < len ? b->n - b->off : len;
    (void)s;
    (void)id;
    (void)ud;
    memcpy(buf, b->p + b->off, k);
    b->off += k;
    if (b->off == b->n) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)k;
}

#define NV(n, v)                                                                   \
    {                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE \
    }

static int32_t seed_req(nghttp2_session *cl, const char *path, seed_body_t *b, const char *k,
                        const char *v)
{
    nghttp2_nv nv[8] = {
        NV(":method", "POST"),
        NV(":scheme", "http"),
        NV(":authority", "fuzz"),
        NV(":path", path),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
    };
    nghttp2_data_provider dp = { { .ptr = b }, seed_read };
    int n = 6;
    if (k != NULL) {
        nv[n++] = (nghttp2_nv)NV(k, v);
    }
    return nghttp2_submit_request(cl, NULL, nv, (size_t)n, &dp, NULL);
}

/* Appends what cl has to send; first: drop the connection preface (the driver sends it). */
static void seed_write(const char *dir, const char *name, nghttp2_session *cl, int first)
{
    char path[512];
    FILE *f;
    const uint8_t *p;
    ssize_t n;
    size_t skip = first ? 24 : 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "ab"); /* appends: a seed may be written in steps */
    while (f != NULL && (n = nghttp2_session_mem_send(cl, &p)) > 0) {
        size_t k = (size_t)n > skip ? skip : (size_t)n;
        fwrite(p + k, 1, (size_t)n - k, f);
        skip -= k;
    }
    if (f != NULL) {
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    Temporal__Api__Common__V1__Payload pl = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    uint8_t msg[256], gzmsg[512];
    size_t n;
    td_arena_t a;
    uint8_t *gz;
    size_t gzn;
    nghttp2_session_callbacks *cb;
    const char *dir = argc > 1 ? argv[1] : ".";

    pl.data.data = (uint8_t *)"fuzz seed";
    pl.data.len = 9;
    n = protobuf_c_message_pack(&pl.base, msg + 5);
    td_grpc_prefix_write(msg, 0, (uint32_t)n);
    td_arena_init(&a, 1024);
    td_grpc_gzip(&a, msg + 5, n, &gz, &gzn);
    td_grpc_prefix_write(gzmsg, 1, (uint32_t)gzn);
    memcpy(gzmsg + 5, gz, gzn);
    nghttp2_session_callbacks_new(&cb);
    for (int i = 0; i < 5; i++) {
        nghttp2_session *cl;
        seed_body_t b1 = { msg, n + 5, 0 }, b2 = { gzmsg, gzn + 5, 0 }, b3 = { msg, n + 5, 0 };
        static const char *names[] = { "echo", "gzip", "timeout", "cancel", "multi" };
        int32_t id;
        char old[512];
        snprintf(old, sizeof(old), "%s/%s", dir, names[i]);
        remove(old);
        nghttp2_session_client_new(&cl, cb, NULL);
        nghttp2_submit_settings(cl, NGHTTP2_FLAG_NONE, NULL, 0);
        switch (i) {
        case 0:
            seed_req(cl, "/t.T/Echo", &b1, NULL, NULL);
            break;
        case 1:
            seed_req(cl, "/t.T/Echo", &b2, "grpc-encoding", "gzip");
            break;
        case 2:
            seed_req(cl, "/t.T/Hang", &b1, "grpc-timeout", "1n");
            break;
        case 3:
            id = seed_req(cl, "/t.T/Hang", &b1, NULL, NULL);
            seed_write(dir, "cancel", cl, 1);
            nghttp2_submit_rst_stream(cl, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
            break;
        default:
            seed_req(cl, "/t.T/Echo", &b1, "x-meta", "v");
            seed_req(cl, "/t.T/Nope", &b3, NULL, NULL);
            nghttp2_submit_ping(cl, NGHTTP2_FLAG_NONE, NULL);
            nghttp2_submit_window_update(cl, NGHTTP2_FLAG_NONE, 0, 1 << 20);
            seed_req(cl, "/t.T/Hang", &b2, "grpc-encoding", "gzip");
            break;
        }
        seed_write(dir, names[i], cl, i != 3);
        nghttp2_session_del(cl);
    }
    nghttp2_session_callbacks_del(cb);
    td_arena_destroy(&a);
    return 0;
}
