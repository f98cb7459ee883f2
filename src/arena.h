/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bump-pointer arena: many small allocations, one release. Each RPC call owns one; the
 * request is unpacked into it through td_arena_pb_allocator() and the response is built in
 * it. Not thread-safe: an arena belongs to one thread at a time.
 */
#ifndef TD_ARENA_H
#define TD_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct td_arena_chunk_s td_arena_chunk_t;

typedef struct td_arena_s {
    td_arena_chunk_t *head; /* newest chunk; older chunks follow */
    size_t chunk_size;      /* size of the next ordinary chunk */
    size_t used;            /* bytes handed out, for accounting */
    ProtobufCAllocator pb;  /* protobuf-c allocator bound to this arena */
} td_arena_t;

void td_arena_init(td_arena_t *a, size_t first_chunk);
/* Releases every chunk; the arena may be reused after td_arena_init(). */
void td_arena_destroy(td_arena_t *a);
/* 16-byte aligned memory valid until td_arena_destroy(); never NULL (aborts on OOM). */
void *td_arena_alloc(td_arena_t *a, size_t n);
void *td_arena_calloc(td_arena_t *a, size_t n);
char *td_arena_strdup(td_arena_t *a, const char *s);
char *td_arena_strndup(td_arena_t *a, const char *s, size_t n);
void *td_arena_memdup(td_arena_t *a, const void *p, size_t n);
char *td_arena_printf(td_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An allocator for protobuf_c_message_unpack()/pack that allocates from the arena. Frees
 * are no-ops, so free_unpacked on such messages is not needed (and harmless). */
ProtobufCAllocator *td_arena_pb(td_arena_t *a);

#endif
