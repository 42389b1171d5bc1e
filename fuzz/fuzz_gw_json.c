/* fuzz_gw_json.c - libFuzzer target of the gateway's request body parsing:
 * the strict JSON parser and the create, update and oauth-provider field
 * rules, each followed by packing the protobuf request as the gateway
 * sends it. The first byte picks the route, the rest is the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* pack_and_check packs msg into a buffer of its computed size; a pack that
 * writes another length means the request points at inconsistent data. */
static void
pack_and_check(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len > 0 ? len : 1);

    if (buf == NULL) {
        return;
    }
    if (protobuf_c_message_pack(msg, buf) != len) {
        abort();
    }
    free(buf);
}

static void
parse_create(const json_t *body, char *detail, size_t detail_size)
{
    Mcpreg__V1__CreateMcpServerRequest req;
    gw_json_buffers buffers = {0};

    mcpreg__v1__create_mcp_server_request__init(&req);
    if (gw_json_to_create(body, &req, &buffers, detail, detail_size) ==
        MR_OK) {
        pack_and_check(&req.base);
    }
    gw_json_buffers_free(&buffers);
}

static void
parse_update(const json_t *body, char *detail, size_t detail_size)
{
    Mcpreg__V1__UpdateMcpServerRequest req;
    gw_json_buffers buffers = {0};

    mcpreg__v1__update_mcp_server_request__init(&req);
    if (gw_json_to_update(body, &req, &buffers, detail, detail_size) ==
        MR_OK) {
        pack_and_check(&req.base);
    }
    gw_json_buffers_free(&buffers);
}

static void
parse_register(const json_t *body, char *detail, size_t detail_size)
{
    Mcpreg__V1__RegisterOAuthProviderRequest req;

    mcpreg__v1__register_oauth_provider_request__init(&req);
    if (gw_json_to_register(body, &req, detail, detail_size) == MR_OK) {
        pack_and_check(&req.base);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char detail[512];
    json_t *body = NULL;
    uint8_t route;

    if (size < 1) {
        return 0;
    }
    route = data[0] % 3;
    if (gw_json_parse_body((const char *)data + 1, size - 1, &body, detail,
                           sizeof(detail)) != MR_OK) {
        return 0;
    }

    if (route == 0) {
        parse_create(body, detail, sizeof(detail));
    } else if (route == 1) {
        parse_update(body, detail, sizeof(detail));
    } else {
        parse_register(body, detail, sizeof(detail));
    }
    json_decref(body);
    return 0;
}
