/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the gRPC wire functions (src/net/grpc_wire.c): message prefixes,
 * grpc-timeout, percent-decoding, base64 and bounded gzip/deflate inflation, all on the raw
 * input. Checks the round trips that must hold (percent and base64 encode/decode).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "net/grpc_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_arena_t a;
    char *s = td_malloc(size + 1);
    int comp;
    uint32_t len;
    int64_t ms;
    uint8_t *out;
    size_t outn;

    memcpy(s, data, size);
    s[size] = '\0';
    td_arena_init(&a, 1024);
    td_grpc_prefix_parse(data, size, 1u << 20, &comp, &len);
    td_grpc_timeout_parse(s, &ms);
    {
        /* percent: decode(encode(x)) == x for NUL-free x */
        char *enc = td_grpc_percent_encode(&a, s);
        char *dec = td_grpc_percent_decode(&a, enc);
        if (strcmp(dec, s) != 0) {
            abort();
        }
        td_grpc_percent_decode(&a, s);
    }
    {
        /* base64: decode(encode(x)) == x */
        char *b = td_base64_encode(&a, data, size);
        if (td_base64_decode(&a, b, strlen(b), &out, &outn) != TD_OK || outn != size ||
            (size > 0 && memcmp(out, data, size) != 0)) {
            abort();
        }
        td_base64_decode(&a, s, size, &out, &outn);
    }
    td_grpc_inflate(&a, TD_GRPC_ENC_GZIP, data, size, 1u << 20, &out, &outn);
    td_grpc_inflate(&a, TD_GRPC_ENC_DEFLATE, data, size, 1u << 20, &out, &outn);
    td_arena_destroy(&a);
    td_free(s);
    return 0;
}
