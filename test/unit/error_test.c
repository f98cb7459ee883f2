/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error table and the arena.
 */
#include "test.h"

#include "arena.h"
#include "error.h"

TD_TEST(error_table)
{
    TD_CHECK_STR(td_strerror(TD_OK), "ok");
    TD_CHECK_STR(td_err_name(TD_ENOTFOUND), "ENOTFOUND");
    TD_CHECK_INT(td_err_grpc_status(TD_ENOTFOUND), ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_INT(td_err_grpc_status(TD_ESHARDLOST), ==, TD_GRPC_UNAVAILABLE);
    TD_CHECK_INT(td_err_grpc_status(TD_EUNIMPL), ==, TD_GRPC_UNIMPLEMENTED);
    TD_CHECK_STR(td_err_detail(TD_ENSNOTFOUND), "NamespaceNotFoundFailure");
    TD_CHECK(td_err_detail(TD_EINVAL) == NULL);
    TD_CHECK_STR(td_strerror(12345), "unknown error");
    TD_CHECK_INT(td_err_grpc_status(-1), ==, TD_GRPC_UNKNOWN);
}

TD_TEST(arena_alloc)
{
    td_arena_t a;
    char *big, *s;
    td_arena_init(&a, 256);
    for (int i = 0; i < 10000; i++) {
        unsigned char *p = td_arena_alloc(&a, (size_t)(i % 100) + 1);
        TD_CHECK(((uintptr_t)p & 15) == 0);
        p[0] = 1;
    }
    big = td_arena_alloc(&a, 5 << 20);
    big[(5 << 20) - 1] = 'x';
    s = td_arena_printf(&a, "%s-%d", "run", 42);
    TD_CHECK_STR(s, "run-42");
    TD_CHECK_STR(td_arena_strndup(&a, "abcdef", 3), "abc");
    td_arena_destroy(&a);
}
