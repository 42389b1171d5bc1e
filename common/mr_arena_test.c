/* mr_arena_test.c - protobuf-c decoding into a caller's buffer. */
#include <stdint.h>
#include <string.h>

#include "mcpreg/v1/rpc.pb-c.h"
#include "mr_arena.h"
#include "mr_rpc_internal.h"
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

/* mr_rpc__pack gives the bytes protobuf-c gives the whole envelope. */
static void
pack_matches_protobuf(void)
{
    Mcpreg__V1__Status status = MCPREG__V1__STATUS__INIT;
    Mcpreg__V1__Reply inner = MCPREG__V1__REPLY__INIT;
    Mcpreg__V1__Request env = MCPREG__V1__REQUEST__INIT;
    uint8_t expected[512];
    uint8_t inner_bytes[256];
    size_t inner_len;
    size_t len;
    nng_msg *msg;

    status.detail = "a detail long enough to need more than one byte of "
                    "length in its varint, which is the point of it here: "
                    "one hundred and twenty-eight bytes or more.";
    inner.status = &status;
    inner_len = mcpreg__v1__reply__pack(&inner, inner_bytes);
    env.method = "mcpreg.v1.Test/Method";
    env.request_id = "rid";
    env.timeout_ms = 300;

    msg = mr_rpc__pack(&env.base, MR_RPC__REQUEST_BODY_FIELD, &inner.base,
                       inner_len);
    env.body.data = inner_bytes;
    env.body.len = inner_len;
    len = mcpreg__v1__request__pack(&env, expected);
    MR_CHECK(msg != NULL);
    if (msg == NULL) {
        return;
    }
    MR_CHECK_INT(nng_msg_len(msg), ==, len);
    MR_CHECK(memcmp(nng_msg_body(msg), expected, len) == 0);
    nng_msg_free(msg);
}

/* The body field numbers of mr_rpc_internal.h are those of rpc.proto. */
static void
body_fields_match_proto(void)
{
    const ProtobufCFieldDescriptor *req =
        protobuf_c_message_descriptor_get_field_by_name(
            &mcpreg__v1__request__descriptor, "body");
    const ProtobufCFieldDescriptor *reply =
        protobuf_c_message_descriptor_get_field_by_name(
            &mcpreg__v1__reply__descriptor, "body");

    MR_CHECK(req != NULL && req->id == MR_RPC__REQUEST_BODY_FIELD);
    MR_CHECK(reply != NULL && reply->id == MR_RPC__REPLY_BODY_FIELD);
}

static const mr_test_case cases[] = {
    {"arena_falls_back_to_malloc", arena_falls_back_to_malloc},
    {"arena_decodes_messages", arena_decodes_messages},
    {"pack_matches_protobuf", pack_matches_protobuf},
    {"body_fields_match_proto", body_fields_match_proto},
};

MR_TEST_MAIN(cases)
