/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C test harness. A test is declared with TD_TEST(name) { ... } in any file linked into
 * a test binary; it registers itself at load time. The runner (test/runner.c) runs each test
 * in a forked child with a timeout, prints TAP lines and closes with "N passed, N failed".
 * A failed check prints file:line and the expression, then ends the child with status 1.
 */
#ifndef TD_TEST_H
#define TD_TEST_H

#include <stdint.h>
#include <string.h>

typedef void (*td_test_fn)(void);

void td_test_register(const char *name, td_test_fn fn, int timeout_s);
void td_test_fail(const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4), noreturn));
/* Marks the running test skipped (with a reason) and ends it. */
void td_test_skip(const char *reason) __attribute__((noreturn));

#define TD_TEST_T(name, timeout_s)                                    \
    static void td_test_##name(void);                                 \
    __attribute__((constructor)) static void td_test_reg_##name(void) \
    {                                                                 \
        td_test_register(#name, td_test_##name, timeout_s);           \
    }                                                                 \
    static void td_test_##name(void)

#define TD_TEST(name) TD_TEST_T(name, 30)

#define TD_CHECK(cond)                                                   \
    do {                                                                 \
        if (!(cond)) {                                                   \
            td_test_fail(__FILE__, __LINE__, "check failed: %s", #cond); \
        }                                                                \
    } while (0)

#define TD_CHECK_INT(a, op, b)                                                                     \
    do {                                                                                           \
        long long td__a = (long long)(a), td__b = (long long)(b);                                  \
        if (!(td__a op td__b)) {                                                                   \
            td_test_fail(__FILE__, __LINE__, "check failed: %s %s %s (%lld vs %lld)", #a, #op, #b, \
                         td__a, td__b);                                                            \
        }                                                                                          \
    } while (0)

#define TD_CHECK_STR(a, b)                                                                        \
    do {                                                                                          \
        const char *td__a = (a), *td__b = (b);                                                    \
        if (td__a == NULL || td__b == NULL || strcmp(td__a, td__b) != 0) {                        \
            td_test_fail(__FILE__, __LINE__, "check failed: %s == %s (\"%s\" vs \"%s\")", #a, #b, \
                         td__a ? td__a : "(null)", td__b ? td__b : "(null)");                     \
        }                                                                                         \
    } while (0)

/* Checks that haystack contains needle. */
#define TD_CHECK_CONTAINS(haystack, needle)                                          \
    do {                                                                             \
        const char *td__h = (haystack), *td__n = (needle);                           \
        if (td__h == NULL || strstr(td__h, td__n) == NULL) {                         \
            td_test_fail(__FILE__, __LINE__, "check failed: \"%s\" contains \"%s\"", \
                         td__h ? td__h : "(null)", td__n);                           \
        }                                                                            \
    } while (0)

#endif
