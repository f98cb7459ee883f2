/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bump-pointer arena (see arena.h). Chunks grow geometrically up to 1 MiB; an allocation
 * larger than a quarter of the current chunk size gets a chunk of its own, so big payloads
 * never waste the tail of a small chunk.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

#define TD_ARENA_ALIGN     16
#define TD_ARENA_MAX_CHUNK (1u << 20)

struct td_arena_chunk_s {
    td_arena_chunk_t *next;
    size_t size;
    size_t off;
    _Alignas(16) unsigned char data[];
};

static void *td_arena_pb_alloc(void *data, size_t n)
{
    return td_arena_alloc(data, n);
}

static void td_arena_pb_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

void td_arena_init(td_arena_t *a, size_t first_chunk)
{
    a->head = NULL;
    a->chunk_size = first_chunk < 256 ? 256 : first_chunk;
    a->used = 0;
    a->pb.alloc = td_arena_pb_alloc;
    a->pb.free = td_arena_pb_free;
    a->pb.allocator_data = a;
}

void td_arena_destroy(td_arena_t *a)
{
    td_arena_chunk_t *c = a->head;
    while (c != NULL) {
        td_arena_chunk_t *next = c->next;
        td_free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

static td_arena_chunk_t *td_arena_chunk_new(size_t size)
{
    td_arena_chunk_t *c = td_malloc(sizeof(*c) + size);
    c->next = NULL;
    c->size = size;
    c->off = 0;
    return c;
}

void *td_arena_alloc(td_arena_t *a, size_t n)
{
    td_arena_chunk_t *c = a->head;
    size_t need = (n + TD_ARENA_ALIGN - 1) & ~(size_t)(TD_ARENA_ALIGN - 1);
    void *p;

    if (need == 0) {
        need = TD_ARENA_ALIGN;
    }
    a->used += need;
    if (need > a->chunk_size / 4) {
        /* Big allocation: its own chunk, linked behind the head so the head keeps filling. */
        td_arena_chunk_t *big = td_arena_chunk_new(need);
        big->off = need;
        if (c != NULL) {
            big->next = c->next;
            c->next = big;
        } else {
            a->head = big;
        }
        return big->data;
    }
    if (c == NULL || c->size - c->off < need) {
        c = td_arena_chunk_new(a->chunk_size);
        c->next = a->head;
        a->head = c;
        if (a->chunk_size < TD_ARENA_MAX_CHUNK) {
            a->chunk_size *= 2;
        }
    }
    p = c->data + c->off;
    c->off += need;
    return p;
}

void *td_arena_calloc(td_arena_t *a, size_t n)
{
    void *p = td_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *td_arena_strndup(td_arena_t *a, const char *s, size_t n)
{
    char *d = td_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *td_arena_strdup(td_arena_t *a, const char *s)
{
    return td_arena_strndup(a, s, strlen(s));
}

void *td_arena_memdup(td_arena_t *a, const void *p, size_t n)
{
    void *d = td_arena_alloc(a, n);
    if (n > 0) {
        memcpy(d, p, n);
    }
    return d;
}

char *td_arena_printf(td_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    s = td_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

ProtobufCAllocator *td_arena_pb(td_arena_t *a)
{
    return &a->pb;
}
