/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 server connections (see http1.h). Bytes from conn.c collect in the connection's
 * input buffer; the parser takes one request at a time out of it.
 *
 * Design notes: a connection
 *
 * Invariants:
 *   - At most one request is with a handler (cur); while it is, reading is paused and
 *     later bytes wait in the kernel or the input buffer (pipelining is served in order).
 *   - A request outlives its connection only while its handler holds it: on connection
 *     loss the request is detached (hc = NULL), told through on_gone, and freed when the
 *     handler answers it.
 *   - The input buffer never holds more than max_header bytes of an unfinished head, nor
 *     more than max_body bytes of a body: a larger body is counted and dropped (DISCARD).
 *   - The connection is freed only from on_kick (conn.c's rule), after its answer left when
 *     it must close.
 *
 *   HEAD --head parsed--> BODY --Content-Length bytes--> HANDLER --respond--> HEAD
 *     |                    '--over max_body--> DISCARD --all bytes--> HANDLER (TOO_LARGE)
 *     |--chunked body--> HANDLER (LENGTH_NEEDED) --respond--> CLOSING
 *     '--bad head / head too large--> CLOSING (plain 400 / 431)     CLOSING --drained--> FREED
 *
 *   FROM     -> TO        [function]
 *   HEAD     -> BODY      [h1_parse_head]
 *   BODY     -> HANDLER   [h1_take_body -> h1_dispatch]
 *   DISCARD  -> HANDLER   [h1_take_body -> h1_dispatch]
 *   HANDLER  -> HEAD      [td_http_respond -> h1_resume]
 *   HANDLER  -> CLOSING   [td_http_respond (close_after)]
 *   any      -> FREED     [h1_on_kick when dead or drained]
 */
#define TD_LOG_COMPONENT "http"

#include "net/http1.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "net/conn.h"

enum { H1_HEAD, H1_BODY, H1_DISCARD, H1_HANDLER, H1_CLOSING };

#define H1_MAX_HEADERS 100

typedef struct h1conn_s h1conn_t;

struct td_http_server_s {
    td_loop_t *loop;
    td_http_opts_t opts;
    td_tls_ctx_t *tls;
    td_listener_t *lis;
    int port;
    td_http_handler_fn fn;
    void *ctx;
    h1conn_t *conns;
};

struct td_http_req_s {
    h1conn_t *hc; /* NULL once the connection is gone */
    char *head;   /* owned copy of the head, parsed in place */
    const char *method, *path, *query;
    const char *hname[H1_MAX_HEADERS], *hval[H1_MAX_HEADERS];
    int nh;
    char *body;
    size_t body_len;
    int state;
    td_loop_fn gone_fn;
    void *gone_arg;
    char peer[64];
};

struct h1conn_s {
    h1conn_t *prev, *next;
    td_http_server_t *srv;
    td_conn_t *conn;
    int st;
    char *in;
    size_t in_len, in_cap;
    td_http_req_t *cur; /* being parsed (BODY, DISCARD) or with the handler */
    size_t body_need;   /* bytes of body still to come */
    int close_after;    /* Connection: close, HTTP/1.0, or an unread body */
    int dead;
};

void td_http_opts_init(td_http_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->max_body = 4u << 20;
    o->max_header = 64u << 10;
}

static void h1_req_free(td_http_req_t *r)
{
    if (r != NULL) {
        td_free(r->head);
        td_free(r->body);
        td_free(r);
    }
}

static void h1_conn_free(h1conn_t *hc)
{
    td_http_server_t *s = hc->srv;
    if (hc->cur != NULL) {
        if (hc->st == H1_HANDLER) {
            td_http_req_t *r = hc->cur;
            r->hc = NULL;
            if (r->gone_fn != NULL) {
                td_loop_fn fn = r->gone_fn;
                r->gone_fn = NULL;
                fn(r->gone_arg);
            }
        } else {
            h1_req_free(hc->cur);
        }
        hc->cur = NULL;
    }
    if (hc->prev != NULL) {
        hc->prev->next = hc->next;
    } else if (s != NULL) {
        s->conns = hc->next;
    }
    if (hc->next != NULL) {
        hc->next->prev = hc->prev;
    }
    td_conn_free(hc->conn);
    td_free(hc->in);
    td_free(hc);
}

static void h1_plain(h1conn_t *hc, int status, const char *reason)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, reason, strlen(reason) + 1, reason);
    td_conn_write(hc->conn, (const uint8_t *)buf, (size_t)n);
    td_conn_flush(hc->conn);
    hc->st = H1_CLOSING;
    td_conn_pause_read(hc->conn, 1);
    td_conn_kick(hc->conn);
}

static void h1_consume(h1conn_t *hc, size_t n)
{
    memmove(hc->in, hc->in + n, hc->in_len - n);
    hc->in_len -= n;
}

static void h1_dispatch(h1conn_t *hc)
{
    td_http_req_t *r = hc->cur;
    hc->st = H1_HANDLER;
    td_conn_pause_read(hc->conn, 1);
    hc->srv->fn(r, hc->srv->ctx);
}

static char *h1_trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
        *--e = '\0';
    }
    return s;
}

/* Parses the head (len bytes ending in CRLFCRLF). 0, or -1 for a malformed head. */
static int h1_parse_head(h1conn_t *hc, size_t len)
{
    td_http_req_t *r = td_calloc(1, sizeof(*r));
    char *p, *line, *sp1, *sp2, *q;
    const char *cl = NULL, *te = NULL, *conn = NULL;
    int http10;

    r->head = td_malloc(len + 1);
    memcpy(r->head, hc->in, len);
    r->head[len] = '\0';
    r->hc = hc;
    snprintf(r->peer, sizeof(r->peer), "%s", td_conn_peer(hc->conn));
    hc->cur = r;
    p = r->head;
    line = strsep(&p, "\n");
    line[strcspn(line, "\r")] = '\0';
    sp1 = strchr(line, ' ');
    sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp1[1] != '/') {
        return -1;
    }
    *sp1 = *sp2 = '\0';
    http10 = strcmp(sp2 + 1, "HTTP/1.0") == 0;
    r->method = line;
    r->path = sp1 + 1;
    q = strchr(sp1 + 1, '?');
    if (q != NULL) {
        *q = '\0';
        r->query = q + 1;
    } else {
        r->query = "";
    }
    while (p != NULL && *p != '\0') {
        char *colon;
        line = strsep(&p, "\n");
        line[strcspn(line, "\r")] = '\0';
        if (*line == '\0') {
            break;
        }
        colon = strchr(line, ':');
        if (colon == NULL || colon == line || r->nh == H1_MAX_HEADERS) {
            return -1;
        }
        *colon = '\0';
        for (char *c = line; *c != '\0'; c++) {
            if (*c == ' ' || *c == '\t') {
                return -1;
            }
            *c = (char)tolower((unsigned char)*c);
        }
        r->hname[r->nh] = line;
        r->hval[r->nh] = h1_trim(colon + 1);
        r->nh++;
    }
    cl = td_http_header(r, "content-length");
    te = td_http_header(r, "transfer-encoding");
    conn = td_http_header(r, "connection");
    hc->close_after = (conn != NULL && strcasecmp(conn, "close") == 0) ||
                      (http10 && (conn == NULL || strcasecmp(conn, "keep-alive") != 0));
    hc->body_need = 0;
    if (te != NULL && strcasecmp(te, "identity") != 0) {
        r->state = TD_HTTP_REQ_LENGTH_NEEDED;
        hc->close_after = 1;
    } else if (cl != NULL) {
        char *end;
        unsigned long long v;
        if (!isdigit((unsigned char)cl[0])) {
            return -1;
        }
        v = strtoull(cl, &end, 10);
        if (*end != '\0' || v > (1ull << 40)) {
            return -1;
        }
        hc->body_need = (size_t)v;
        if (hc->body_need > hc->srv->opts.max_body) {
            r->state = TD_HTTP_REQ_TOO_LARGE;
        } else {
            r->body = td_malloc(hc->body_need + 1);
            r->body[0] = '\0';
        }
    }
    h1_consume(hc, len);
    hc->st = r->state == TD_HTTP_REQ_TOO_LARGE ? H1_DISCARD : H1_BODY;
    return 0;
}

/* Moves body bytes from the input buffer into the request (or drops them). */
static void h1_take_body(h1conn_t *hc)
{
    td_http_req_t *r = hc->cur;
    size_t n = hc->in_len < hc->body_need ? hc->in_len : hc->body_need;
    if (hc->st == H1_BODY && n > 0) {
        memcpy(r->body + r->body_len, hc->in, n);
        r->body_len += n;
        r->body[r->body_len] = '\0';
    }
    h1_consume(hc, n);
    hc->body_need -= n;
    if (hc->body_need == 0) {
        h1_dispatch(hc);
    }
}

/* Parses as many requests as the buffer holds, until one goes to a handler. */
static void h1_process(h1conn_t *hc)
{
    while (!hc->dead && (hc->st == H1_HEAD || hc->st == H1_BODY || hc->st == H1_DISCARD)) {
        if (hc->st == H1_HEAD) {
            char *end;
            size_t skip = 0;
            /* tolerate blank lines between requests */
            while (skip < hc->in_len && (hc->in[skip] == '\r' || hc->in[skip] == '\n')) {
                skip++;
            }
            if (skip > 0) {
                h1_consume(hc, skip);
            }
            end = hc->in_len >= 4 ? memmem(hc->in, hc->in_len, "\r\n\r\n", 4) : NULL;
            if (end == NULL) {
                if (hc->in_len > hc->srv->opts.max_header) {
                    h1_plain(hc, 431, "Request Header Fields Too Large");
                }
                return;
            }
            if ((size_t)(end - hc->in) + 4 > hc->srv->opts.max_header) {
                h1_plain(hc, 431, "Request Header Fields Too Large");
                return;
            }
            if (h1_parse_head(hc, (size_t)(end - hc->in) + 4) != 0) {
                h1_req_free(hc->cur);
                hc->cur = NULL;
                h1_plain(hc, 400, "Bad Request");
                return;
            }
            if (hc->cur->state == TD_HTTP_REQ_LENGTH_NEEDED) {
                h1_dispatch(hc);
                return;
            }
            continue;
        }
        if (hc->body_need > 0 && hc->in_len == 0) {
            return;
        }
        h1_take_body(hc);
    }
}

static long h1_on_read(void *ud, const uint8_t *p, size_t n)
{
    h1conn_t *hc = ud;
    size_t room;
    if (hc->st == H1_HANDLER || hc->st == H1_CLOSING) {
        return 0; /* later: reading resumes after the answer */
    }
    if (hc->st == H1_DISCARD) {
        size_t k = n < hc->body_need ? n : hc->body_need;
        hc->body_need -= k;
        if (hc->body_need == 0) {
            h1_dispatch(hc);
        }
        return (long)k;
    }
    /* bound the buffer: a head or a body we accept, plus what belongs to the next request */
    room = hc->srv->opts.max_header + hc->srv->opts.max_body + 1;
    if (hc->in_len + n > room) {
        n = room > hc->in_len ? room - hc->in_len : 0;
        if (n == 0) {
            return TD_ELIMIT;
        }
    }
    if (hc->in_len + n > hc->in_cap) {
        hc->in_cap = (hc->in_len + n) * 2;
        hc->in = td_realloc(hc->in, hc->in_cap);
    }
    memcpy(hc->in + hc->in_len, p, n);
    hc->in_len += n;
    h1_process(hc);
    return (long)n;
}

static void h1_on_kick(void *ud)
{
    h1conn_t *hc = ud;
    if (hc->dead || (hc->st == H1_CLOSING && td_conn_out_pending(hc->conn) == 0)) {
        h1_conn_free(hc);
        return;
    }
    if (hc->st == H1_HEAD && hc->in_len > 0) {
        h1_process(hc);
    }
}

static void h1_on_close(void *ud, int err)
{
    h1conn_t *hc = ud;
    (void)err;
    hc->dead = 1;
    if (hc->cur != NULL && hc->st == H1_HANDLER) {
        td_http_req_t *r = hc->cur;
        r->hc = NULL;
        hc->cur = NULL;
        if (r->gone_fn != NULL) {
            td_loop_fn fn = r->gone_fn;
            r->gone_fn = NULL;
            fn(r->gone_arg);
        }
    }
    td_conn_kick(hc->conn);
}

static const td_conn_ops_t h1_conn_ops = {
    h1_on_read,
    h1_on_kick,
    NULL,
    h1_on_close,
};

static void h1_on_accept(void *ud, int fd)
{
    td_http_server_t *s = ud;
    h1conn_t *hc = td_calloc(1, sizeof(*hc));
    hc->srv = s;
    hc->conn = td_conn_accept(s->loop, fd, s->tls, &h1_conn_ops, hc);
    if (hc->conn == NULL) {
        td_free(hc);
        return;
    }
    td_conn_set_low_water(hc->conn, 0);
    hc->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = hc;
    }
    s->conns = hc;
}

td_http_server_t *td_http_server_new(td_loop_t *loop, const td_http_opts_t *o,
                                     td_http_handler_fn fn, void *ctx)
{
    td_http_server_t *s = td_calloc(1, sizeof(*s));
    s->loop = loop;
    if (o != NULL) {
        s->opts = *o;
    } else {
        td_http_opts_init(&s->opts);
    }
    s->fn = fn;
    s->ctx = ctx;
    s->port = -1;
    if (s->opts.tls.cert_file != NULL) {
        s->tls = td_tls_ctx_server_http1(&s->opts.tls);
        if (s->tls == NULL) {
            td_free(s);
            return NULL;
        }
    }
    return s;
}

int td_http_server_listen(td_http_server_t *s, const char *ip, int port, char *err, size_t errlen)
{
    s->lis = td_listener_new(s->loop, ip, port, h1_on_accept, s, err, errlen);
    if (s->lis == NULL) {
        return TD_EIO;
    }
    s->port = td_listener_port(s->lis);
    return TD_OK;
}

int td_http_server_port(const td_http_server_t *s)
{
    return s->port;
}

void td_http_server_free(td_http_server_t *s)
{
    if (s == NULL) {
        return;
    }
    if (s->lis != NULL) {
        td_listener_free(s->lis);
    }
    while (s->conns != NULL) {
        h1conn_t *hc = s->conns;
        hc->dead = 1;
        h1_conn_free(hc);
    }
    td_tls_ctx_free(s->tls);
    td_free(s);
}

/* ---- requests ---- */

const char *td_http_method(const td_http_req_t *r)
{
    return r->method;
}

const char *td_http_path(const td_http_req_t *r)
{
    return r->path;
}

const char *td_http_query(const td_http_req_t *r)
{
    return r->query;
}

const char *td_http_header(const td_http_req_t *r, const char *lowercase_name)
{
    for (int i = r->nh - 1; i >= 0; i--) {
        if (strcmp(r->hname[i], lowercase_name) == 0) {
            return r->hval[i];
        }
    }
    return NULL;
}

const char *td_http_body(const td_http_req_t *r, size_t *len)
{
    *len = r->body_len;
    return r->body != NULL ? r->body : "";
}

int td_http_req_state(const td_http_req_t *r)
{
    return r->state;
}

const char *td_http_peer(const td_http_req_t *r)
{
    return r->peer;
}

int td_http_gone(const td_http_req_t *r)
{
    return r->hc == NULL;
}

void td_http_on_gone(td_http_req_t *r, td_loop_fn fn, void *arg)
{
    r->gone_fn = fn;
    r->gone_arg = arg;
}

static const char *h1_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

void td_http_respond(td_http_req_t *r, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t len)
{
    h1conn_t *hc = r->hc;
    char head[1024];
    int n;
    if (hc == NULL || hc->dead) {
        h1_req_free(r);
        return;
    }
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", status,
                 h1_reason(status), content_type != NULL ? content_type : "text/plain", len,
                 hc->close_after ? "Connection: close\r\n" : "",
                 extra_headers != NULL ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof(head)) {
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 500 Internal Server Error\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
        len = 0;
        hc->close_after = 1;
    }
    td_conn_write(hc->conn, (const uint8_t *)head, (size_t)n);
    if (len > 0 && strcmp(r->method, "HEAD") != 0) {
        td_conn_write(hc->conn, body, len);
    }
    td_conn_flush(hc->conn);
    hc->cur = NULL;
    h1_req_free(r);
    if (hc->close_after) {
        hc->st = H1_CLOSING;
        td_conn_kick(hc->conn);
        return;
    }
    hc->st = H1_HEAD;
    td_conn_pause_read(hc->conn, 0);
    if (hc->in_len > 0) {
        td_conn_kick(hc->conn);
    }
}

/* ---- query strings ---- */

static int h1_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long td_http_unescape(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? h1_hex((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? h1_hex((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return -1;
            }
            c = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= outlen) {
            return -1;
        }
        out[o++] = (char)c;
    }
    if (outlen > 0) {
        out[o] = '\0';
    }
    return (long)o;
}

const char *td_http_query_next(const char *q, char *key, size_t keylen, char *val, size_t vallen)
{
    size_t len, klen;
    const char *eq;
    while (*q == '&') {
        q++;
    }
    if (*q == '\0') {
        return NULL;
    }
    len = strcspn(q, "&");
    eq = memchr(q, '=', len);
    klen = eq != NULL ? (size_t)(eq - q) : len;
    /* '+' is a space in form-encoded query strings */
    {
        char tmp[4096];
        size_t vl = eq != NULL ? len - klen - 1 : 0;
        size_t i;
        if (klen >= sizeof(tmp) || vl >= sizeof(tmp)) {
            key[0] = '\0';
            val[0] = '\0';
            return q + len;
        }
        memcpy(tmp, q, klen);
        for (i = 0; i < klen; i++) {
            tmp[i] = tmp[i] == '+' ? ' ' : tmp[i];
        }
        if (td_http_unescape(tmp, klen, key, keylen) < 0) {
            key[0] = '\0';
        }
        if (eq != NULL) {
            memcpy(tmp, eq + 1, vl);
            for (i = 0; i < vl; i++) {
                tmp[i] = tmp[i] == '+' ? ' ' : tmp[i];
            }
            if (td_http_unescape(tmp, vl, val, vallen) < 0) {
                val[0] = '\0';
                key[0] = '\0';
            }
        } else {
            val[0] = '\0';
        }
    }
    return q + len;
}
