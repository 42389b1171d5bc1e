/* gw_routes_test.c - route matching, path ids and RPC request building. */
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_routes.h"
#include "mr_api.h"
#include "mr_test.h"

#define ID_LOWER "0b9a5c1e-3f0d-4a57-9c53-7c2e8d1f6a42"
#define ID_UPPER "0B9A5C1E-3F0D-4A57-9C53-7C2E8D1F6A42"
#define SERVERS  GW_BASE_PATH "/mcp-servers"

/* Asserts that method and path match the route of op. */
static void
check_route(const char *method, const char *path, gw_op op)
{
    gw_match match;

    MR_CHECK_INT(gw_route_match(method, path, &match), ==, MR_OK);
    MR_CHECK(match.route != NULL);
    if (match.route != NULL) {
        MR_CHECK_INT(match.route->op, ==, op);
        MR_CHECK_STR(match.route->method, method);
    }
}

static void
routes_match_every_operation(void)
{
    check_route("POST", SERVERS, GW_OP_CREATE);
    check_route("GET", SERVERS, GW_OP_LIST);
    check_route("GET", SERVERS "/" ID_LOWER, GW_OP_GET);
    check_route("PATCH", SERVERS "/" ID_LOWER, GW_OP_UPDATE);
    check_route("DELETE", SERVERS "/" ID_LOWER, GW_OP_DELETE);
    check_route("POST", SERVERS "/" ID_LOWER "/oauth-provider",
                GW_OP_REGISTER_OAUTH);
}

static void
routes_carry_rpc_methods(void)
{
    gw_match match;

    gw_route_match("POST", SERVERS "/x/oauth-provider", &match);
    MR_CHECK_STR(match.route->rpc_method, MR_M_REGISTER_OAUTH_PROVIDER);
    MR_CHECK(match.route->long_timeout);
    MR_CHECK_INT(match.route->success_status, ==, 200);

    gw_route_match("POST", SERVERS, &match);
    MR_CHECK_STR(match.route->rpc_method, MR_M_CREATE_MCP_SERVER);
    MR_CHECK(!match.route->long_timeout);
    MR_CHECK_INT(match.route->success_status, ==, 201);

    gw_route_match("DELETE", SERVERS "/x", &match);
    MR_CHECK_STR(match.route->rpc_method, MR_M_DELETE_MCP_SERVER);
    MR_CHECK_INT(match.route->success_status, ==, 204);
}

static void
unknown_paths_not_found(void)
{
    const char *paths[] = {
        "/",
        "/v1/deepagents",
        "/v1/deepagents/agents",
        SERVERS "/",
        SERVERS "x",
        SERVERS "//oauth-provider",
        SERVERS "/" ID_LOWER "/",
        SERVERS "/" ID_LOWER "/tools",
        SERVERS "/" ID_LOWER "/oauth-provider/",
        SERVERS "/" ID_LOWER "/oauth-provider/x",
        "/v2/deepagents/mcp-servers",
        "/v1/deepagents/auth-sessions",
    };
    gw_match match;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        MR_CHECK_INT(gw_route_match("GET", paths[i], &match), ==, MR_EROUTE);
        MR_CHECK(match.route == NULL);
    }
}

static void
wrong_method_lists_allowed(void)
{
    gw_match match;

    MR_CHECK_INT(gw_route_match("PUT", SERVERS, &match), ==, MR_EMETHOD);
    MR_CHECK_STR(match.allow, "GET, HEAD, POST");
    MR_CHECK(match.route == NULL);

    MR_CHECK_INT(gw_route_match("POST", SERVERS "/" ID_LOWER, &match), ==,
                 MR_EMETHOD);
    MR_CHECK_STR(match.allow, "GET, HEAD, PATCH, DELETE");

    MR_CHECK_INT(
        gw_route_match("GET", SERVERS "/" ID_LOWER "/oauth-provider", &match),
        ==, MR_EMETHOD);
    MR_CHECK_STR(match.allow, "POST");
}

static void
method_match_is_exact(void)
{
    gw_match match;

    MR_CHECK_INT(gw_route_match("get", SERVERS, &match), ==, MR_EMETHOD);
    MR_CHECK_INT(gw_route_match("head", SERVERS, &match), ==, MR_EMETHOD);
}

/* HEAD takes the route of GET, and only where GET has one. */
static void
head_matches_get_route(void)
{
    gw_match match;

    MR_CHECK_INT(gw_route_match("HEAD", SERVERS, &match), ==, MR_OK);
    MR_CHECK_INT(match.route->op, ==, GW_OP_LIST);

    MR_CHECK_INT(gw_route_match("HEAD", SERVERS "/" ID_LOWER, &match), ==,
                 MR_OK);
    MR_CHECK_INT(match.route->op, ==, GW_OP_GET);

    MR_CHECK_INT(
        gw_route_match("HEAD", SERVERS "/" ID_LOWER "/oauth-provider", &match),
        ==, MR_EMETHOD);
    MR_CHECK_STR(match.allow, "POST");
}

/* Asserts that id_text, as a path segment of GET, gives err. */
static void
check_id(const char *id_text, mr_err err, const char *canonical)
{
    char path[256];
    char id[MR_UUID_LEN + 1];
    gw_match match;

    snprintf(path, sizeof(path), "%s/%s", SERVERS, id_text);
    MR_CHECK_INT(gw_route_match("GET", path, &match), ==, MR_OK);
    MR_CHECK_INT(gw_route_parse_id(&match, id), ==, err);
    MR_CHECK_STR(id, canonical);
}

static void
path_id_canonical_uuid(void)
{
    check_id(ID_LOWER, MR_OK, ID_LOWER);
    check_id(ID_UPPER, MR_OK, ID_LOWER);
}

static void
path_id_invalid_rejected(void)
{
    check_id("42", MR_EINVALID_ID, "");
    check_id("0b9a5c1e3f0d4a579c537c2e8d1f6a42", MR_EINVALID_ID, "");
    check_id("{0b9a5c1e-3f0d-4a57-9c53-7c2e8d1f6a42}", MR_EINVALID_ID, "");
    check_id("0b9a5c1e-3f0d-4a57-9c53-7c2e8d1f6a4g", MR_EINVALID_ID, "");
    check_id(ID_LOWER "0", MR_EINVALID_ID, "");
}

static void
path_id_of_oauth_route(void)
{
    char id[MR_UUID_LEN + 1];
    gw_match match;

    MR_CHECK_INT(
        gw_route_match("POST", SERVERS "/" ID_UPPER "/oauth-provider", &match),
        ==, MR_OK);
    MR_CHECK_INT(gw_route_parse_id(&match, id), ==, MR_OK);
    MR_CHECK_STR(id, ID_LOWER);

    MR_CHECK_INT(
        gw_route_match("POST", SERVERS "/nope/oauth-provider", &match), ==,
        MR_OK);
    MR_CHECK_INT(gw_route_parse_id(&match, id), ==, MR_EINVALID_ID);
}

static void
collection_has_no_id(void)
{
    char id[MR_UUID_LEN + 1] = "x";
    gw_match match;

    gw_route_match("GET", SERVERS, &match);
    MR_CHECK_INT(gw_route_parse_id(&match, id), ==, MR_OK);
    MR_CHECK_STR(id, "");
}

/* Returns the route of method and path, which must exist. */
static const gw_route *
route_of(const char *method, const char *path)
{
    gw_match match;

    gw_route_match(method, path, &match);
    return match.route;
}

static void
call_sends_key_hash_only(void)
{
    static const char key[] = "mk_live_abc";
    uint8_t expected[MR_SHA256_LEN];
    char detail[GW_DETAIL_MAX];
    gw_call call = {0};

    mr_sha256(key, strlen(key), expected);
    MR_CHECK_INT(gw_call_prepare(&call, route_of("GET", SERVERS), "", key,
                                 strlen(key), NULL, 0, detail, sizeof(detail)),
                 ==, MR_OK);
    MR_CHECK(call.msg.list.caller == &call.caller);
    MR_CHECK_INT(call.caller.api_key_sha256.len, ==, MR_SHA256_LEN);
    MR_CHECK(
        memcmp(call.caller.api_key_sha256.data, expected, MR_SHA256_LEN) == 0);
    MR_CHECK(call.msg.base.descriptor ==
             &mcpreg__v1__list_mcp_servers_request__descriptor);
    gw_call_clear(&call);
}

/* Keys in turn, each twice, get their own hash whatever the key before:
 * the same length, one byte apart, a prefix, and one too long to keep. */
static void
call_key_hash_per_key(void)
{
    static char long_key[300];
    const char *keys[] = {"mk_live_abc", "mk_live_abd", "mk_live_ab", long_key,
                          "mk_live_abc"};
    uint8_t expected[MR_SHA256_LEN];
    char detail[GW_DETAIL_MAX];
    gw_call call;

    memset(long_key, 'k', sizeof(long_key) - 1);
    for (size_t i = 0; i < 2 * sizeof(keys) / sizeof(keys[0]); i++) {
        const char *key = keys[i / 2];

        memset(&call, 0, sizeof(call));
        mr_sha256(key, strlen(key), expected);
        MR_CHECK_INT(gw_call_prepare(&call, route_of("GET", SERVERS), "", key,
                                     strlen(key), NULL, 0, detail,
                                     sizeof(detail)),
                     ==, MR_OK);
        MR_CHECK(memcmp(call.caller.api_key_sha256.data, expected,
                        MR_SHA256_LEN) == 0);
        gw_call_clear(&call);
    }
}

static void
call_carries_path_id(void)
{
    char detail[GW_DETAIL_MAX];
    gw_call call = {0};

    MR_CHECK_INT(gw_call_prepare(&call, route_of("DELETE", SERVERS "/x"),
                                 ID_LOWER, "k", 1, "ignored", 7, detail,
                                 sizeof(detail)),
                 ==, MR_OK);
    MR_CHECK_STR(call.msg.delete_.id, ID_LOWER);
    gw_call_clear(&call);

    MR_CHECK_INT(
        gw_call_prepare(&call, route_of("POST", SERVERS "/x/oauth-provider"),
                        ID_LOWER, "k", 1, NULL, 0, detail, sizeof(detail)),
        ==, MR_OK);
    MR_CHECK_STR(call.msg.register_oauth.mcp_server_id, ID_LOWER);
    MR_CHECK_STR(call.msg.register_oauth.ls_user_id, "");
    gw_call_clear(&call);
}

static void
call_checks_create_body(void)
{
    static const char body[] = "{\"name\": \"docs\"}";
    char detail[GW_DETAIL_MAX];
    gw_call call = {0};

    MR_CHECK_INT(gw_call_prepare(&call, route_of("POST", SERVERS), "", "k", 1,
                                 body, strlen(body), detail, sizeof(detail)),
                 ==, MR_EMISSING_FIELD);
    gw_call_clear(&call);

    MR_CHECK_INT(gw_call_prepare(&call, route_of("PATCH", SERVERS "/x"),
                                 ID_LOWER, "k", 1, "", 0, detail,
                                 sizeof(detail)),
                 ==, MR_EINVALID_BODY);
    gw_call_clear(&call);
}

static void
call_register_body_optional(void)
{
    static const char body[] = "{\"ls_user_id\": \"u-1\"}";
    static const char spaced[] = " \r\n{ \t}\n";
    const gw_route *route = route_of("POST", SERVERS "/x/oauth-provider");
    char detail[GW_DETAIL_MAX];
    gw_call call = {0};

    MR_CHECK_INT(gw_call_prepare(&call, route, ID_LOWER, "k", 1, body,
                                 strlen(body), detail, sizeof(detail)),
                 ==, MR_OK);
    MR_CHECK_STR(call.msg.register_oauth.ls_user_id, "u-1");
    gw_call_clear(&call);

    MR_CHECK_INT(gw_call_prepare(&call, route, ID_LOWER, "k", 1, spaced,
                                 strlen(spaced), detail, sizeof(detail)),
                 ==, MR_OK);
    MR_CHECK_STR(call.msg.register_oauth.ls_user_id, "");
    gw_call_clear(&call);

    MR_CHECK_INT(gw_call_prepare(&call, route, ID_LOWER, "k", 1, "[]", 2,
                                 detail, sizeof(detail)),
                 ==, MR_EINVALID_BODY);
    gw_call_clear(&call);
}

/* Bodies that only look like {} get the parser and its errors. */
static void
call_register_empty_object_exact(void)
{
    static const char *const bad[] = {"{", "}", "{}}", "{} x", "{,}", "{]"};
    const gw_route *route = route_of("POST", SERVERS "/x/oauth-provider");
    char detail[GW_DETAIL_MAX];
    gw_call call = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        MR_CHECK_INT(gw_call_prepare(&call, route, ID_LOWER, "k", 1, bad[i],
                                     strlen(bad[i]), detail, sizeof(detail)),
                     ==, MR_EINVALID_BODY);
        gw_call_clear(&call);
    }
}

static void
render_delete_without_body(void)
{
    Mcpreg__V1__DeleteMcpServerResponse reply =
        MCPREG__V1__DELETE_MCP_SERVER_RESPONSE__INIT;
    char *body = (char *)"x";
    int status = 0;

    MR_CHECK_INT(gw_route_render(route_of("DELETE", SERVERS "/x"), &reply.base,
                                 &status, &body),
                 ==, MR_OK);
    MR_CHECK_INT(status, ==, 204);
    MR_CHECK(body == NULL);
}

static void
render_create_status_201(void)
{
    Mcpreg__V1__McpServer reply = MCPREG__V1__MCP_SERVER__INIT;
    char *body = NULL;
    int status = 0;

    MR_CHECK_INT(gw_route_render(route_of("POST", SERVERS), &reply.base,
                                 &status, &body),
                 ==, MR_OK);
    MR_CHECK_INT(status, ==, 201);
    MR_CHECK(body != NULL && body[0] == '{');
    free(body);
}

static void
render_wrong_reply_type_rejected(void)
{
    Mcpreg__V1__DeleteMcpServerResponse reply =
        MCPREG__V1__DELETE_MCP_SERVER_RESPONSE__INIT;
    char *body = NULL;
    int status = 0;

    MR_CHECK_INT(gw_route_render(route_of("GET", SERVERS "/x"), &reply.base,
                                 &status, &body),
                 ==, MR_EINTERNAL);
    MR_CHECK_INT(
        gw_route_render(route_of("GET", SERVERS "/x"), NULL, &status, &body),
        ==, MR_EINTERNAL);
}

static const mr_test_case cases[] = {
    {"routes_match_every_operation", routes_match_every_operation},
    {"routes_carry_rpc_methods", routes_carry_rpc_methods},
    {"unknown_paths_not_found", unknown_paths_not_found},
    {"wrong_method_lists_allowed", wrong_method_lists_allowed},
    {"method_match_is_exact", method_match_is_exact},
    {"head_matches_get_route", head_matches_get_route},
    {"path_id_canonical_uuid", path_id_canonical_uuid},
    {"path_id_invalid_rejected", path_id_invalid_rejected},
    {"path_id_of_oauth_route", path_id_of_oauth_route},
    {"collection_has_no_id", collection_has_no_id},
    {"call_sends_key_hash_only", call_sends_key_hash_only},
    {"call_key_hash_per_key", call_key_hash_per_key},
    {"call_carries_path_id", call_carries_path_id},
    {"call_checks_create_body", call_checks_create_body},
    {"call_register_body_optional", call_register_body_optional},
    {"call_register_empty_object_exact", call_register_empty_object_exact},
    {"render_delete_without_body", render_delete_without_body},
    {"render_create_status_201", render_create_status_201},
    {"render_wrong_reply_type_rejected", render_wrong_reply_type_rejected},
};

MR_TEST_MAIN(cases)
