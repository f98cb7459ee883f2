/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lookups over TD_ERR_MAP. Pure functions; callable from any thread.
 */
#include "error.h"

#include <stddef.h>

typedef struct {
    const char *name;
    int grpc;
    const char *msg;
    const char *detail;
} td_err_info_t;

static const td_err_info_t td_err_table[] = {
#define TD__ERR_ROW(name, grpc, msg, detail) { #name, grpc, msg, detail },
    TD_ERR_MAP(TD__ERR_ROW)
#undef TD__ERR_ROW
};

static const td_err_info_t *td_err_info(int err)
{
    if (err <= TD__ERR_BASE || err >= TD__ERR_END) {
        return NULL;
    }
    return &td_err_table[err - TD__ERR_BASE - 1];
}

const char *td_strerror(int err)
{
    const td_err_info_t *e = td_err_info(err);
    if (err == TD_OK) {
        return "ok";
    }
    return e ? e->msg : "unknown error";
}

const char *td_err_name(int err)
{
    const td_err_info_t *e = td_err_info(err);
    if (err == TD_OK) {
        return "OK";
    }
    return e ? e->name : "EUNKNOWN";
}

int td_err_grpc_status(int err)
{
    const td_err_info_t *e = td_err_info(err);
    if (err == TD_OK) {
        return TD_GRPC_OK;
    }
    return e ? e->grpc : TD_GRPC_UNKNOWN;
}

const char *td_err_detail(int err)
{
    const td_err_info_t *e = td_err_info(err);
    return e ? e->detail : NULL;
}

const char *td_grpc_status_name(int code)
{
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0]))) {
        return "UNKNOWN";
    }
    return names[code];
}
