/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test runner: every registered test in a forked child with its own timeout (alarm), TAP
 * output on stdout, closing line "N passed, N failed[, N skipped]"; exit status 1 if any test
 * failed. Arguments select tests whose names contain any of them; -l lists the tests.
 */
#include "test.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TD_TEST_MAX         4096
#define TD_TEST_SKIP_STATUS 77

typedef struct {
    const char *name;
    td_test_fn fn;
    int timeout_s;
} td_test_t;

static td_test_t td_tests[TD_TEST_MAX];
static int td_ntests;

void td_test_register(const char *name, td_test_fn fn, int timeout_s)
{
    if (td_ntests < TD_TEST_MAX) {
        td_tests[td_ntests].name = name;
        td_tests[td_ntests].fn = fn;
        td_tests[td_ntests].timeout_s = timeout_s;
        td_ntests++;
    }
}

void td_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "# %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    _exit(1);
}

void td_test_skip(const char *reason)
{
    fprintf(stdout, "# skip: %s\n", reason);
    fflush(stdout);
    _exit(TD_TEST_SKIP_STATUS);
}

static int td_test_cmp(const void *a, const void *b)
{
    return strcmp(((const td_test_t *)a)->name, ((const td_test_t *)b)->name);
}

static int td_test_selected(const char *name, int argc, char **argv)
{
    if (argc <= 1) {
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-' && strstr(name, argv[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0, n = 0;
    double scale = getenv("TD_TEST_TIMEOUT_SCALE") ? atof(getenv("TD_TEST_TIMEOUT_SCALE")) : 1;

    qsort(td_tests, (size_t)td_ntests, sizeof(td_tests[0]), td_test_cmp);
    if (argc > 1 && strcmp(argv[1], "-l") == 0) {
        for (int i = 0; i < td_ntests; i++) {
            printf("%s\n", td_tests[i].name);
        }
        return 0;
    }
    for (int i = 0; i < td_ntests; i++) {
        n += td_test_selected(td_tests[i].name, argc, argv);
    }
    printf("1..%d\n", n);
    fflush(stdout);
    n = 0;
    for (int i = 0; i < td_ntests; i++) {
        const td_test_t *t = &td_tests[i];
        int status = 0;
        pid_t pid;

        if (!td_test_selected(t->name, argc, argv)) {
            continue;
        }
        n++;
        pid = fork();
        if (pid == 0) {
            alarm((unsigned)(t->timeout_s * (scale > 0 ? scale : 1)));
            t->fn();
            fflush(stdout);
            _exit(0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0) {
            printf("not ok %d - %s # cannot fork\n", n, t->name);
            failed++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok %d - %s\n", n, t->name);
            passed++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == TD_TEST_SKIP_STATUS) {
            printf("ok %d - %s # SKIP\n", n, t->name);
            skipped++;
        } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
            printf("not ok %d - %s # timeout after %d s\n", n, t->name, t->timeout_s);
            failed++;
        } else if (WIFSIGNALED(status)) {
            printf("not ok %d - %s # killed by signal %d\n", n, t->name, WTERMSIG(status));
            failed++;
        } else {
            printf("not ok %d - %s\n", n, t->name);
            failed++;
        }
        fflush(stdout);
    }
    if (skipped > 0) {
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    } else {
        printf("%d passed, %d failed\n", passed, failed);
    }
    return failed > 0 ? 1 : 0;
}
