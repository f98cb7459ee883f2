/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of src/net/grpc_wire.c: message prefixes, grpc-timeout, percent-encoding, base64,
 * gzip/deflate bounds and the google.rpc.Status in grpc-status-details-bin. Pure functions,
 * no sockets.
 */
#include <string.h>

#include <zlib.h>

#include "error.h"
#include "google/protobuf/any.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "mem.h"
#include "net/grpc_wire.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "test.h"

TD_TEST(net_wire_prefix)
{
    uint8_t b[5];
    int comp = -1;
    uint32_t len = 0;

    td_grpc_prefix_write(b, 1, 0x01020304);
    TD_CHECK(b[0] == 1 && b[1] == 1 && b[2] == 2 && b[3] == 3 && b[4] == 4);
    TD_CHECK_INT(td_grpc_prefix_parse(b, 5, 1u << 30, &comp, &len), ==, TD_OK);
    TD_CHECK_INT(comp, ==, 1);
    TD_CHECK_INT(len, ==, 0x01020304);
    TD_CHECK_INT(td_grpc_prefix_parse(b, 4, 1u << 30, &comp, &len), ==, TD_EAGAIN);
    TD_CHECK_INT(td_grpc_prefix_parse(b, 5, 100, &comp, &len), ==, TD_ETOOBIG);
    b[0] = 2;
    TD_CHECK_INT(td_grpc_prefix_parse(b, 5, 1u << 30, &comp, &len), ==, TD_EPROTO);
}

TD_TEST(net_wire_timeout)
{
    int64_t ms = 0;
    char buf[16];

    TD_CHECK_INT(td_grpc_timeout_parse("1H", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 3600000);
    TD_CHECK_INT(td_grpc_timeout_parse("2M", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 120000);
    TD_CHECK_INT(td_grpc_timeout_parse("3S", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 3000);
    TD_CHECK_INT(td_grpc_timeout_parse("29999m", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 29999);
    TD_CHECK_INT(td_grpc_timeout_parse("70000000u", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 70000);
    TD_CHECK_INT(td_grpc_timeout_parse("1500u", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 2); /* rounded up */
    TD_CHECK_INT(td_grpc_timeout_parse("1n", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 1);
    TD_CHECK_INT(td_grpc_timeout_parse("0m", &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 0);
    TD_CHECK_INT(td_grpc_timeout_parse("99999999H", &ms), ==, TD_OK);
    TD_CHECK_INT(td_grpc_timeout_parse("123456789S", &ms), ==, TD_EINVAL); /* 9 digits */
    TD_CHECK_INT(td_grpc_timeout_parse("10", &ms), ==, TD_EINVAL);
    TD_CHECK_INT(td_grpc_timeout_parse("S", &ms), ==, TD_EINVAL);
    TD_CHECK_INT(td_grpc_timeout_parse("10x", &ms), ==, TD_EINVAL);
    TD_CHECK_INT(td_grpc_timeout_parse("10mm", &ms), ==, TD_EINVAL);
    TD_CHECK_INT(td_grpc_timeout_parse("-1S", &ms), ==, TD_EINVAL);
    TD_CHECK_INT(td_grpc_timeout_parse(NULL, &ms), ==, TD_EINVAL);
    td_grpc_timeout_format(1500, buf, sizeof(buf));
    TD_CHECK_STR(buf, "1500m");
    TD_CHECK_INT(td_grpc_timeout_parse(buf, &ms), ==, TD_OK);
    TD_CHECK_INT(ms, ==, 1500);
    td_grpc_timeout_format(99999999LL * 1000, buf, sizeof(buf));
    TD_CHECK_STR(buf, "99999999S"); /* 8 digits at most: seconds */
    td_grpc_timeout_format(1000LL * 100000000, buf, sizeof(buf));
    TD_CHECK_STR(buf, "27777H");
    TD_CHECK_INT(td_grpc_timeout_parse(buf, &ms), ==, TD_OK);
}

TD_TEST(net_wire_percent)
{
    td_arena_t a;
    td_arena_init(&a, 256);
    TD_CHECK_STR(td_grpc_percent_encode(&a, "ok plain"), "ok plain");
    TD_CHECK_STR(td_grpc_percent_encode(&a, "100%\n\xc3\xbc"), "100%25%0A%C3%BC");
    TD_CHECK_STR(td_grpc_percent_decode(&a, "100%25%0A%C3%BC"), "100%\n\xc3\xbc");
    TD_CHECK_STR(td_grpc_percent_decode(&a, "bad %zz and %4"), "bad %zz and %4");
    TD_CHECK_STR(td_grpc_percent_decode(&a, "%"), "%");
    td_arena_destroy(&a);
}

TD_TEST(net_wire_base64)
{
    td_arena_t a;
    uint8_t *out;
    size_t n;
    const char *cases[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *enc[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };

    td_arena_init(&a, 256);
    for (size_t i = 0; i < TD_ARRAY_LEN(cases); i++) {
        TD_CHECK_STR(td_base64_encode(&a, (const uint8_t *)cases[i], strlen(cases[i])), enc[i]);
        TD_CHECK_INT(td_base64_decode(&a, enc[i], strlen(enc[i]), &out, &n), ==, TD_OK);
        TD_CHECK_INT(n, ==, strlen(cases[i]));
        TD_CHECK(memcmp(out, cases[i], n) == 0);
    }
    TD_CHECK_INT(td_base64_decode(&a, "Zm9vYg==", 8, &out, &n), ==, TD_OK);
    TD_CHECK_INT(n, ==, 4);
    TD_CHECK_INT(td_base64_decode(&a, "Zm9v!", 5, &out, &n), ==, TD_EINVAL);
    TD_CHECK_INT(td_base64_decode(&a, "Z", 1, &out, &n), ==, TD_EINVAL);
    td_arena_destroy(&a);
}

TD_TEST(net_wire_gzip)
{
    td_arena_t a;
    uint8_t *gz, *plain;
    size_t gzn, pn;
    static uint8_t big[1 << 20];

    td_arena_init(&a, 4096);
    memset(big, 'x', sizeof(big));
    TD_CHECK_INT(td_grpc_gzip(&a, big, sizeof(big), &gz, &gzn), ==, TD_OK);
    TD_CHECK(gzn < 10000);
    TD_CHECK_INT(td_grpc_inflate(&a, TD_GRPC_ENC_GZIP, gz, gzn, sizeof(big), &plain, &pn), ==,
                 TD_OK);
    TD_CHECK_INT(pn, ==, sizeof(big));
    TD_CHECK(memcmp(plain, big, pn) == 0);
    /* a gzip bomb stops at the bound, before inflating the rest */
    TD_CHECK_INT(td_grpc_inflate(&a, TD_GRPC_ENC_GZIP, gz, gzn, 1000, &plain, &pn), ==, TD_ETOOBIG);
    /* truncated and corrupt input */
    TD_CHECK_INT(td_grpc_inflate(&a, TD_GRPC_ENC_GZIP, gz, gzn / 2, sizeof(big), &plain, &pn), ==,
                 TD_EPROTO);
    TD_CHECK_INT(td_grpc_inflate(&a, TD_GRPC_ENC_GZIP, (const uint8_t *)"garbage!", 8, sizeof(big),
                                 &plain, &pn),
                 ==, TD_EPROTO);
    TD_CHECK_INT(td_grpc_inflate(&a, TD_GRPC_ENC_DEFLATE, gz, gzn, sizeof(big), &plain, &pn), ==,
                 TD_EPROTO);
    {
        /* deflate = zlib format */
        uLongf zn = compressBound(sizeof(big));
        uint8_t *z = td_arena_alloc(&a, zn);
        TD_CHECK(compress(z, &zn, big, sizeof(big)) == Z_OK);
        TD_CHECK_INT(td_grpc_inflate(&a, TD_GRPC_ENC_DEFLATE, z, zn, sizeof(big), &plain, &pn), ==,
                     TD_OK);
        TD_CHECK_INT(pn, ==, sizeof(big));
    }
    TD_CHECK_INT(td_grpc_encoding(NULL), ==, TD_GRPC_ENC_IDENTITY);
    TD_CHECK_INT(td_grpc_encoding("gzip"), ==, TD_GRPC_ENC_GZIP);
    TD_CHECK_INT(td_grpc_encoding("deflate"), ==, TD_GRPC_ENC_DEFLATE);
    TD_CHECK_INT(td_grpc_encoding("snappy"), ==, TD_GRPC_ENC_UNKNOWN);
    td_arena_destroy(&a);
}

TD_TEST(net_wire_status_details)
{
    td_arena_t a;
    Temporal__Api__Errordetails__V1__NamespaceNotFoundFailure d =
            TEMPORAL__API__ERRORDETAILS__V1__NAMESPACE_NOT_FOUND_FAILURE__INIT;
    Google__Rpc__Status *st;
    Temporal__Api__Errordetails__V1__NamespaceNotFoundFailure *back;
    uint8_t *p;
    size_t n;

    td_arena_init(&a, 256);
    d.namespace_ = "ns1";
    td_grpc_status_pack(&a, 5, "Namespace ns1 is not found.", &d.base, &p, &n);
    st = google__rpc__status__unpack(td_arena_pb(&a), n, p);
    TD_CHECK(st != NULL);
    TD_CHECK_INT(st->code, ==, 5);
    TD_CHECK_STR(st->message, "Namespace ns1 is not found.");
    TD_CHECK_INT(st->n_details, ==, 1);
    TD_CHECK_STR(st->details[0]->type_url,
                 "type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure");
    back = temporal__api__errordetails__v1__namespace_not_found_failure__unpack(
            td_arena_pb(&a), st->details[0]->value.len, st->details[0]->value.data);
    TD_CHECK(back != NULL);
    TD_CHECK_STR(back->namespace_, "ns1");
    td_grpc_status_pack(&a, 13, NULL, NULL, &p, &n);
    st = google__rpc__status__unpack(td_arena_pb(&a), n, p);
    TD_CHECK(st != NULL && st->code == 13 && st->n_details == 0);
    TD_CHECK_STR(td_grpc_status_name(4), "DEADLINE_EXCEEDED");
    TD_CHECK_STR(td_grpc_status_name(99), "UNKNOWN");
    td_arena_destroy(&a);
}
