/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the HTTP/2 input path of the gRPC server: the input (after the client
 * connection preface, which the driver supplies) is fed in chunks to a memory session of a
 * server with an echo method and a method that never answers, as a peer's bytes would be.
 * Frames, HPACK, gRPC prefixes, compression flags and protobuf bodies all come from the input.
 * Every session is torn down (cancelling live calls) so leaks show up under ASan.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "net/rpc_internal.h"
#include "temporal/api/common/v1/message.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static td_loop_t *fz_loop;
static td_rpc_server_t *fz_srv;

static void fz_echo(td_rpc_call_t *c, void *ctx)
{
    (void)ctx;
    td_rpc_reply(c, td_rpc_request(c));
}

static void fz_hang_cancel(void *arg)
{
    td_rpc_fail(arg, TD_GRPC_CANCELLED, "cancelled", NULL);
}

static void fz_hang(td_rpc_call_t *c, void *ctx)
{
    (void)ctx;
    td_rpc_on_cancel(c, fz_hang_cancel, c);
}

static void fz_init(void)
{
    td_rpc_server_opts_t o;
    td_rpc_method_t echo = { "/t.T/Echo", &temporal__api__common__v1__payload__descriptor, fz_echo,
                             NULL };
    td_rpc_method_t hang = { "/t.T/Hang", &temporal__api__common__v1__payload__descriptor, fz_hang,
                             NULL };
    td_log_setup(TD_LOG_NEVER, TD_LOG_TEXT);
    fz_loop = td_loop_new();
    td_rpc_server_opts_init(&o);
    o.max_recv_bytes = 64 * 1024; /* keep each run small */
    fz_srv = td_rpc_server_new(fz_loop, &o);
    td_rpc_server_add(fz_srv, &echo);
    td_rpc_server_add(fz_srv, &hang);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    td_h2s_t *h;
    uint8_t *out = NULL;
    size_t off = 0;

    if (fz_srv == NULL) {
        fz_init();
    }
    h = td_rpc__mem_open(fz_srv);
    td_rpc__mem_feed(h, (const uint8_t *)preface, sizeof(preface) - 1);
    /* Chunk sizes vary with the input so frame boundaries land anywhere. */
    while (off < size && !td_rpc__mem_closed(h)) {
        size_t chunk = 1 + (size_t)(data[off] % 64) * 37;
        if (chunk > size - off) {
            chunk = size - off;
        }
        td_rpc__mem_feed(h, data + off, chunk);
        off += chunk;
        td_rpc__mem_take(h, &out);
        td_free(out);
        out = NULL;
    }
    td_rpc__mem_take(h, &out);
    td_free(out);
    td_rpc__mem_close(h);
    return 0;
}
