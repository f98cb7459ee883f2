/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Web UI server of the frontend: temporald's own single-page application (src/ui/, compiled
 * into the binary by scripts/embed-ui.sh) on the UI port, with the HTTP API gateway
 * (fe_http.h) under /api/v1 on the same origin. Loop thread only.
 */
#ifndef TD_FE_UI_H
#define TD_FE_UI_H

#include <stddef.h>

#include "net/http1.h"

/* One embedded file. */
typedef struct {
    const char *path; /* "/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} td_ui_asset_t;

extern const td_ui_asset_t td_ui_assets[];
extern const int td_ui_assets_count;

/* The handler signature of net/http1.h, with ctx = the gateway (td_fe_http_t *): GET of an
 * asset (index.html for "/"), the API under /api/v1 (writes need the X-Td-Ui header, which
 * other sites cannot make a browser send without a preflight this server never grants). */
void td_fe_ui_serve(td_http_req_t *r, void *ctx);

#endif
