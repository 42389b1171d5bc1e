/* gw_routes.c - the REST routes and their translation to RPC calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_render.h"
#include "gw_routes.h"
#include "mr_api.h"

#define COLLECTION_PATH GW_BASE_PATH "/mcp-servers"
#define OAUTH_SUFFIX    "/oauth-provider"

/* The three path shapes of the API, each with its methods. */
typedef enum {
    SHAPE_COLLECTION, /* /mcp-servers */
    SHAPE_ITEM,       /* /mcp-servers/{id} */
    SHAPE_OAUTH,      /* /mcp-servers/{id}/oauth-provider */
} path_shape;

static const struct {
    path_shape shape;
    gw_route route;
} routes[] = {
    {SHAPE_COLLECTION,
     {GW_OP_CREATE, "POST", MR_M_CREATE_MCP_SERVER,
      &mcpreg__v1__mcp_server__descriptor, false, 201}},
    {SHAPE_COLLECTION,
     {GW_OP_LIST, "GET", MR_M_LIST_MCP_SERVERS,
      &mcpreg__v1__list_mcp_servers_response__descriptor, false, 200}},
    {SHAPE_ITEM,
     {GW_OP_GET, "GET", MR_M_GET_MCP_SERVER,
      &mcpreg__v1__mcp_server__descriptor, false, 200}},
    {SHAPE_ITEM,
     {GW_OP_UPDATE, "PATCH", MR_M_UPDATE_MCP_SERVER,
      &mcpreg__v1__mcp_server__descriptor, false, 200}},
    {SHAPE_ITEM,
     {GW_OP_DELETE, "DELETE", MR_M_DELETE_MCP_SERVER,
      &mcpreg__v1__delete_mcp_server_response__descriptor, false, 204}},
    {SHAPE_OAUTH,
     {GW_OP_REGISTER_OAUTH, "POST", MR_M_REGISTER_OAUTH_PROVIDER,
      &mcpreg__v1__register_oauth_provider_response__descriptor, true, 200, 0,
      true}},
};

/* Allow header of each shape: the methods of the table above, and HEAD
 * wherever GET is, since every path with GET also serves HEAD. */
static const char *const allow_of_shape[] = {
    [SHAPE_COLLECTION] = "GET, HEAD, POST",
    [SHAPE_ITEM] = "GET, HEAD, PATCH, DELETE",
    [SHAPE_OAUTH] = "POST",
};

/* Finds the shape of path and its id segment. Returns false for other
 * paths. */
static bool
find_shape(const char *path, path_shape *shape, gw_match *out)
{
    size_t prefix_len = strlen(COLLECTION_PATH);
    const char *rest;
    const char *slash;

    if (strncmp(path, COLLECTION_PATH, prefix_len) != 0) {
        return false;
    }
    rest = path + prefix_len;
    if (rest[0] == '\0') {
        *shape = SHAPE_COLLECTION;
        return true;
    }
    if (rest[0] != '/' || rest[1] == '\0' || rest[1] == '/') {
        return false;
    }

    out->id = rest + 1;
    slash = strchr(out->id, '/');
    if (slash == NULL) {
        out->id_len = strlen(out->id);
        *shape = SHAPE_ITEM;
        return true;
    }
    out->id_len = (size_t)(slash - out->id);
    if (strcmp(slash, OAUTH_SUFFIX) == 0) {
        *shape = SHAPE_OAUTH;
        return true;
    }
    return false;
}

mr_err
gw_route_match(const char *method, const char *path, gw_match *out)
{
    path_shape shape;

    memset(out, 0, sizeof(*out));
    if (!find_shape(path, &shape, out)) {
        out->id = NULL;
        out->id_len = 0;
        return MR_EROUTE;
    }

    /* HEAD is GET without the body (RFC 9110 section 9.3.2), which
     * libmicrohttpd leaves out of the response to a HEAD request. */
    if (strcmp(method, "HEAD") == 0) {
        method = "GET";
    }
    out->allow = allow_of_shape[shape];
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (routes[i].shape == shape &&
            strcmp(routes[i].route.method, method) == 0) {
            out->route = &routes[i].route;
            return MR_OK;
        }
    }
    return MR_EMETHOD;
}

const gw_route *
gw_route_ping(void)
{
    static const gw_route ping = {
        .op = GW_OP_PING,
        .method = "GET",
        .rpc_method = MR_M_PING,
        .response_type = &mcpreg__v1__ping_response__descriptor,
        .success_status = 200,
        .timeout_ms = GW_PING_TIMEOUT_MS,
    };

    return &ping;
}

mr_err
gw_route_parse_id(const gw_match *match, char out[MR_UUID_LEN + 1])
{
    char text[MR_UUID_LEN + 1];

    out[0] = '\0';
    if (match->id == NULL) {
        return MR_OK;
    }
    if (match->id_len != MR_UUID_LEN) {
        return MR_EINVALID_ID;
    }

    memcpy(text, match->id, MR_UUID_LEN);
    text[MR_UUID_LEN] = '\0';
    if (!mr_uuid_canonical(text, out)) {
        out[0] = '\0';
        return MR_EINVALID_ID;
    }
    return MR_OK;
}

static mr_err
build_create(gw_call *call, const char *body, size_t body_len, char *detail,
             size_t detail_size)
{
    mr_err err;

    mcpreg__v1__create_mcp_server_request__init(&call->msg.create);
    call->msg.create.caller = &call->caller;

    err = gw_json_parse_body(body, body_len, &call->body, detail, detail_size);
    if (err != MR_OK) {
        return err;
    }
    return gw_json_to_create(call->body, &call->msg.create, &call->buffers,
                             detail, detail_size);
}

static mr_err
build_update(gw_call *call, const char *body, size_t body_len, char *detail,
             size_t detail_size)
{
    mr_err err;

    mcpreg__v1__update_mcp_server_request__init(&call->msg.update);
    call->msg.update.caller = &call->caller;
    call->msg.update.id = call->id;

    err = gw_json_parse_body(body, body_len, &call->body, detail, detail_size);
    if (err != MR_OK) {
        return err;
    }
    return gw_json_to_update(call->body, &call->msg.update, &call->buffers,
                             detail, detail_size);
}

/* skip_space returns the index of the first byte from i on that is not
 * JSON whitespace, or len. */
static size_t
skip_space(const char *text, size_t i, size_t len)
{
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' ||
                       text[i] == '\n')) {
        i++;
    }
    return i;
}

/* is_empty_object returns whether the len bytes at body are {} with
 * nothing but JSON whitespace around and inside, the repeat call's usual
 * body, which then needs no parser. */
static bool
is_empty_object(const char *body, size_t len)
{
    size_t i = skip_space(body, 0, len);

    if (i == len || body[i] != '{') {
        return false;
    }
    i = skip_space(body, i + 1, len);
    if (i == len || body[i] != '}') {
        return false;
    }
    return skip_space(body, i + 1, len) == len;
}

/* The body of this route is optional: none, empty, {} or
 * {"ls_user_id": "..."}. */
static mr_err
build_register(gw_call *call, const char *body, size_t body_len, char *detail,
               size_t detail_size)
{
    Mcpreg__V1__RegisterOAuthProviderRequest *msg = &call->msg.register_oauth;
    mr_err err;

    mcpreg__v1__register_oauth_provider_request__init(msg);
    msg->caller = &call->caller;
    msg->mcp_server_id = call->id;

    if (body_len > 0 && !is_empty_object(body, body_len)) {
        err = gw_json_parse_body(body, body_len, &call->body, detail,
                                 detail_size);
        if (err != MR_OK) {
            return err;
        }
    }
    return gw_json_to_register(call->body, msg, detail, detail_size);
}

/* Builds the message of the route's operation. Bodies of GET and DELETE
 * are ignored. */
static mr_err
build_message(gw_call *call, const char *body, size_t body_len, char *detail,
              size_t detail_size)
{
    switch (call->route->op) {
    case GW_OP_CREATE:
        return build_create(call, body, body_len, detail, detail_size);
    case GW_OP_LIST:
        mcpreg__v1__list_mcp_servers_request__init(&call->msg.list);
        call->msg.list.caller = &call->caller;
        return MR_OK;
    case GW_OP_GET:
        mcpreg__v1__get_mcp_server_request__init(&call->msg.get);
        call->msg.get.caller = &call->caller;
        call->msg.get.id = call->id;
        return MR_OK;
    case GW_OP_UPDATE:
        return build_update(call, body, body_len, detail, detail_size);
    case GW_OP_DELETE:
        mcpreg__v1__delete_mcp_server_request__init(&call->msg.delete_);
        call->msg.delete_.caller = &call->caller;
        call->msg.delete_.id = call->id;
        return MR_OK;
    case GW_OP_REGISTER_OAUTH:
        return build_register(call, body, body_len, detail, detail_size);
    case GW_OP_PING:
        mcpreg__v1__ping_request__init(&call->msg.ping);
        return MR_OK;
    }
    return MR_EINTERNAL;
}

/* KEY_CACHE_MAX bounds the API keys whose hash key_sha256 keeps; real
 * keys are about 50 bytes. */
#define KEY_CACHE_MAX 128

/*
 * The last API key hashed on this thread, with its SHA-256. A client
 * usually sends the same key with every request of a keep-alive
 * connection, and each connection stays on one libmicrohttpd thread, so
 * most requests skip the hash (about 4k instructions under callgrind).
 * The key stays in this memory after its request, as it does in the
 * connection's memory pool.
 */
static _Thread_local struct {
    char key[KEY_CACHE_MAX];
    size_t len;
    uint8_t sha256[MR_SHA256_LEN];
} last_key;

/* key_sha256 writes the SHA-256 of the len bytes at key into out. The
 * comparison with the last key takes the same time whatever the bytes, so
 * its timing reveals only whether the whole key matched. */
static void
key_sha256(const char *key, size_t len, uint8_t out[MR_SHA256_LEN])
{
    if (len > 0 && len == last_key.len &&
        mr_equal_ct(key, last_key.key, len)) {
        memcpy(out, last_key.sha256, MR_SHA256_LEN);
        return;
    }

    mr_sha256(key, len, out);
    if (len > 0 && len <= KEY_CACHE_MAX) {
        memcpy(last_key.key, key, len);
        memcpy(last_key.sha256, out, MR_SHA256_LEN);
        last_key.len = len;
    }
}

mr_err
gw_call_prepare(gw_call *call, const gw_route *route, const char *id,
                const char *api_key, size_t api_key_len, const char *body,
                size_t body_len, char *detail, size_t detail_size)
{
    call->route = route;
    mr_copy(call->id, sizeof(call->id), id);

    /* Only the SHA-256 of the API key is sent, so the key never leaves the
     * gateway. */
    key_sha256(api_key, api_key_len, call->key_sha256);
    mcpreg__v1__caller__init(&call->caller);
    call->caller.api_key_sha256.data = call->key_sha256;
    call->caller.api_key_sha256.len = sizeof(call->key_sha256);

    return build_message(call, body, body_len, detail, detail_size);
}

void
gw_call_clear(gw_call *call)
{
    gw_json_buffers_free(&call->buffers);
    json_decref(call->body);
    memset(call, 0, sizeof(*call));
}

/* Serialises value, which it releases, into *body. */
static mr_err
dump_body(json_t *value, char **body)
{
    *body = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    return *body != NULL ? MR_OK : MR_ENOMEM;
}

mr_err
gw_route_render(const gw_route *route, const ProtobufCMessage *reply,
                int *status, char **body)
{
    json_t *value = NULL;
    mr_err err = MR_OK;

    *status = route->success_status;
    *body = NULL;
    if (reply == NULL || reply->descriptor != route->response_type) {
        return MR_EINTERNAL;
    }

    switch (route->op) {
    case GW_OP_CREATE:
    case GW_OP_GET:
    case GW_OP_UPDATE:
        err = gw_render_server((const Mcpreg__V1__McpServer *)reply, &value);
        break;
    case GW_OP_LIST:
        err = gw_render_list((const Mcpreg__V1__ListMcpServersResponse *)reply,
                             &value);
        break;
    case GW_OP_DELETE:
        /* 204 whether or not the server existed: DELETE is idempotent. */
        return MR_OK;
    case GW_OP_REGISTER_OAUTH:
        return gw_render_register(
            (const Mcpreg__V1__RegisterOAuthProviderResponse *)reply, body);
    case GW_OP_PING:
        *body = strdup(GW_PROBE_OK_BODY);
        return *body != NULL ? MR_OK : MR_ENOMEM;
    }

    if (err != MR_OK) {
        return err;
    }
    return dump_body(value, body);
}
