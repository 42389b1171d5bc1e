/* mr_arena.c - protobuf-c allocations from a caller's buffer. */
#include <stdint.h>
#include <stdlib.h>

#include "mr_arena.h"

/* Returns a block of size bytes from the buffer, or from malloc when the
 * buffer has no room left. */
static void *
arena_alloc(void *data, size_t size)
{
    mr_arena *arena = data;
    size_t rounded =
        (size + MR_ARENA_ALIGN - 1) & ~(size_t)(MR_ARENA_ALIGN - 1);
    void *block;

    if (rounded < size || rounded > arena->cap - arena->used) {
        return malloc(size);
    }
    block = arena->buf + arena->used;
    arena->used += rounded;
    return block;
}

/* Frees a block that came from malloc; blocks of the buffer come back
 * with mr_arena_reset. */
static void
arena_free(void *data, void *block)
{
    mr_arena *arena = data;
    uintptr_t at = (uintptr_t)block;
    uintptr_t start = (uintptr_t)arena->buf;

    if (at < start || at >= start + arena->cap) {
        free(block);
    }
}

void
mr_arena_init(mr_arena *arena, void *buf, size_t cap)
{
    arena->allocator.alloc = arena_alloc;
    arena->allocator.free = arena_free;
    arena->allocator.allocator_data = arena;
    arena->buf = buf;
    arena->cap = cap;
    arena->used = 0;
}

void
mr_arena_reset(mr_arena *arena)
{
    arena->used = 0;
}
