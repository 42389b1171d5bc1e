/* fuzz_rpc_proto.c - libFuzzer target of the protobuf decoding of every
 * RPC message. The first byte picks a side. With 0, the rest is a Request
 * envelope whose body is decoded by its method name, as mr_rpc_server.c
 * does. With any other value, the rest is a Reply envelope whose body is
 * decoded as the response of the method that value picks, as
 * mr_rpc_client.c does. Every decoded message is packed, decoded and
 * packed again, and both encodings must be equal. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mcpreg/v1/registration.pb-c.h"
#include "mcpreg/v1/rpc.pb-c.h"
#include "mr_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const char *name;
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *response;
} method;

/* Every method that a server of mcpreg dispatches. */
static const method methods[] = {
    {MR_M_CREATE_MCP_SERVER,
     &mcpreg__v1__create_mcp_server_request__descriptor,
     &mcpreg__v1__mcp_server__descriptor},
    {MR_M_LIST_MCP_SERVERS, &mcpreg__v1__list_mcp_servers_request__descriptor,
     &mcpreg__v1__list_mcp_servers_response__descriptor},
    {MR_M_GET_MCP_SERVER, &mcpreg__v1__get_mcp_server_request__descriptor,
     &mcpreg__v1__mcp_server__descriptor},
    {MR_M_UPDATE_MCP_SERVER,
     &mcpreg__v1__update_mcp_server_request__descriptor,
     &mcpreg__v1__mcp_server__descriptor},
    {MR_M_DELETE_MCP_SERVER,
     &mcpreg__v1__delete_mcp_server_request__descriptor,
     &mcpreg__v1__delete_mcp_server_response__descriptor},
    {MR_M_REGISTER_OAUTH_PROVIDER,
     &mcpreg__v1__register_oauth_provider_request__descriptor,
     &mcpreg__v1__register_oauth_provider_response__descriptor},
    {MR_M_CREATE_API_KEY, &mcpreg__v1__create_api_key_request__descriptor,
     &mcpreg__v1__create_api_key_response__descriptor},
    {MR_M_LIST_API_KEYS, &mcpreg__v1__list_api_keys_request__descriptor,
     &mcpreg__v1__list_api_keys_response__descriptor},
    {MR_M_REVOKE_API_KEY, &mcpreg__v1__revoke_api_key_request__descriptor,
     &mcpreg__v1__revoke_api_key_response__descriptor},
    {MR_M_DISCOVER_AND_REGISTER, &mcpreg__v1__discovery_job__descriptor,
     &mcpreg__v1__discovery_result__descriptor},
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* pack_message returns the encoding of msg, which the caller frees. */
static uint8_t *
pack_message(const ProtobufCMessage *msg, size_t *len)
{
    uint8_t *buf;

    *len = protobuf_c_message_get_packed_size(msg);
    buf = malloc(*len > 0 ? *len : 1);
    if (buf != NULL && protobuf_c_message_pack(msg, buf) != *len) {
        abort();
    }
    return buf;
}

/*
 * has_field_zero returns whether msg or a message inside it kept an
 * unknown field numbered 0. NOTE: libprotobuf-c 1.4.1 rejects tag 0 in its
 * one-byte form but accepts it in a longer varint form (0x80 0x00), keeps
 * it as an unknown field and packs it in the one-byte form, which it then
 * rejects. mcpreg never re-encodes a decoded request, so the round-trip
 * check skips such messages instead of failing on the library.
 */
static bool
has_field_zero(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;

    for (unsigned i = 0; i < msg->n_unknown_fields; i++) {
        if (msg->unknown_fields[i].tag == 0) {
            return true;
        }
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[i];
        const char *member = (const char *)msg + field->offset;

        if (field->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)msg +
                                         field->quantifier_offset);
            ProtobufCMessage *const *items =
                *(ProtobufCMessage *const *const *)member;

            for (size_t j = 0; j < n; j++) {
                if (has_field_zero(items[j])) {
                    return true;
                }
            }
        } else {
            const ProtobufCMessage *sub =
                *(const ProtobufCMessage *const *)member;

            if (sub != NULL && has_field_zero(sub)) {
                return true;
            }
        }
    }
    return false;
}

/* check_round_trip requires that re-encoding a decoded message is stable:
 * pack(unpack(pack(msg))) equals pack(msg). */
static void
check_round_trip(const ProtobufCMessage *msg)
{
    size_t len;
    size_t len_again;
    uint8_t *first = pack_message(msg, &len);
    uint8_t *second = NULL;
    ProtobufCMessage *again;

    if (first == NULL || has_field_zero(msg)) {
        free(first);
        return;
    }
    again = protobuf_c_message_unpack(msg->descriptor, NULL, len, first);
    if (again == NULL) {
        abort(); /* our own encoding must decode */
    }
    second = pack_message(again, &len_again);
    if (second != NULL &&
        (len_again != len || memcmp(first, second, len) != 0)) {
        abort();
    }
    free(second);
    protobuf_c_message_free_unpacked(again, NULL);
    free(first);
}

static void
decode_body(const ProtobufCMessageDescriptor *type, const uint8_t *data,
            size_t len)
{
    ProtobufCMessage *msg = protobuf_c_message_unpack(type, NULL, len, data);

    if (msg == NULL) {
        return;
    }
    check_round_trip(msg);
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void
decode_request(const uint8_t *data, size_t size)
{
    Mcpreg__V1__Request *env = mcpreg__v1__request__unpack(NULL, size, data);

    if (env == NULL) {
        return;
    }
    check_round_trip(&env->base);
    for (size_t i = 0; i < NMETHODS; i++) {
        if (strcmp(env->method, methods[i].name) == 0) {
            decode_body(methods[i].request, env->body.data, env->body.len);
        }
    }
    mcpreg__v1__request__free_unpacked(env, NULL);
}

static void
decode_reply(const method *m, const uint8_t *data, size_t size)
{
    Mcpreg__V1__Reply *reply = mcpreg__v1__reply__unpack(NULL, size, data);

    if (reply == NULL) {
        return;
    }
    check_round_trip(&reply->base);
    decode_body(m->response, reply->body.data, reply->body.len);
    mcpreg__v1__reply__free_unpacked(reply, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    if (data[0] == 0) {
        decode_request(data + 1, size - 1);
    } else {
        decode_reply(&methods[(data[0] - 1) % NMETHODS], data + 1, size - 1);
    }
    return 0;
}
