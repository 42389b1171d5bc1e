/* mr_rpc_wire.c - envelopes packed straight into nng messages. */
#include "mr_rpc_internal.h"

/* WIRE_LEN is protobuf's wire type of length-delimited fields. */
#define WIRE_LEN 2

/* VARINT_MAX is the longest varint of a 64-bit value. */
#define VARINT_MAX 10

/* put_varint writes value as a protobuf varint at out and returns its
 * length. */
static size_t
put_varint(uint64_t value, uint8_t *out)
{
    size_t n = 0;

    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

nng_msg *
mr_rpc__pack(const ProtobufCMessage *envelope, uint32_t body_field,
             const ProtobufCMessage *body, size_t body_len)
{
    uint8_t head[2 * VARINT_MAX];
    size_t env_len = protobuf_c_message_get_packed_size(envelope);
    size_t head_len = put_varint((uint64_t)body_field << 3 | WIRE_LEN, head);
    nng_msg *msg = NULL;
    uint8_t *at;

    head_len += put_varint(body_len, head + head_len);
    if (nng_msg_alloc(&msg, env_len + head_len + body_len) != 0) {
        return NULL;
    }

    at = nng_msg_body(msg);
    at += protobuf_c_message_pack(envelope, at);
    for (size_t i = 0; i < head_len; i++) {
        *at++ = head[i];
    }
    protobuf_c_message_pack(body, at);
    return msg;
}
