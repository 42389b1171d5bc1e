/* mr_arena.h - protobuf-c allocations from a caller's buffer. */
#ifndef MR_ARENA_H
#define MR_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/*
 * mr_arena hands protobuf-c memory from a buffer that the caller owns,
 * and from malloc once the buffer is used up. Decoding a small message
 * then costs no malloc and no free. Pass &arena->allocator to
 * protobuf_c_message_unpack and to protobuf_c_message_free_unpacked: the
 * free releases what came from malloc and leaves the buffer alone.
 */
typedef struct {
    ProtobufCAllocator allocator;
    unsigned char *buf;
    size_t cap;
    size_t used;
} mr_arena;

/* MR_ARENA_ALIGN is the alignment of every block the arena hands out. */
#define MR_ARENA_ALIGN 16

/*
 * mr_arena_init makes arena hand out the cap bytes at buf, which must be
 * aligned to MR_ARENA_ALIGN and outlive every message decoded with it.
 */
void mr_arena_init(mr_arena *arena, void *buf, size_t cap);

/*
 * mr_arena_reset makes the whole buffer free again. Messages decoded with
 * the arena must have been freed with protobuf_c_message_free_unpacked
 * first, or their malloc'd parts leak.
 */
void mr_arena_reset(mr_arena *arena);

#endif
