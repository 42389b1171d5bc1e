/* mr_arena_test.c - protobuf-c decoding into a caller's buffer. */
#include <stdint.h>
#include <string.h>

#include "mcpreg/v1/rpc.pb-c.h"
#include "mr_arena.h"
#include "mr_test.h"

/* Blocks come aligned from the buffer until it is used up, then from
 * malloc; the free leaves the buffer's blocks alone. */
static void
arena_falls_back_to_malloc(void)
{
    _Alignas(MR_ARENA_ALIGN) unsigned char buf[64];
    mr_arena arena;
    ProtobufCAllocator *a = &arena.allocator;
    unsigned char *first;
    unsigned char *second;
    unsigned char *big;

    mr_arena_init(&arena, buf, sizeof(buf));
    first = a->alloc(a->allocator_data, 3);
    second = a->alloc(a->allocator_data, 20);
    big = a->alloc(a->allocator_data, 100);
    MR_CHECK(first == buf);
    MR_CHECK(second == buf + MR_ARENA_ALIGN);
    MR_CHECK(big != NULL && (big < buf || big >= buf + sizeof(buf)));
    memset(big, 1, 100);
    a->free(a->allocator_data, first);
    a->free(a->allocator_data, big);

    mr_arena_reset(&arena);
    MR_CHECK(a->alloc(a->allocator_data, 1) == buf);
}

/* A message decoded with the arena equals the one decoded with malloc,
 * whether it fits the buffer or not. */
static void
arena_decodes_messages(void)
{
    _Alignas(MR_ARENA_ALIGN) unsigned char buf[256];
    Mcpreg__V1__Request in = MCPREG__V1__REQUEST__INIT;
    uint8_t body[600];
    uint8_t packed[1024];
    size_t len;
    mr_arena arena;

    memset(body, 7, sizeof(body));
    in.method = "m";
    in.request_id = "r";
    in.body.data = body;
    for (size_t n = 10; n <= sizeof(body); n += 590) {
        Mcpreg__V1__Request *out;

        in.body.len = n;
        len = mcpreg__v1__request__pack(&in, packed);
        mr_arena_init(&arena, buf, sizeof(buf));
        out = mcpreg__v1__request__unpack(&arena.allocator, len, packed);
        MR_CHECK(out != NULL);
        if (out == NULL) {
            continue;
        }
        MR_CHECK_STR(out->method, "m");
        MR_CHECK_INT(out->body.len, ==, n);
        MR_CHECK(memcmp(out->body.data, body, n) == 0);
        mcpreg__v1__request__free_unpacked(out, &arena.allocator);
    }
}

static const mr_test_case cases[] = {
    {"arena_falls_back_to_malloc", arena_falls_back_to_malloc},
    {"arena_decodes_messages", arena_decodes_messages},
};

MR_TEST_MAIN(cases)
