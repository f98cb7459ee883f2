/* SPDX-License-Identifier: Apache-2.0 */
/*
 * temporald's own gRPC client (td_rpc_client_*) against temporald's server, the same matrix
 * the grpc-js suite runs: unary with metadata, 3 MiB both ways, gzip requests, deadlines,
 * cancellation of a long poll, error details, UNIMPLEMENTED, 1,000 concurrent calls on one
 * connection, reconnect with backoff after a server restart, TLS and mTLS (certificates made
 * with openssl). It starts test/progs/grpc_testserver itself. Prints TAP lines and
 * "N passed, N failed". Usage: grpc_client_matrix path/to/grpc_testserver
 */
#define TD_LOG_COMPONENT "matrix"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "google/protobuf/any.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "log.h"
#include "mem.h"
#include "net/rpc.h"
#include "temporal/api/common/v1/message.pb-c.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"

typedef Temporal__Api__Common__V1__Payload td_payload_t;

static const char *server_bin;
static td_loop_t *loop;
static int n_pass, n_fail, n_test;
static char failmsg[512];

/* ---- a child test server ---- */

typedef struct {
    pid_t pid;
    int port;
} td_child_t;

static int td_child_start(td_child_t *ch, const char *const *extra, int port)
{
    int fds[2];
    char portarg[16], line[128];
    const char *argv[16];
    int n = 0;
    FILE *f;

    snprintf(portarg, sizeof(portarg), "%d", port);
    argv[n++] = server_bin;
    argv[n++] = "--port";
    argv[n++] = portarg;
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 14; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    if (pipe(fds) != 0) {
        return -1;
    }
    ch->pid = fork();
    if (ch->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(server_bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ch->port = -1;
    if (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        sscanf(line, "port %d", &ch->port);
    }
    if (f != NULL) {
        fclose(f);
    }
    return ch->port > 0 ? 0 : -1;
}

static void td_child_stop(td_child_t *ch)
{
    if (ch->pid > 0) {
        kill(ch->pid, SIGKILL);
        waitpid(ch->pid, NULL, 0);
        ch->pid = 0;
    }
}

/* ---- running calls to completion ---- */

typedef struct {
    int done;
    int status;
    char message[256];
    size_t data_len;
    char data[64];
    uint8_t first_byte;
    char md_enc[32];
    char detail_type[128];
    char detail_ns[64];
    int md_count;
    int counts[4];
} td_res_t;

static int pending_calls;

static void td_on_done(const td_rpc_result_t *r, void *arg)
{
    td_res_t *res = arg;
    res->done = 1;
    res->status = r->status;
    snprintf(res->message, sizeof(res->message), "%s", r->message ? r->message : "");
    if (r->resp != NULL) {
        const td_payload_t *p = (const void *)r->resp;
        res->data_len = p->data.len;
        snprintf(res->data, sizeof(res->data), "%.*s", (int)(p->data.len < 63 ? p->data.len : 63),
                 (const char *)p->data.data);
        res->first_byte = p->data.len > 100 ? p->data.data[100] : 0;
        res->md_count = (int)p->n_metadata;
        for (size_t i = 0; i < p->n_metadata; i++) {
            const char *k = p->metadata[i]->key;
            char v[32];
            snprintf(v, sizeof(v), "%.*s", (int)p->metadata[i]->value.len,
                     (const char *)p->metadata[i]->value.data);
            if (strcmp(k, "grpc-encoding") == 0) {
                snprintf(res->md_enc, sizeof(res->md_enc), "%s", v);
            } else if (strcmp(k, "cancels") == 0) {
                res->counts[0] = atoi(v);
            } else if (strcmp(k, "calls") == 0) {
                res->counts[1] = atoi(v);
            } else if (strcmp(k, "hanging") == 0) {
                res->counts[3] = atoi(v);
            }
        }
    }
    if (r->details != NULL) {
        const Google__Rpc__Status *st = (const void *)r->details;
        if (st->n_details > 0) {
            Temporal__Api__Errordetails__V1__NamespaceNotFoundFailure *d;
            snprintf(res->detail_type, sizeof(res->detail_type), "%s", st->details[0]->type_url);
            d = temporal__api__errordetails__v1__namespace_not_found_failure__unpack(
                    r->arena != NULL ? td_arena_pb(r->arena) : NULL, st->details[0]->value.len,
                    st->details[0]->value.data);
            if (d != NULL) {
                snprintf(res->detail_ns, sizeof(res->detail_ns), "%s", d->namespace_);
            }
        }
    }
    if (--pending_calls == 0) {
        td_loop_stop(loop);
    }
}

static void td_timeout_stop(void *arg)
{
    (void)arg;
    td_loop_stop(loop);
}

/* Runs the loop until every started call finished or ms passed. */
static void td_run(int64_t ms)
{
    td_timer_t *t = td_timer_new(loop, td_timeout_stop, NULL);
    td_timer_start(t, ms);
    if (pending_calls > 0) {
        td_loop_run(loop);
    }
    td_timer_free(t);
}

static void td_sleep_loop(int64_t ms)
{
    td_timer_t *t = td_timer_new(loop, td_timeout_stop, NULL);
    td_timer_start(t, ms);
    td_loop_run(loop);
    td_timer_free(t);
}

static td_rpc_ccall_t *td_start(td_rpc_client_t *cl, const char *method, const char *data,
                                size_t len, int64_t timeout_ms, const char *const *md,
                                td_res_t *res)
{
    td_payload_t p = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    td_rpc_call_opts_t o = { &temporal__api__common__v1__payload__descriptor, timeout_ms, md };
    char path[128];

    memset(res, 0, sizeof(*res));
    res->status = -1;
    p.data.data = (uint8_t *)data;
    p.data.len = len;
    snprintf(path, sizeof(path), "/temporald.test.Test/%s", method);
    pending_calls++;
    return td_rpc_client_call(cl, path, &p.base, &o, td_on_done, res);
}

static void td_call(td_rpc_client_t *cl, const char *method, const char *data, int64_t timeout_ms,
                    td_res_t *res)
{
    td_start(cl, method, data, data ? strlen(data) : 0, timeout_ms, NULL, res);
    td_run(10000);
}

/* ---- checks ---- */

static int td_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(failmsg, sizeof(failmsg), fmt, ap);
    va_end(ap);
    return 0;
}

#define CHECK(cond)                                         \
    do {                                                    \
        if (!(cond)) {                                      \
            return td_fail("line %d: %s", __LINE__, #cond); \
        }                                                   \
    } while (0)

static void td_report(const char *name, int ok)
{
    n_test++;
    if (ok) {
        n_pass++;
        printf("ok %d - %s\n", n_test, name);
    } else {
        n_fail++;
        printf("not ok %d - %s\n# %s\n", n_test, name, failmsg);
    }
    fflush(stdout);
}

/* ---- the matrix, run against one server ---- */

static int t_unary(td_rpc_client_t *cl)
{
    td_res_t r;
    const char *md[] = { "x-test", "v1", NULL };
    td_start(cl, "Echo", "hello", 5, 0, md, &r);
    td_run(5000);
    CHECK(r.done && r.status == 0);
    CHECK(strcmp(r.data, "hello") == 0);
    CHECK(td_rpc_client_connected(cl));
    return 1;
}

static int t_big(td_rpc_client_t *cl)
{
    td_res_t r;
    size_t n = 3u << 20;
    char *big = td_malloc(n);
    char num[32];
    memset(big, 'b', n);
    td_start(cl, "Echo", big, n, 0, NULL, &r);
    td_run(10000);
    td_free(big);
    CHECK(r.done && r.status == 0 && r.data_len == n);
    snprintf(num, sizeof(num), "%zu", n);
    td_call(cl, "Big", num, 0, &r);
    CHECK(r.status == 0 && r.data_len == n && r.first_byte == (uint8_t)(100 * 7));
    return 1;
}

static int t_deadline(td_rpc_client_t *cl)
{
    td_res_t r, st;
    int64_t t0 = td_now_mono_ms();
    td_call(cl, "Hang", NULL, 200, &r);
    CHECK(r.status == TD_GRPC_DEADLINE_EXCEEDED);
    CHECK(td_now_mono_ms() - t0 < 2000);
    for (int i = 0; i < 50; i++) {
        td_call(cl, "Stats", NULL, 0, &st);
        if (st.counts[3] == 0) {
            break;
        }
        td_sleep_loop(20);
    }
    CHECK(st.counts[3] == 0);
    return 1;
}

static int t_cancel(td_rpc_client_t *cl)
{
    td_res_t r, st;
    int before, i;
    td_rpc_ccall_t *h;
    td_call(cl, "Stats", NULL, 0, &st);
    before = st.counts[0];
    h = td_start(cl, "Hang", NULL, 0, 0, NULL, &r);
    for (i = 0; i < 100; i++) {
        td_sleep_loop(10);
        td_call(cl, "Stats", NULL, 0, &st);
        if (st.counts[3] == 1) {
            break;
        }
    }
    CHECK(st.counts[3] == 1);
    td_rpc_client_cancel(h);
    td_run(2000);
    CHECK(r.done && r.status == TD_GRPC_CANCELLED);
    for (i = 0; i < 50; i++) {
        td_call(cl, "Stats", NULL, 0, &st);
        if (st.counts[0] == before + 1 && st.counts[3] == 0) {
            break;
        }
        td_sleep_loop(10);
    }
    CHECK(st.counts[0] == before + 1 && st.counts[3] == 0);
    return 1;
}

static int t_details(td_rpc_client_t *cl)
{
    td_res_t r;
    td_call(cl, "Fail", "nope", 0, &r);
    CHECK(r.status == TD_GRPC_NOT_FOUND);
    CHECK(strstr(r.message, "Namespace nope is not found.") != NULL);
    CHECK(strstr(r.message, "\xc3\xbc"
                            "n\xc3\xaf"
                            "code%") != NULL);
    CHECK(strcmp(r.detail_type,
                 "type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure") == 0);
    CHECK(strcmp(r.detail_ns, "nope") == 0);
    td_call(cl, "NoSuchMethod", NULL, 0, &r);
    CHECK(r.status == TD_GRPC_UNIMPLEMENTED && strstr(r.message, "unknown method") != NULL);
    return 1;
}

static int t_concurrent(td_rpc_client_t *cl)
{
    static td_res_t rs[1000];
    td_res_t st;
    int ok = 0, i, live = 0;
    int64_t t0 = td_now_mono_ms();
    for (i = 0; i < 1000; i++) {
        td_start(cl, "Delay", "500", 3, 0, NULL, &rs[i]);
    }
    /* while they wait, the server holds all of them at once */
    {
        td_res_t *s = &st;
        td_start(cl, "Delay", "250", 3, 0, NULL, s); /* let the requests arrive */
        td_sleep_loop(250);
    }
    {
        td_rpc_client_t *probe = td_rpc_client_new(loop, "127.0.0.1", 0, NULL);
        td_rpc_client_free(probe); /* (a client that never connected frees cleanly) */
    }
    td_run(20000);
    for (i = 0; i < 1000; i++) {
        ok += rs[i].status == 0 && strcmp(rs[i].data, "done") == 0;
    }
    (void)live;
    CHECK(ok == 1000);
    CHECK(td_now_mono_ms() - t0 < 10000);
    return 1;
}

static int t_live_count(td_rpc_client_t *cl)
{
    static td_res_t rs[1000];
    td_res_t st;
    int i, ok = 0;
    for (i = 0; i < 1000; i++) {
        td_start(cl, "Delay", "1000", 4, 0, NULL, &rs[i]);
    }
    td_sleep_loop(300);
    td_start(cl, "Stats", NULL, 0, 0, NULL, &st);
    while (!st.done) {
        td_sleep_loop(10);
    }
    td_run(20000);
    for (i = 0; i < 1000; i++) {
        ok += rs[i].status == 0;
    }
    CHECK(st.counts[1] >= 1000);
    CHECK(ok == 1000);
    return 1;
}

static int t_gzip(int port, const td_rpc_client_opts_t *base)
{
    td_rpc_client_opts_t o = *base;
    td_rpc_client_t *cl;
    td_res_t r;
    size_t n = 1u << 20;
    char *text = td_malloc(n);
    int ok;
    memset(text, 't', n);
    o.gzip_requests = 1;
    cl = td_rpc_client_new(loop, "127.0.0.1", port, &o);
    td_start(cl, "Echo", text, n, 0, NULL, &r);
    td_run(10000);
    td_free(text);
    td_rpc_client_free(cl);
    ok = r.status == 0 && r.data_len == n && strcmp(r.md_enc, "gzip") == 0;
    CHECK(ok);
    return 1;
}

static void td_matrix(const char *label, int port, const td_rpc_client_opts_t *o)
{
    td_rpc_client_t *cl = td_rpc_client_new(loop, "127.0.0.1", port, o);
    char name[128];
#define RUN(fn, what)                                        \
    do {                                                     \
        snprintf(name, sizeof(name), "%s: %s", label, what); \
        td_report(name, cl != NULL && fn(cl));               \
    } while (0)
    if (cl == NULL) {
        snprintf(failmsg, sizeof(failmsg), "client creation failed");
    }
    RUN(t_unary, "unary call with metadata");
    RUN(t_big, "3 MiB messages both ways");
    RUN(t_deadline, "deadline: DEADLINE_EXCEEDED, handler released");
    RUN(t_cancel, "cancellation in the middle of a long poll");
    RUN(t_details, "error details and UNIMPLEMENTED");
    RUN(t_concurrent, "1,000 concurrent calls on one connection");
    RUN(t_live_count, "1,000 calls live at once on the server");
    snprintf(name, sizeof(name), "%s: gzip-compressed requests", label);
    td_report(name, t_gzip(port, o));
    td_rpc_client_free(cl);
}

static int t_reconnect(void)
{
    td_child_t ch;
    td_rpc_client_opts_t o;
    td_rpc_client_t *cl;
    td_res_t r;
    int port, i;

    CHECK(td_child_start(&ch, NULL, 0) == 0);
    port = ch.port;
    td_rpc_client_opts_init(&o);
    o.backoff_min_ms = 50;
    o.backoff_max_ms = 200;
    cl = td_rpc_client_new(loop, "127.0.0.1", port, &o);
    td_call(cl, "Echo", "one", 0, &r);
    CHECK(r.status == 0);
    td_child_stop(&ch);
    td_call(cl, "Echo", "two", 0, &r);
    CHECK(r.status == TD_GRPC_UNAVAILABLE);
    CHECK(td_child_start(&ch, NULL, port) == 0);
    for (i = 0; i < 40; i++) {
        td_call(cl, "Echo", "three", 0, &r);
        if (r.status == 0) {
            break;
        }
        td_sleep_loop(50);
    }
    td_child_stop(&ch);
    td_rpc_client_free(cl);
    CHECK(r.status == 0 && strcmp(r.data, "three") == 0);
    return 1;
}

static int td_sh(const char *dir, const char *cmd)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "cd %s && { %s; } >/dev/null 2>&1", dir, cmd);
    return system(buf);
}

static int t_tls(void)
{
    char dir[] = "/tmp/td-matrix-XXXXXX";
    char cert[256], key[256], ca[256], ccert[256], ckey[256], cmd[256];
    td_child_t ch = { 0, 0 }, mch = { 0, 0 };
    td_rpc_client_opts_t o;
    td_rpc_client_t *cl;
    td_res_t r;
    int ok = 1;

    CHECK(mkdtemp(dir) != NULL);
    CHECK(td_sh(dir, "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
                     "-days 2 -subj '/CN=matrix CA'") == 0);
    CHECK(td_sh(dir, "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
                     "-subj /CN=server && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' "
                     "> server.ext && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
                     "-CAcreateserial -out server.pem -days 2 -extfile server.ext") == 0);
    CHECK(td_sh(dir, "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
                     "-subj /CN=client && printf 'extendedKeyUsage=clientAuth\\n' > client.ext "
                     "&& openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
                     "-CAcreateserial -out client.pem -days 2 -extfile client.ext") == 0);
    snprintf(cert, sizeof(cert), "%s/server.pem", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(ccert, sizeof(ccert), "%s/client.pem", dir);
    snprintf(ckey, sizeof(ckey), "%s/client.key", dir);
    {
        const char *args[] = { "--cert", cert, "--key", key, NULL };
        CHECK(td_child_start(&ch, args, 0) == 0);
    }
    td_rpc_client_opts_init(&o);
    o.tls.enabled = 1;
    o.tls.ca_file = ca;
    td_matrix("TLS", ch.port, &o);
    td_child_stop(&ch);
    {
        const char *args[] = { "--cert", cert, "--key", key, "--ca", ca, "--require-client-cert",
                               NULL };
        CHECK(td_child_start(&mch, args, 0) == 0);
    }
    o.tls.cert_file = ccert;
    o.tls.key_file = ckey;
    cl = td_rpc_client_new(loop, "127.0.0.1", mch.port, &o);
    td_call(cl, "Echo", "mutual", 0, &r);
    ok = ok && r.status == 0 && strcmp(r.data, "mutual") == 0;
    td_rpc_client_free(cl);
    if (!ok) {
        snprintf(failmsg, sizeof(failmsg), "mTLS with a client certificate: status %d %s", r.status,
                 r.message);
    }
    o.tls.cert_file = NULL;
    o.tls.key_file = NULL;
    cl = td_rpc_client_new(loop, "127.0.0.1", mch.port, &o);
    td_call(cl, "Echo", "x", 3000, &r);
    td_rpc_client_free(cl);
    if (ok && r.status == 0) {
        ok = 0;
        snprintf(failmsg, sizeof(failmsg), "mTLS accepted a client without a certificate");
    }
    td_child_stop(&mch);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        /* leftover temp dir only */
    }
    CHECK(ok);
    return 1;
}

int main(int argc, char **argv)
{
    td_child_t ch;
    td_rpc_client_opts_t o;

    if (argc < 2) {
        fprintf(stderr, "usage: grpc_client_matrix path/to/grpc_testserver\n");
        return 2;
    }
    server_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    td_log_setup(TD_LOG_ERROR, TD_LOG_TEXT);
    loop = td_loop_new();
    if (td_child_start(&ch, NULL, 0) != 0) {
        printf("not ok 1 - start the test server\n0 passed, 1 failed\n");
        return 1;
    }
    td_rpc_client_opts_init(&o);
    td_matrix("h2c", ch.port, &o);
    td_child_stop(&ch);
    td_report("reconnect with backoff after a server restart", t_reconnect());
    td_report("mTLS: client certificate required and accepted", t_tls());
    td_loop_free(loop);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail == 0 ? 0 : 1;
}
