/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Web UI server (see fe_ui.h): embedded assets with a strict Content-Security-Policy (only
 * this origin's script and style; the page builds its DOM from text, never from HTML), and the
 * HTTP API under /api/v1 for the page's calls.
 */
#include "roles/frontend/fe_ui.h"

#include <string.h>

#include "error.h"
#include "roles/frontend/fe_http.h"

static const char td_ui_headers[] =
        "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Cache-Control: no-cache\r\n";

static const td_ui_asset_t *td_ui_find(const char *path)
{
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        path = "/index.html";
    }
    for (int i = 0; i < td_ui_assets_count; i++) {
        if (strcmp(td_ui_assets[i].path, path) == 0) {
            return &td_ui_assets[i];
        }
    }
    return NULL;
}

void td_fe_ui_serve(td_http_req_t *r, void *ctx)
{
    const char *path = td_http_path(r);
    const char *method = td_http_method(r);
    const td_ui_asset_t *a;

    if (strncmp(path, "/api/v1/", 8) == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
            td_http_header(r, "x-td-ui") == NULL) {
            td_fe_http_fail(r, TD_GRPC_PERMISSION_DENIED,
                            "writes through the Web UI's port need the X-Td-Ui header");
            return;
        }
        td_fe_http_handle_ui(ctx, r);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char m[] = "method not allowed\n";
        td_http_respond(r, 405, "text/plain", NULL, m, sizeof(m) - 1);
        return;
    }
    a = td_ui_find(path);
    if (a == NULL) {
        static const char nf[] = "not found\n";
        td_http_respond(r, 404, "text/plain", td_ui_headers, nf, sizeof(nf) - 1);
        return;
    }
    td_http_respond(r, 200, a->content_type, td_ui_headers, a->data, a->len);
}
