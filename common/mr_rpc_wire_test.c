/* mr_rpc_wire_test.c - the hand-coded envelopes against libprotobuf-c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpreg/v1/rpc.pb-c.h"
#include "mr_rpc_internal.h"
#include "mr_test.h"

/* ROUNDS is the number of random envelopes, each also mutated, that the
 * decoders see. */
#define ROUNDS 20000

/* rng is a xorshift generator with a fixed seed, so a failure repeats. */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t
next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* random_string fills buf with up to cap - 1 random bytes, NULs and
 * bytes that are not UTF-8 among them, and returns it. Some strings are
 * empty, and some need a two-byte length. */
static char *
random_string(char *buf, size_t cap)
{
    size_t len = next_random() % 4 == 0 ? 0 : next_random() % (cap - 1);

    for (size_t i = 0; i < len; i++) {
        uint32_t r = next_random() % 8;

        buf[i] = r == 0 ? (char)(next_random() & 0xff) : (char)('a' + r);
    }
    buf[len] = '\0';
    return buf;
}

/* random_number returns 0, a small value or any 32-bit value. */
static uint32_t
random_number(void)
{
    switch (next_random() % 3) {
    case 0:
        return 0;
    case 1:
        return next_random() % 300;
    default:
        return next_random() ^ next_random() << 16;
    }
}

/* check_msg requires that msg contains the len bytes at want. */
static void
check_msg(nng_msg *msg, const uint8_t *want, size_t len)
{
    MR_CHECK(msg != NULL);
    if (msg == NULL) {
        return;
    }
    MR_CHECK_INT(nng_msg_len(msg), ==, len);
    MR_CHECK(nng_msg_len(msg) == len &&
             memcmp(nng_msg_body(msg), want, len) == 0);
    nng_msg_free(msg);
}

/* Random requests pack to the bytes libprotobuf-c gives them. */
static void
pack_request_matches_protobuf(void)
{
    static uint8_t want[4096];
    char method[160];
    char id[80];
    char detail[300];

    for (int i = 0; i < 2000; i++) {
        Mcpreg__V1__Status body = MCPREG__V1__STATUS__INIT;
        Mcpreg__V1__Request env = MCPREG__V1__REQUEST__INIT;
        uint8_t body_bytes[512];
        size_t body_len;

        body.detail = random_string(detail, sizeof(detail));
        body_len = mcpreg__v1__status__pack(&body, body_bytes);
        env.method = random_string(method, sizeof(method));
        env.request_id = random_string(id, sizeof(id));
        env.timeout_ms = random_number();
        env.sent_unix_ms = (uint64_t)random_number() << 16;
        env.body.data = body_bytes;
        env.body.len = body_len;

        /* libprotobuf-c leaves an empty body out; mr_rpc__pack_request
         * writes it. Both decode the same. */
        if (body_len == 0) {
            continue;
        }
        check_msg(mr_rpc__pack_request(env.method, env.request_id,
                                       env.timeout_ms, env.sent_unix_ms,
                                       &body.base, body_len),
                  want, mcpreg__v1__request__pack(&env, want));
    }
}

/* Random replies, with a body and without, pack to libprotobuf-c's bytes;
 * a negative code takes ten bytes in both. */
static void
pack_reply_matches_protobuf(void)
{
    static uint8_t want[4096];
    char error[64];
    char detail[300];

    for (int i = 0; i < 2000; i++) {
        Mcpreg__V1__Status body = MCPREG__V1__STATUS__INIT;
        Mcpreg__V1__Status status = MCPREG__V1__STATUS__INIT;
        Mcpreg__V1__Reply reply = MCPREG__V1__REPLY__INIT;
        mr_rpc__status ours;
        uint8_t body_bytes[512];
        size_t body_len;
        bool with_body = i % 2 == 0;

        body.error = "ok";
        body_len = mcpreg__v1__status__pack(&body, body_bytes);
        status.code = i % 7 == 0 ? -3 : (int)(random_number() % 20);
        status.error = random_string(error, sizeof(error));
        status.detail = random_string(detail, sizeof(detail));
        status.retry_after_seconds = random_number();
        reply.status = &status;
        if (with_body) {
            reply.body.data = body_bytes;
            reply.body.len = body_len;
        }

        ours.code = status.code;
        ours.error = status.error;
        ours.detail = status.detail;
        ours.retry_after = status.retry_after_seconds;
        check_msg(
            mr_rpc__pack_reply(&ours, with_body ? &body.base : NULL, body_len),
            want, mcpreg__v1__reply__pack(&reply, want));
    }
}

/* span_is requires that span contains the C string s, which libprotobuf-c
 * cut at the first NUL. */
static void
span_is(mr_rpc__span span, const char *s)
{
    const char *nul = memchr(span.data, '\0', span.len);
    size_t len =
        nul != NULL ? (size_t)(nul - (const char *)span.data) : span.len;

    MR_CHECK_INT(len, ==, strlen(s));
    MR_CHECK(len == strlen(s) && memcmp(span.data, s, len) == 0);
}

static void
bytes_are(mr_rpc__span span, ProtobufCBinaryData want)
{
    MR_CHECK_INT(span.len, ==, want.len);
    MR_CHECK(span.len == want.len &&
             (want.len == 0 || memcmp(span.data, want.data, want.len) == 0));
}

/* compare_request requires that both decoders accept or reject the len
 * bytes at data, and agree on what they accept. */
static void
compare_request(const uint8_t *data, size_t len)
{
    Mcpreg__V1__Request *want = mcpreg__v1__request__unpack(NULL, len, data);
    mr_rpc__request got;
    bool ok = mr_rpc__unpack_request(data, len, &got);

    if (want == NULL || !ok) {
        MR_CHECK_INT(ok, ==, want != NULL);
    } else {
        span_is(got.method, want->method);
        span_is(got.request_id, want->request_id);
        MR_CHECK_INT(got.timeout_ms, ==, want->timeout_ms);
        MR_CHECK_INT(got.sent_unix_ms, ==, want->sent_unix_ms);
        bytes_are(got.body, want->body);
    }
    mcpreg__v1__request__free_unpacked(want, NULL);
}

static void
compare_reply(const uint8_t *data, size_t len)
{
    Mcpreg__V1__Reply *want = mcpreg__v1__reply__unpack(NULL, len, data);
    const Mcpreg__V1__Status *status;
    mr_rpc__reply got;
    bool ok = mr_rpc__unpack_reply(data, len, &got);

    if (want == NULL || !ok) {
        MR_CHECK_INT(ok, ==, want != NULL);
    } else if (want->status == NULL) {
        MR_CHECK_INT(got.code, ==, 0);
        bytes_are(got.body, want->body);
    } else {
        status = want->status;
        MR_CHECK_INT(got.code, ==, status->code);
        span_is(got.error, status->error);
        span_is(got.detail, status->detail);
        MR_CHECK_INT(got.retry_after, ==, status->retry_after_seconds);
        bytes_are(got.body, want->body);
    }
    mcpreg__v1__reply__free_unpacked(want, NULL);
}

/* mutate changes the len bytes at data in place: a byte flipped or set,
 * or the length cut. It returns the new length. */
static size_t
mutate(uint8_t *data, size_t len)
{
    size_t at = len > 0 ? next_random() % len : 0;

    switch (next_random() % 4) {
    case 0:
        return at;
    case 1:
        if (len > 0) {
            data[at] ^= (uint8_t)(1u << (next_random() % 8));
        }
        return len;
    case 2:
        if (len > 0) {
            data[at] = (uint8_t)next_random();
        }
        return len;
    default:
        return len;
    }
}

/* random_tail appends random fields, known ones again among them, and
 * returns the new length: a repeated field, a second Status and unknown
 * fields of every wire type. */
static size_t
random_tail(uint8_t *data, size_t len)
{
    static const uint8_t pieces[][6] = {
        {0x08, 0x05},                   /* field 1 varint */
        {0x0a, 0x02, 0x10, 0x07},       /* field 1 bytes, a Status */
        {0x0a, 0x02, 0x12, 0x00},       /* a Status with an empty error */
        {0x12, 0x01, 'x'},              /* field 2 bytes */
        {0x18, 0x00},                   /* field 3 varint 0 */
        {0x22, 0x00},                   /* field 4 bytes, empty */
        {0x29, 1, 2, 3, 4, 5},          /* field 5 fixed64, cut short */
        {0x35, 1, 2, 3, 4},             /* field 6 fixed32 */
        {0x3b},                         /* field 7 start group */
        {0x80, 0x00},                   /* field 0 in two bytes */
        {0xf8, 0xff, 0xff, 0xff, 0x0f}, /* a very large field number */
    };
    static const uint8_t sizes[] = {2, 4, 4, 3, 2, 2, 6, 5, 1, 2, 5};
    size_t pick = next_random() % (sizeof(sizes) + 3);

    if (pick >= sizeof(sizes)) {
        return len;
    }
    memcpy(data + len, pieces[pick], sizes[pick]);
    return len + sizes[pick];
}

/* Random envelopes, then the same with random fields added and with one
 * mutation, decode as libprotobuf-c decodes them. */
static void
unpack_agrees_with_protobuf(void)
{
    static uint8_t data[4096];
    char method[160];
    char id[80];
    char detail[300];

    for (int i = 0; i < ROUNDS; i++) {
        Mcpreg__V1__Request env = MCPREG__V1__REQUEST__INIT;
        Mcpreg__V1__Status status = MCPREG__V1__STATUS__INIT;
        Mcpreg__V1__Reply reply = MCPREG__V1__REPLY__INIT;
        size_t len;

        env.method = random_string(method, sizeof(method));
        env.request_id = random_string(id, sizeof(id));
        env.timeout_ms = random_number();
        env.sent_unix_ms = (uint64_t)random_number() << 20;
        env.body.data = (uint8_t *)detail;
        env.body.len = strlen(random_string(detail, sizeof(detail)));
        len = mcpreg__v1__request__pack(&env, data);
        compare_request(data, len);
        len = random_tail(data, random_tail(data, len));
        compare_request(data, mutate(data, len));

        status.code = (int)(random_number() % 20);
        status.error = random_string(id, sizeof(id));
        status.detail = random_string(method, sizeof(method));
        status.retry_after_seconds = random_number();
        reply.status = next_random() % 5 == 0 ? NULL : &status;
        reply.body = env.body;
        len = mcpreg__v1__reply__pack(&reply, data);
        compare_reply(data, len);
        len = random_tail(data, random_tail(data, len));
        compare_reply(data, mutate(data, len));
    }
}

/* Inputs that each decoder must reject. */
static void
unpack_rejects_bad_input(void)
{
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\x0a\x05"
         "ab",
         4},             /* string cut short */
        {"\x0a", 1},     /* tag without a value */
        {"\x18\x80", 2}, /* varint cut short */
        {"\x08\x01", 2}, /* method as a varint */
        {"\x00", 1},     /* field 0 */
        {"\x0b", 1},     /* a group */
        {"\x0e", 1},     /* wire type 6 */
        {"\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
         12},                                /* varint of 11 bytes */
        {"\x22\x80\x80\x80\x80\x80\x01", 7}, /* length of 6 bytes */
    };
    mr_rpc__request req;
    mr_rpc__reply reply;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const uint8_t *b = (const uint8_t *)bad[i].bytes;

        MR_CHECK(!mr_rpc__unpack_request(b, bad[i].len, &req));
        MR_CHECK(!mr_rpc__unpack_reply(b, bad[i].len, &reply));
    }
}

/* A second Status merges into the first as in libprotobuf-c: its numbers
 * win, and the strings it carries. */
static void
unpack_merges_statuses(void)
{
    static const uint8_t two[] = {
        0x0a, 0x06, 0x08, 0x05, 0x12, 0x02, 'n', 'f', /* code 5, "nf" */
        0x0a, 0x04, 0x08, 0x00, 0x20, 0x03,           /* code 0, retry 3 */
        0x0a, 0x02, 0x1a, 0x00,                       /* detail "" */
    };
    mr_rpc__reply reply;

    MR_CHECK(mr_rpc__unpack_reply(two, sizeof(two), &reply));
    MR_CHECK_INT(reply.code, ==, 0);
    MR_CHECK_INT(reply.error.len, ==, 2);
    MR_CHECK_INT(reply.retry_after, ==, 0);
    compare_reply(two, sizeof(two));
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

/* msg_of returns a new message holding the len bytes at data. */
static nng_msg *
msg_of(const void *data, size_t len)
{
    nng_msg *msg = NULL;

    nng_msg_alloc(&msg, 0);
    nng_msg_append(msg, data, len);
    return msg;
}

/* A Batch packed by hand decodes in libprotobuf-c to the same envelopes,
 * in order, and mr_rpc__next_part walks them back out. */
static void
pack_batch_matches_protobuf(void)
{
    nng_msg *parts[3];
    nng_msg *msg;
    Mcpreg__V1__Request *env;
    Mcpreg__V1__Batch *batch = NULL;
    mr_rpc__span rest;
    mr_rpc__span part;
    char id[32];

    for (int i = 0; i < 3; i++) {
        Mcpreg__V1__Request body = MCPREG__V1__REQUEST__INIT;

        snprintf(id, sizeof(id), "call-%d", i);
        body.method = "/t/Get";
        body.request_id = id;
        parts[i] = mr_rpc__pack_request(
            "/t/Get", id, 100u * (uint32_t)i, 7, &body.base,
            protobuf_c_message_get_packed_size(&body.base));
    }
    msg = mr_rpc__pack_batch("rid", 250, 9, parts, 3);
    env =
        mcpreg__v1__request__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    MR_CHECK(env != NULL);
    if (env != NULL) {
        MR_CHECK_STR(env->method, MR_RPC__BATCH_METHOD);
        MR_CHECK_STR(env->request_id, "rid");
        MR_CHECK_INT(env->timeout_ms, ==, 250);
        MR_CHECK_INT(env->sent_unix_ms, ==, 9);
        batch = mcpreg__v1__batch__unpack(NULL, env->body.len, env->body.data);
    }
    MR_CHECK(batch != NULL && batch->n_requests == 3);
    for (size_t i = 0; batch != NULL && i < batch->n_requests; i++) {
        snprintf(id, sizeof(id), "call-%zu", i);
        MR_CHECK_STR(batch->requests[i]->request_id, id);
        MR_CHECK_INT(batch->requests[i]->timeout_ms, ==, 100 * i);
    }

    rest =
        (mr_rpc__span){env ? env->body.data : NULL, env ? env->body.len : 0};
    for (int i = 0; env != NULL && i < 3; i++) {
        MR_CHECK_INT(mr_rpc__next_part(&rest, &part), ==, 1);
        check_msg(parts[i], part.data, part.len);
    }
    MR_CHECK_INT(env ? mr_rpc__next_part(&rest, &part) : 0, ==, 0);

    mcpreg__v1__batch__free_unpacked(batch, NULL);
    mcpreg__v1__request__free_unpacked(env, NULL);
    for (int i = 0; i < 3; i++) {
        nng_msg_free(parts[i]);
    }
    nng_msg_free(msg);
}

/* A BatchReply is an OK Reply whose body contains each reply in order,
 * and an empty Reply where a part is missing. */
static void
pack_batch_reply_matches_protobuf(void)
{
    mr_rpc__status fail = {13, "internal_error", "broken", 1};
    nng_msg *parts[3];
    nng_msg *msg;
    Mcpreg__V1__Reply *env;
    Mcpreg__V1__BatchReply *batch = NULL;

    parts[0] = mr_rpc__pack_reply(&fail, NULL, 0);
    parts[1] = NULL;
    parts[2] = msg_of("\x0a\x00", 2);
    msg = mr_rpc__pack_batch_reply(parts, 3);
    env = mcpreg__v1__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    MR_CHECK(env != NULL);
    if (env != NULL) {
        MR_CHECK(env->status == NULL || env->status->code == 0);
        batch = mcpreg__v1__batch_reply__unpack(NULL, env->body.len,
                                                env->body.data);
    }
    MR_CHECK(batch != NULL && batch->n_replies == 3);
    if (batch != NULL && batch->n_replies == 3) {
        MR_CHECK(batch->replies[0]->status != NULL);
        MR_CHECK_STR(batch->replies[0]->status->detail, "broken");
        MR_CHECK(batch->replies[1]->status == NULL);
        MR_CHECK(batch->replies[2]->status != NULL);
    }

    mcpreg__v1__batch_reply__free_unpacked(batch, NULL);
    mcpreg__v1__reply__free_unpacked(env, NULL);
    nng_msg_free(parts[0]);
    nng_msg_free(parts[2]);
    nng_msg_free(msg);
}

/* mr_rpc__next_part skips other fields and rejects what is not a Batch. */
static void
next_part_rejects_bad_input(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        int parts; /* how many parts come before the end or the error */
        int last;  /* 0 at the end, -1 on an error */
    } cases[] = {
        {"", 0, 0, 0},
        {"\x10\x01\x0a\x00", 4, 1, 0}, /* a varint field, then a part */
        {"\x0a\x05"
         "ab",
         4, 0, -1},             /* longer than the bytes */
        {"\x08\x01", 2, 0, -1}, /* the part as a varint */
        {"\x0a\x01"
         "x\x0b",
         4, 1, -1},             /* a group after a part */
        {"\x00\x01", 2, 0, -1}, /* field 0 */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mr_rpc__span rest = {(const uint8_t *)cases[i].bytes, cases[i].len};
        mr_rpc__span part;
        int rv;
        int n = 0;

        rv = mr_rpc__next_part(&rest, &part);
        while (rv == 1) {
            n++;
            rv = mr_rpc__next_part(&rest, &part);
        }
        MR_CHECK_INT(n, ==, cases[i].parts);
        MR_CHECK_INT(rv, ==, cases[i].last);
    }
}

static const mr_test_case cases[] = {
    {"pack_request_matches_protobuf", pack_request_matches_protobuf},
    {"pack_reply_matches_protobuf", pack_reply_matches_protobuf},
    {"unpack_agrees_with_protobuf", unpack_agrees_with_protobuf},
    {"unpack_rejects_bad_input", unpack_rejects_bad_input},
    {"unpack_merges_statuses", unpack_merges_statuses},
    {"body_fields_match_proto", body_fields_match_proto},
    {"pack_batch_matches_protobuf", pack_batch_matches_protobuf},
    {"pack_batch_reply_matches_protobuf", pack_batch_reply_matches_protobuf},
    {"next_part_rejects_bad_input", next_part_rejects_bad_input},
};

MR_TEST_MAIN(cases)
