/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one error table of temporald. Every function that can fail returns TD_OK (0) or a
 * negative TD_E* code; the table gives each code its message, the gRPC status it becomes at
 * the API boundary, and the Temporal error-detail message the frontend attaches (or NULL).
 * Library errors are translated where the library is called, keeping the library's text in
 * the caller's message buffer.
 */
#ifndef TD_ERROR_H
#define TD_ERROR_H

/* gRPC status codes (grpc/status.h numbering). */
enum {
    TD_GRPC_OK = 0,
    TD_GRPC_CANCELLED = 1,
    TD_GRPC_UNKNOWN = 2,
    TD_GRPC_INVALID_ARGUMENT = 3,
    TD_GRPC_DEADLINE_EXCEEDED = 4,
    TD_GRPC_NOT_FOUND = 5,
    TD_GRPC_ALREADY_EXISTS = 6,
    TD_GRPC_PERMISSION_DENIED = 7,
    TD_GRPC_RESOURCE_EXHAUSTED = 8,
    TD_GRPC_FAILED_PRECONDITION = 9,
    TD_GRPC_ABORTED = 10,
    TD_GRPC_OUT_OF_RANGE = 11,
    TD_GRPC_UNIMPLEMENTED = 12,
    TD_GRPC_INTERNAL = 13,
    TD_GRPC_UNAVAILABLE = 14,
    TD_GRPC_DATA_LOSS = 15,
    TD_GRPC_UNAUTHENTICATED = 16,
};

/* XX(NAME, gRPC status, message, Temporal errordetails message or NULL) */
#define TD_ERR_MAP(XX)                                                                    \
    XX(EAGAIN, TD_GRPC_INTERNAL, "need more input", NULL)                                 \
    XX(ENOMEM, TD_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL)                         \
    XX(EINVAL, TD_GRPC_INVALID_ARGUMENT, "invalid argument", NULL)                        \
    XX(ENOTFOUND, TD_GRPC_NOT_FOUND, "not found", "NotFoundFailure")                      \
    XX(ENSNOTFOUND, TD_GRPC_NOT_FOUND, "namespace not found", "NamespaceNotFoundFailure") \
    XX(EEXIST, TD_GRPC_ALREADY_EXISTS, "already exists", NULL)                            \
    XX(ESTARTED, TD_GRPC_ALREADY_EXISTS, "workflow execution already started",            \
       "WorkflowExecutionAlreadyStartedFailure")                                          \
    XX(ECONDITION, TD_GRPC_UNAVAILABLE, "condition failed", NULL)                         \
    XX(ESHARDLOST, TD_GRPC_UNAVAILABLE, "shard ownership lost", NULL)                     \
    XX(EBUSY, TD_GRPC_UNAVAILABLE, "busy", NULL)                                          \
    XX(EIO, TD_GRPC_UNAVAILABLE, "i/o error", NULL)                                       \
    XX(EFULL, TD_GRPC_UNAVAILABLE, "disk full", NULL)                                     \
    XX(EUNAVAIL, TD_GRPC_UNAVAILABLE, "unavailable", NULL)                                \
    XX(ETIMEDOUT, TD_GRPC_DEADLINE_EXCEEDED, "deadline exceeded", NULL)                   \
    XX(ECANCELED, TD_GRPC_CANCELLED, "canceled", NULL)                                    \
    XX(EUNIMPL, TD_GRPC_UNIMPLEMENTED, "not implemented", NULL)                           \
    XX(ETOOBIG, TD_GRPC_RESOURCE_EXHAUSTED, "message too large", NULL)                    \
    XX(ELIMIT, TD_GRPC_RESOURCE_EXHAUSTED, "limit exceeded", "ResourceExhaustedFailure")  \
    XX(EPRECOND, TD_GRPC_FAILED_PRECONDITION, "failed precondition", NULL)                \
    XX(EPERM, TD_GRPC_PERMISSION_DENIED, "permission denied", "PermissionDeniedFailure")  \
    XX(EABORTED, TD_GRPC_ABORTED, "aborted", NULL)                                        \
    XX(EPROTO, TD_GRPC_INTERNAL, "protocol error", NULL)                                  \
    XX(ESCHEMA, TD_GRPC_FAILED_PRECONDITION, "schema version mismatch", NULL)             \
    XX(ECLOSED, TD_GRPC_UNAVAILABLE, "closed", NULL)                                      \
    XX(EINTERNAL, TD_GRPC_INTERNAL, "internal error", NULL)

typedef enum {
    TD_OK = 0,
    TD__ERR_BASE = -1000,
#define TD__ERR_ENUM(name, grpc, msg, detail) TD_##name,
    TD_ERR_MAP(TD__ERR_ENUM)
#undef TD__ERR_ENUM
            TD__ERR_END
} td_err_t;

/* Static description of an error code ("ok" for TD_OK, "unknown error" for others). */
const char *td_strerror(int err);
/* Symbolic name without the TD_ prefix, e.g. "ENOTFOUND". */
const char *td_err_name(int err);
/* gRPC status code for an error (TD_GRPC_UNKNOWN for codes outside the table). */
int td_err_grpc_status(int err);
/* Name of a gRPC status code ("DEADLINE_EXCEEDED"); "UNKNOWN" outside the range. */
const char *td_grpc_status_name(int code);
/* Short name of the temporal.api.errordetails.v1 message for the error, or NULL. */
const char *td_err_detail(int err);

#endif
