/* gw_routes.h - the REST routes and their translation to RPC calls. */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gw_json.h"
#include "mcpreg/v1/registration.pb-c.h"
#include "mr_err.h"
#include "mr_util.h"

/* GW_BASE_PATH prefixes every route. */
#define GW_BASE_PATH "/v1/deepagents"

/* gw_op names the operation of a route. */
typedef enum {
    GW_OP_CREATE,
    GW_OP_LIST,
    GW_OP_GET,
    GW_OP_UPDATE,
    GW_OP_DELETE,
    GW_OP_REGISTER_OAUTH,
    GW_OP_PING, /* the readiness probe; see gw_route_ping */
} gw_op;

/* gw_route is one row of the routing table. */
typedef struct {
    gw_op op;
    const char *method;     /* HTTP method, such as "POST" */
    const char *rpc_method; /* full RPC method name */
    const ProtobufCMessageDescriptor *response_type;
    bool long_timeout; /* uses --register-timeout-ms, not the CRUD one */
    int success_status;
    uint32_t timeout_ms; /* when not 0, caps the setting's timeout */
    /* The registration service replies to it at once unless it starts a
     * registration, so it may travel in a batch: mr_rpc_call_quick. */
    bool quick;
} gw_route;

/* gw_match is the outcome of gw_route_match. */
typedef struct {
    const gw_route *route; /* set on MR_OK */
    const char *allow;     /* methods of the path, as in an Allow header */
    const char *id;        /* the {mcp_server_id} segment, not terminated */
    size_t id_len;
} gw_match;

/*
 * gw_route_match finds the route of method and path (the URL path without
 * its query string); HEAD finds the route of GET. It returns MR_OK with
 * out->route set, MR_EMETHOD when
 * the path exists but not with method (out->allow lists the methods), or
 * MR_EROUTE. The id segment is not checked here: see gw_route_parse_id.
 */
mr_err gw_route_match(const char *method, const char *path, gw_match *out);

/*
 * gw_route_parse_id checks that the id segment of match is a canonical
 * UUID and writes its lower-case form into out, "" when the route has no
 * id. It returns MR_EINVALID_ID for any other text.
 */
mr_err gw_route_parse_id(const gw_match *match, char out[MR_UUID_LEN + 1]);

/* GW_PROBE_OK_BODY is the body of a passed health probe. */
#define GW_PROBE_OK_BODY "{\"status\":\"ok\"}"

/* GW_PING_TIMEOUT_MS bounds the Ping call of a readiness probe, so that a
 * frozen registration service fails the probe within a probe's usual
 * timeout of 1 s. */
#define GW_PING_TIMEOUT_MS 900

/* gw_route_ping returns the route of the readiness probe: a Ping call to
 * the registration service, which no REST path matches. */
const gw_route *gw_route_ping(void);

/* gw_call is the RPC request of one REST request, with the memory that its
 * message points into. Zero it before gw_call_prepare. */
typedef struct {
    const gw_route *route;
    union {
        ProtobufCMessage base;
        Mcpreg__V1__CreateMcpServerRequest create;
        Mcpreg__V1__ListMcpServersRequest list;
        Mcpreg__V1__GetMcpServerRequest get;
        Mcpreg__V1__UpdateMcpServerRequest update;
        Mcpreg__V1__DeleteMcpServerRequest delete_;
        Mcpreg__V1__RegisterOAuthProviderRequest register_oauth;
        Mcpreg__V1__PingRequest ping;
    } msg;
    Mcpreg__V1__Caller caller;
    uint8_t key_sha256[MR_SHA256_LEN];
    char id[MR_UUID_LEN + 1];
    json_t *body;
    gw_json_buffers buffers;
} gw_call;

/*
 * gw_call_prepare builds the RPC request of route in call. id is the
 * canonical path id ("" for the collection) and api_key the X-Api-Key
 * bytes, of which only the SHA-256 is sent. body is the request body,
 * ignored for GET and DELETE. On failure it returns the error of the body
 * check with a detail for the client. Either way, release call with
 * gw_call_clear.
 */
mr_err gw_call_prepare(gw_call *call, const gw_route *route, const char *id,
                       const char *api_key, size_t api_key_len,
                       const char *body, size_t body_len, char *detail,
                       size_t detail_size);

/* gw_call_clear frees what gw_call_prepare allocated and zeroes call. */
void gw_call_clear(gw_call *call);

/*
 * gw_route_render turns reply, the decoded response of route's RPC, into
 * the HTTP status and body of the REST response. *body is a string the
 * caller frees with free(), or NULL for a status without a body (204). It
 * returns MR_EINTERNAL or MR_ENOMEM when the reply cannot be rendered.
 */
mr_err gw_route_render(const gw_route *route, const ProtobufCMessage *reply,
                       int *status, char **body);

#endif
