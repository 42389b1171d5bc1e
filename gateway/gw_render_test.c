/* gw_render_test.c - McpServer and other replies as REST JSON. */
#include <stdlib.h>
#include <string.h>

#include "gw_render.h"
#include "mr_test.h"

/* A server with two headers and every optional field unset. */
typedef struct {
    Mcpreg__V1__McpServer server;
    Mcpreg__V1__Header header[2];
    Mcpreg__V1__Header *headers[2];
} sample;

static void
sample_init(sample *s)
{
    mcpreg__v1__mcp_server__init(&s->server);
    for (int i = 0; i < 2; i++) {
        mcpreg__v1__header__init(&s->header[i]);
        s->headers[i] = &s->header[i];
    }
    s->header[0].key = "Authorization";
    s->header[0].value = "Bearer s3cret";
    s->header[1].key = "X-Team";
    s->header[1].value = "";

    s->server.id = "0b9a5c1e-3f0d-4a57-9c53-7c2e8d1f6a42";
    s->server.workspace_id = "7d4f2a10-5b6c-4e8d-9a01-23456789abcd";
    s->server.name = "docs";
    s->server.url = "https://mcp.example.com/mcp";
    s->server.n_headers = 2;
    s->server.headers = s->headers;
    s->server.created_at_ms = 1764862701123;
    s->server.updated_at_ms = 1764862702000;
}

/* Renders server and returns its compact serialisation, or NULL. */
static char *
render(const Mcpreg__V1__McpServer *server, mr_err *err)
{
    json_t *value = NULL;
    char *text = NULL;

    *err = gw_render_server(server, &value);
    if (*err == MR_OK) {
        text = json_dumps(value, JSON_COMPACT);
        json_decref(value);
    }
    return text;
}

static void
server_unset_fields_rendered(void)
{
    sample s;
    mr_err err;
    char *text;

    sample_init(&s);
    text = render(&s.server, &err);
    MR_CHECK_INT(err, ==, MR_OK);
    MR_CHECK_STR(
        text,
        "{\"id\":\"0b9a5c1e-3f0d-4a57-9c53-7c2e8d1f6a42\","
        "\"tenant_id\":\"7d4f2a10-5b6c-4e8d-9a01-23456789abcd\","
        "\"name\":\"docs\",\"url\":\"https://mcp.example.com/mcp\","
        "\"headers\":[{\"key\":\"Authorization\",\"value\":\"********\"},"
        "{\"key\":\"X-Team\",\"value\":\"********\"}],"
        "\"auth_type\":\"headers\","
        "\"oauth_provider_id\":null,"
        "\"created_at\":\"2025-12-04T15:38:21.123Z\","
        "\"updated_at\":\"2025-12-04T15:38:22.000Z\","
        "\"mcp_vendor_id\":null,\"vendor_id\":null,"
        "\"external_system_id\":null,\"can_invoke\":true}");
    free(text);
}

static void
server_header_values_masked(void)
{
    sample s;
    mr_err err;
    char *text;

    sample_init(&s);
    text = render(&s.server, &err);
    MR_CHECK(text != NULL);
    MR_CHECK(text == NULL || strstr(text, "s3cret") == NULL);
    free(text);
}

static void
server_set_fields_rendered(void)
{
    sample s;
    json_t *value = NULL;

    sample_init(&s);
    s.server.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    s.server.oauth_mode =
        MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;
    s.server.oauth_provider_id = "5f0c7a3e-1d2b-4c8e-9f01-abcdefabcdef";
    s.server.vendor_id = "vendor-1";
    s.server.external_system_id = "ext-1";

    MR_CHECK_INT(gw_render_server(&s.server, &value), ==, MR_OK);
    MR_CHECK_STR(json_string_value(json_object_get(value, "auth_type")),
                 "oauth");
    MR_CHECK_STR(json_string_value(json_object_get(value, "oauth_mode")),
                 "per_user_dynamic_client");
    MR_CHECK_STR(
        json_string_value(json_object_get(value, "oauth_provider_id")),
        "5f0c7a3e-1d2b-4c8e-9f01-abcdefabcdef");
    MR_CHECK_STR(json_string_value(json_object_get(value, "vendor_id")),
                 "vendor-1");
    MR_CHECK_STR(
        json_string_value(json_object_get(value, "external_system_id")),
        "ext-1");
    MR_CHECK(json_is_null(json_object_get(value, "mcp_vendor_id")));
    json_decref(value);
}

static void
server_legacy_mode_rendered(void)
{
    sample s;
    json_t *value = NULL;

    sample_init(&s);
    s.server.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS;
    s.server.oauth_mode =
        MCPREG__V1__OAUTH_MODE__OAUTH_MODE_LEGACY_SHARED_PROVIDER;
    MR_CHECK_INT(gw_render_server(&s.server, &value), ==, MR_OK);
    MR_CHECK_STR(json_string_value(json_object_get(value, "auth_type")),
                 "headers");
    MR_CHECK_STR(json_string_value(json_object_get(value, "oauth_mode")),
                 "legacy_shared_provider");
    json_decref(value);
}

static void
server_unknown_enum_rejected(void)
{
    sample s;
    json_t *value = NULL;

    sample_init(&s);
    s.server.auth_type = (Mcpreg__V1__AuthType)9;
    MR_CHECK_INT(gw_render_server(&s.server, &value), ==, MR_EINTERNAL);

    s.server.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    s.server.oauth_mode = (Mcpreg__V1__OAuthMode)9;
    MR_CHECK_INT(gw_render_server(&s.server, &value), ==, MR_EINTERNAL);
}

static void
server_invalid_utf8_rejected(void)
{
    sample s;
    json_t *value = NULL;

    sample_init(&s);
    s.server.name = "bad \xff";
    MR_CHECK_INT(gw_render_server(&s.server, &value), ==, MR_EINTERNAL);
}

static void
list_is_bare_array(void)
{
    sample a;
    sample b;
    Mcpreg__V1__McpServer *servers[2] = {&a.server, &b.server};
    Mcpreg__V1__ListMcpServersResponse list =
        MCPREG__V1__LIST_MCP_SERVERS_RESPONSE__INIT;
    json_t *value = NULL;

    sample_init(&a);
    sample_init(&b);
    b.server.name = "other";
    list.n_servers = 2;
    list.servers = servers;

    MR_CHECK_INT(gw_render_list(&list, &value), ==, MR_OK);
    MR_CHECK(json_is_array(value));
    MR_CHECK_INT(json_array_size(value), ==, 2);
    MR_CHECK_STR(
        json_string_value(json_object_get(json_array_get(value, 1), "name")),
        "other");
    json_decref(value);
}

static void
list_empty_is_empty_array(void)
{
    Mcpreg__V1__ListMcpServersResponse list =
        MCPREG__V1__LIST_MCP_SERVERS_RESPONSE__INIT;
    json_t *value = NULL;
    char *text;

    MR_CHECK_INT(gw_render_list(&list, &value), ==, MR_OK);
    text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    MR_CHECK_STR(text, "[]");
    free(text);
    json_decref(value);
}

static void
register_reply_rendered(void)
{
    Mcpreg__V1__RegisterOAuthProviderResponse reply =
        MCPREG__V1__REGISTER_OAUTH_PROVIDER_RESPONSE__INIT;
    char *text = NULL;

    reply.oauth_provider_id = "5f0c7a3e-1d2b-4c8e-9f01-abcdefabcdef";
    reply.created = 1;
    MR_CHECK_INT(gw_render_register(&reply, &text), ==, MR_OK);
    MR_CHECK_STR(text, "{\"oauth_provider_id\":"
                       "\"5f0c7a3e-1d2b-4c8e-9f01-abcdefabcdef\"}");
    free(text);
}

/* An id that is not plain text is escaped, never copied as it is. */
static void
register_reply_escaped(void)
{
    Mcpreg__V1__RegisterOAuthProviderResponse reply =
        MCPREG__V1__REGISTER_OAUTH_PROVIDER_RESPONSE__INIT;
    char *text = NULL;

    reply.oauth_provider_id = "a\"b\\c\n\xc3\xa9";
    MR_CHECK_INT(gw_render_register(&reply, &text), ==, MR_OK);
    MR_CHECK_STR(text, "{\"oauth_provider_id\":\"a\\\"b\\\\c\\n\xc3\xa9\"}");
    free(text);
}

static void
client_metadata_document(void)
{
    char *text = gw_render_client_metadata("https://mcpreg.example.com/");
    json_error_t error;
    json_t *doc = text != NULL ? json_loads(text, 0, &error) : NULL;
    json_t *redirects = json_object_get(doc, "redirect_uris");

    MR_CHECK(doc != NULL);
    MR_CHECK_STR(json_string_value(json_object_get(doc, "client_id")),
                 "https://mcpreg.example.com/v1/deepagents/oauth/"
                 "client-metadata.json");
    MR_CHECK_INT(json_array_size(redirects), ==, 1);
    MR_CHECK_STR(json_string_value(json_array_get(redirects, 0)),
                 "https://mcpreg.example.com/v1/deepagents/oauth/callback");
    MR_CHECK_STR(
        json_string_value(json_object_get(doc, "token_endpoint_auth_method")),
        "none");
    json_decref(doc);
    free(text);
}

static const mr_test_case cases[] = {
    {"client_metadata_document", client_metadata_document},
    {"server_unset_fields_rendered", server_unset_fields_rendered},
    {"server_header_values_masked", server_header_values_masked},
    {"server_set_fields_rendered", server_set_fields_rendered},
    {"server_legacy_mode_rendered", server_legacy_mode_rendered},
    {"server_unknown_enum_rejected", server_unknown_enum_rejected},
    {"server_invalid_utf8_rejected", server_invalid_utf8_rejected},
    {"list_is_bare_array", list_is_bare_array},
    {"list_empty_is_empty_array", list_empty_is_empty_array},
    {"register_reply_rendered", register_reply_rendered},
    {"register_reply_escaped", register_reply_escaped},
};

MR_TEST_MAIN(cases)
