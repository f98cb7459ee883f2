/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connections, listeners and TLS contexts on libevent (see conn.h). A connection is one
 * bufferevent: a socket bufferevent for cleartext, an OpenSSL filter-less bufferevent for TLS;
 * everything above sees the same td_conn_ops_t callbacks either way. A second, fd-less event
 * ("kick") lets the owner run deferred work (flushes, frees) from the loop rather than from
 * inside a callback.
 */
#define TD_LOG_COMPONENT "net"

#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "error.h"
#include "log.h"
#include "mem.h"

struct td_tls_ctx_s {
    SSL_CTX *ctx;
    int server;
    int http1; /* server for HTTP/1.1: ALPN "http/1.1" when offered, none otherwise */
};

struct td_conn_s {
    struct bufferevent *bev;
    struct evbuffer *stage; /* written by td_conn_write, sent by td_conn_flush */
    struct event *kick;
    const td_conn_ops_t *ops;
    void *ud;
    int tls;
    int tls_http1; /* HTTP/1.1 over TLS: no ALPN h2 required */
    int dead;
    int connect_failed;
    int read_paused;
    char peer[64];
};

struct td_listener_s {
    struct evconnlistener *lis;
    td_accept_cb cb;
    void *ud;
    int port;
};

static void td_tls_log_errors(const char *what)
{
    unsigned long e;
    char buf[256];
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        td_log_error("%s: %s", what, buf);
    }
}

static int td_tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                              const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h2[] = "\x02h2";
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, h2, sizeof(h2) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

static int td_tls_alpn_select_h1(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                 const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h1[] = "\x08http/1.1";
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, h1, sizeof(h1) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

static td_tls_ctx_t *td_tls_ctx_new(const td_rpc_tls_t *t, int server, int http1)
{
    td_tls_ctx_t *r = NULL;
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

    if (ctx == NULL) {
        td_tls_log_errors("SSL_CTX_new");
        goto out;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (t->cert_file != NULL && t->key_file != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            td_tls_log_errors(t->cert_file);
            goto out;
        }
    } else if (server) {
        td_log_error("TLS server needs a certificate and a key");
        goto out;
    }
    if (t->ca_file != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1) {
            td_tls_log_errors(t->ca_file);
            goto out;
        }
    } else if (!server) {
        SSL_CTX_set_default_verify_paths(ctx);
    }
    if (server) {
        int mode = SSL_VERIFY_NONE;
        if (t->require_client_cert) {
            mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        } else if (t->ca_file != NULL) {
            mode = SSL_VERIFY_PEER;
        }
        SSL_CTX_set_verify(ctx, mode, NULL);
        SSL_CTX_set_alpn_select_cb(ctx, http1 ? td_tls_alpn_select_h1 : td_tls_alpn_select, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2", 3);
    }
    r = td_calloc(1, sizeof(*r));
    r->ctx = ctx;
    r->server = server;
    r->http1 = http1;
    ctx = NULL;
out:
    SSL_CTX_free(ctx);
    return r;
}

td_tls_ctx_t *td_tls_ctx_server(const td_rpc_tls_t *t)
{
    return td_tls_ctx_new(t, 1, 0);
}

td_tls_ctx_t *td_tls_ctx_server_http1(const td_rpc_tls_t *t)
{
    return td_tls_ctx_new(t, 1, 1);
}

td_tls_ctx_t *td_tls_ctx_client(const td_rpc_tls_t *t)
{
    return td_tls_ctx_new(t, 0, 0);
}

void td_tls_ctx_free(td_tls_ctx_t *ctx)
{
    if (ctx == NULL) {
        return;
    }
    SSL_CTX_free(ctx->ctx);
    td_free(ctx);
}

static void td_conn_on_read(struct bufferevent *bev, void *arg)
{
    td_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v;

    while (!c->dead && !c->read_paused && evbuffer_get_length(in) > 0) {
        long used;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) {
            break;
        }
        used = c->ops->on_read(c->ud, v.iov_base, v.iov_len);
        if (used < 0) {
            c->dead = 1;
            bufferevent_disable(bev, EV_READ | EV_WRITE);
            c->ops->on_close(c->ud, TD_EPROTO);
            return;
        }
        evbuffer_drain(in, (size_t)used);
        if ((size_t)used < v.iov_len) {
            break;
        }
    }
}

static void td_conn_on_write(struct bufferevent *bev, void *arg)
{
    td_conn_t *c = arg;
    (void)bev;
    /* Only a paused reader waits for the output to drain; otherwise nothing to do. */
    if (!c->dead && c->read_paused) {
        c->ops->on_kick(c->ud);
    }
}

static void td_conn_on_event(struct bufferevent *bev, short what, void *arg)
{
    td_conn_t *c = arg;

    if (c->dead) {
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        if (c->tls && !c->tls_http1) {
            const unsigned char *alpn = NULL;
            unsigned int alen = 0;
            SSL *ssl = bufferevent_openssl_get_ssl(bev);
            SSL_get0_alpn_selected(ssl, &alpn, &alen);
            if (alen != 2 || memcmp(alpn, "h2", 2) != 0) {
                td_log_warn("%s: TLS peer did not negotiate ALPN h2", c->peer);
                c->dead = 1;
                bufferevent_disable(bev, EV_READ | EV_WRITE);
                c->ops->on_close(c->ud, TD_EPROTO);
                return;
            }
        } else {
            int one = 1;
            setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (c->ops->on_connected != NULL) {
            c->ops->on_connected(c->ud);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        if (c->tls && (what & BEV_EVENT_ERROR)) {
            unsigned long e;
            char buf[256];
            while ((e = bufferevent_get_openssl_error(bev)) != 0) {
                ERR_error_string_n(e, buf, sizeof(buf));
                td_log_debug("%s: TLS: %s", c->peer, buf);
            }
        }
        c->dead = 1;
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        c->ops->on_close(c->ud, (what & BEV_EVENT_EOF) ? TD_ECLOSED : TD_EIO);
    }
}

static void td_conn_on_kick(evutil_socket_t fd, short what, void *arg)
{
    td_conn_t *c = arg;
    (void)fd;
    (void)what;
    if (c->connect_failed) {
        c->connect_failed = 0;
        c->dead = 1;
        c->ops->on_close(c->ud, TD_EIO);
        return;
    }
    c->ops->on_kick(c->ud);
}

static td_conn_t *td_conn_wrap(td_loop_t *loop, int fd, td_tls_ctx_t *tls, int connecting,
                               const char *server_name, const td_conn_ops_t *ops, void *ud)
{
    struct event_base *base = td_loop_base(loop);
    td_conn_t *c = td_calloc(1, sizeof(*c));

    c->ops = ops;
    c->ud = ud;
    if (tls != NULL) {
        SSL *ssl = SSL_new(tls->ctx);
        if (!tls->server && server_name != NULL) {
            struct in6_addr a6;
            struct in_addr a4;
            if (inet_pton(AF_INET, server_name, &a4) == 1 ||
                inet_pton(AF_INET6, server_name, &a6) == 1) {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name);
            } else {
                SSL_set_tlsext_host_name(ssl, server_name);
                SSL_set1_host(ssl, server_name);
            }
        }
        c->tls = 1;
        c->tls_http1 = tls->http1;
        c->bev = bufferevent_openssl_socket_new(
                base, fd, ssl, connecting ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
                BEV_OPT_CLOSE_ON_FREE);
        if (c->bev != NULL) {
            bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        }
    } else {
        c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (c->bev == NULL) {
        td_log_error("cannot create a bufferevent");
        if (fd >= 0) {
            close(fd);
        }
        td_free(c);
        return NULL;
    }
    c->kick = event_new(base, -1, 0, td_conn_on_kick, c);
    c->stage = evbuffer_new();
    bufferevent_setcb(c->bev, td_conn_on_read, td_conn_on_write, td_conn_on_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, 16 * 1024, 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return c;
}

static void td_conn_set_peer(td_conn_t *c, int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
            port = ntohs(s4->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
            port = ntohs(s6->sin6_port);
        }
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
}

td_conn_t *td_conn_accept(td_loop_t *loop, int fd, td_tls_ctx_t *tls, const td_conn_ops_t *ops,
                          void *ud)
{
    td_conn_t *c;
    int one = 1;

    evutil_make_socket_nonblocking(fd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = td_conn_wrap(loop, fd, tls, 0, NULL, ops, ud);
    if (c != NULL) {
        td_conn_set_peer(c, fd);
    }
    return c;
}

td_conn_t *td_conn_connect(td_loop_t *loop, const char *host, int port, td_tls_ctx_t *tls,
                           const char *server_name, const td_conn_ops_t *ops, void *ud)
{
    td_conn_t *c =
            td_conn_wrap(loop, -1, tls, 1, server_name != NULL ? server_name : host, ops, ud);
    if (c == NULL) {
        return NULL;
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
    if (bufferevent_socket_connect_hostname(c->bev, NULL, AF_UNSPEC, host, port) != 0) {
        /* Reported from the loop by td_conn_on_kick, never synchronously. */
        td_log_debug("connect to %s failed at once", c->peer);
        c->connect_failed = 1;
        td_conn_kick(c);
    }
    return c;
}

void td_conn_write(td_conn_t *c, const uint8_t *p, size_t n)
{
    if (!c->dead) {
        evbuffer_add(c->stage, p, n);
    }
}

void td_conn_flush(td_conn_t *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (c->dead || evbuffer_get_length(c->stage) == 0) {
        return;
    }
    /* Cleartext with nothing queued: one writev now instead of waiting a loop turn for
     * EV_WRITE; whatever the socket does not take goes to the bufferevent as usual. */
    if (!c->tls && evbuffer_get_length(out) == 0) {
        int fd = bufferevent_getfd(c->bev);
        while (evbuffer_get_length(c->stage) > 0) {
            int n = evbuffer_write(c->stage, fd);
            if (n <= 0) {
                break;
            }
        }
    }
    if (evbuffer_get_length(c->stage) > 0) {
        evbuffer_add_buffer(out, c->stage);
    }
}

size_t td_conn_out_pending(const td_conn_t *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev)) + evbuffer_get_length(c->stage);
}

void td_conn_set_low_water(td_conn_t *c, size_t low)
{
    bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
}

void td_conn_pause_read(td_conn_t *c, int pause)
{
    if (c->dead || c->read_paused == (pause != 0)) {
        return;
    }
    c->read_paused = pause != 0;
    if (pause) {
        bufferevent_disable(c->bev, EV_READ);
    } else {
        bufferevent_enable(c->bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
            /* Bytes left unconsumed when reading paused: offer them again from the loop. */
            bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
        }
    }
}

void td_conn_kick(td_conn_t *c)
{
    event_active(c->kick, EV_TIMEOUT, 0);
}

const char *td_conn_peer(const td_conn_t *c)
{
    return c->peer;
}

int td_conn_is_tls(const td_conn_t *c)
{
    return c->tls;
}

void td_conn_free(td_conn_t *c)
{
    if (c == NULL) {
        return;
    }
    event_free(c->kick);
    evbuffer_free(c->stage);
    if (c->tls) {
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        if (ssl != NULL && !c->dead) {
            SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);
            SSL_shutdown(ssl);
        }
    }
    bufferevent_free(c->bev);
    td_free(c);
}

static void td_listener_on_accept(struct evconnlistener *lis, evutil_socket_t fd,
                                  struct sockaddr *sa, int salen, void *arg)
{
    td_listener_t *l = arg;
    (void)lis;
    (void)sa;
    (void)salen;
    l->cb(l->ud, fd);
}

td_listener_t *td_listener_new(td_loop_t *loop, const char *ip, int port, td_accept_cb cb, void *ud,
                               char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    char addr[128];
    td_listener_t *l;

    memset(&ss, 0, sizeof(ss));
    snprintf(addr, sizeof(addr), strchr(ip, ':') != NULL ? "[%s]:%d" : "%s:%d", ip, port);
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        snprintf(err, errlen, "bad listen address %s (an IPv4 or IPv6 address, or localhost)",
                 addr);
        return NULL;
    }
    l = td_calloc(1, sizeof(*l));
    l->cb = cb;
    l->ud = ud;
    l->lis = evconnlistener_new_bind(td_loop_base(loop), td_listener_on_accept, l,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                     (struct sockaddr *)&ss, sl);
    if (l->lis == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        td_free(l);
        return NULL;
    }
    sl = sizeof(ss);
    getsockname(evconnlistener_get_fd(l->lis), (struct sockaddr *)&ss, (socklen_t *)&sl);
    l->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return l;
}

int td_listener_port(const td_listener_t *l)
{
    return l->port;
}

void td_listener_free(td_listener_t *l)
{
    if (l == NULL) {
        return;
    }
    evconnlistener_free(l->lis);
    td_free(l);
}
