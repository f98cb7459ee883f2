/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC wire encodings as pure functions over bytes: the 5-byte length prefix, grpc-timeout,
 * percent-encoded grpc-message, base64 for "-bin" metadata, gzip/deflate message bodies and
 * the google.rpc.Status carried in grpc-status-details-bin. No sockets, no HTTP/2, no loop:
 * the server and client sessions (and the unit tests and fuzz drivers) call these.
 */
#ifndef TD_GRPC_WIRE_H
#define TD_GRPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"

#define TD_GRPC_PREFIX 5

/* Parses a message prefix at p (n bytes available). TD_OK with *compressed (0/1) and *len;
 * TD_EAGAIN when n < 5; TD_EPROTO for a flag byte other than 0/1; TD_ETOOBIG when
 * len > max (the length is still stored). */
int td_grpc_prefix_parse(const uint8_t *p, size_t n, size_t max, int *compressed, uint32_t *len);
void td_grpc_prefix_write(uint8_t out[TD_GRPC_PREFIX], int compressed, uint32_t len);

/* grpc-timeout ("1-8 digits" + H|M|S|m|u|n) in milliseconds, rounded up (a positive
 * sub-millisecond timeout is 1 ms). TD_OK or TD_EINVAL. */
int td_grpc_timeout_parse(const char *s, int64_t *ms);
/* Formats ms as a grpc-timeout value into buf (at least 16 bytes). */
void td_grpc_timeout_format(int64_t ms, char *buf, size_t len);

/* The longest status message sent, in bytes before percent-encoding: a peer's header list
 * limit (16 KiB in several gRPC implementations, 64 KiB for nghttp2's sender) must never
 * swallow a status. */
#define TD_GRPC_MESSAGE_MAX 4096
/* s when it is at most max bytes long, else a copy in a cut at a UTF-8 character boundary
 * at or below max - 16 bytes and ending with " ... (truncated)". */
const char *td_grpc_message_clip(td_arena_t *a, const char *s, size_t max);
/* grpc-message encoding: bytes outside 0x20..0x7e and '%' become %XX. Result in a. */
char *td_grpc_percent_encode(td_arena_t *a, const char *s);
/* Inverse; malformed escapes are kept literally (as the spec asks). Result in a. */
char *td_grpc_percent_decode(td_arena_t *a, const char *s);

/* Base64 (standard alphabet) without padding. Result NUL-terminated in a. */
char *td_base64_encode(td_arena_t *a, const uint8_t *p, size_t n);
/* Accepts padded or unpadded input; TD_OK or TD_EINVAL. Output in a. */
int td_base64_decode(td_arena_t *a, const char *s, size_t n, uint8_t **out, size_t *outn);

typedef enum {
    TD_GRPC_ENC_IDENTITY = 0,
    TD_GRPC_ENC_GZIP = 1,
    TD_GRPC_ENC_DEFLATE = 2,
    TD_GRPC_ENC_UNKNOWN = -1,
} td_grpc_enc_t;

/* Maps a grpc-encoding header value (NULL = identity). */
td_grpc_enc_t td_grpc_encoding(const char *value);
/* Decompresses a gzip or deflate (zlib) message into a, failing with TD_ETOOBIG as soon as
 * the output would exceed max, TD_EPROTO on corrupt or truncated input. */
int td_grpc_inflate(td_arena_t *a, td_grpc_enc_t enc, const uint8_t *in, size_t n, size_t max,
                    uint8_t **out, size_t *outn);
/* gzip-compresses into a. TD_OK or TD_EINTERNAL. */
int td_grpc_gzip(td_arena_t *a, const uint8_t *in, size_t n, uint8_t **out, size_t *outn);

/* Packs a google.rpc.Status{code, message, details: [Any(detail)]} into a (detail may be
 * NULL). The Any type_url is "type.googleapis.com/" + the message's full proto name. */
void td_grpc_status_pack(td_arena_t *a, int code, const char *message,
                         const ProtobufCMessage *detail, uint8_t **out, size_t *outn);


#endif
