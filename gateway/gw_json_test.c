/* gw_json_test.c - validation of request bodies, one case per rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_json.h"
#include "mr_test.h"

/* The outcome of converting one body. */
typedef struct {
    mr_err err;
    char detail[GW_DETAIL_MAX];
    json_t *body;
    gw_json_buffers buffers;
    Mcpreg__V1__CreateMcpServerRequest create;
    Mcpreg__V1__UpdateMcpServerRequest update;
    Mcpreg__V1__RegisterOAuthProviderRequest register_oauth;
} outcome;

static void
outcome_clear(outcome *o)
{
    gw_json_buffers_free(&o->buffers);
    json_decref(o->body);
    memset(o, 0, sizeof(*o));
}

static void
parse(outcome *o, const char *text)
{
    memset(o, 0, sizeof(*o));
    o->err = gw_json_parse_body(text, strlen(text), &o->body, o->detail,
                                sizeof(o->detail));
}

static void
create(outcome *o, const char *text)
{
    parse(o, text);
    mcpreg__v1__create_mcp_server_request__init(&o->create);
    if (o->err == MR_OK) {
        o->err = gw_json_to_create(o->body, &o->create, &o->buffers, o->detail,
                                   sizeof(o->detail));
    }
}

static void
update(outcome *o, const char *text)
{
    parse(o, text);
    mcpreg__v1__update_mcp_server_request__init(&o->update);
    if (o->err == MR_OK) {
        o->err = gw_json_to_update(o->body, &o->update, &o->buffers, o->detail,
                                   sizeof(o->detail));
    }
}

/* Converts a create body built in code, for values the parser rejects. */
static void
create_value(outcome *o, json_t *body)
{
    memset(o, 0, sizeof(*o));
    o->body = body;
    mcpreg__v1__create_mcp_server_request__init(&o->create);
    o->err = gw_json_to_create(o->body, &o->create, &o->buffers, o->detail,
                               sizeof(o->detail));
}

/* Returns a create body with name and url and one header whose key and
 * value are given. */
static json_t *
body_with_header(json_t *key, json_t *value)
{
    return json_pack("{s:s, s:s, s:[{s:o, s:o}]}", "name", "n", "url",
                     "https://mcp.example.com", "headers", "key", key, "value",
                     value);
}

/* Returns a string of n copies of c. The caller frees it. */
static char *
repeat(char c, size_t n)
{
    char *text = malloc(n + 1);

    memset(text, c, n);
    text[n] = '\0';
    return text;
}

/* Asserts the error and that the detail contains fragment. */
#define CHECK_FAILS(o, error, fragment)                                       \
    do {                                                                      \
        MR_CHECK_INT((o)->err, ==, (error));                                  \
        MR_CHECK(strstr((o)->detail, (fragment)) != NULL);                    \
    } while (0)

/* ---- body ---- */

static void
body_empty_rejected(void)
{
    outcome o;

    parse(&o, "");
    CHECK_FAILS(&o, MR_EINVALID_BODY, "the body is empty");
    outcome_clear(&o);
}

static void
body_malformed_rejected(void)
{
    outcome o;

    parse(&o, "{\"name\": ");
    CHECK_FAILS(&o, MR_EINVALID_BODY, "Provide a valid JSON request body");
    outcome_clear(&o);
}

static void
body_duplicate_key_rejected(void)
{
    outcome o;

    parse(&o, "{\"name\": \"a\", \"name\": \"b\"}");
    CHECK_FAILS(&o, MR_EINVALID_BODY, "duplicate");
    outcome_clear(&o);
}

static void
body_invalid_utf8_rejected(void)
{
    outcome o;

    parse(&o, "{\"name\": \"\xc3\x28\"}");
    MR_CHECK_INT(o.err, ==, MR_EINVALID_BODY);
    outcome_clear(&o);
}

static void
body_deep_nesting_rejected(void)
{
    char text[256];
    outcome o;
    size_t n = 0;

    for (int i = 0; i < 40; i++) {
        text[n++] = '[';
    }
    for (int i = 0; i < 40; i++) {
        text[n++] = ']';
    }
    text[n] = '\0';
    parse(&o, text);
    MR_CHECK_INT(o.err, ==, MR_EINVALID_BODY);
    outcome_clear(&o);
}

static void
body_array_rejected(void)
{
    outcome o;

    parse(&o, "[1, 2]");
    CHECK_FAILS(&o, MR_EINVALID_BODY, "Send a JSON object");
    MR_CHECK(strstr(o.detail, "got array") != NULL);
    outcome_clear(&o);
}

/* ---- POST /mcp-servers ---- */

static void
create_minimal_accepted(void)
{
    outcome o;

    create(&o, "{\"name\": \"docs\", \"url\": \"https://mcp.example.com\"}");
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK_STR(o.create.name, "docs");
    MR_CHECK_STR(o.create.url, "https://mcp.example.com");
    MR_CHECK_INT(o.create.n_headers, ==, 0);
    MR_CHECK_INT(o.create.auth_type, ==,
                 MCPREG__V1__AUTH_TYPE__AUTH_TYPE_UNSPECIFIED);
    MR_CHECK_INT(o.create.oauth_mode, ==,
                 MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED);
    MR_CHECK_STR(o.create.oauth_provider_id, "");
    MR_CHECK_STR(o.create.vendor_id, "");
    MR_CHECK_STR(o.create.external_system_id, "");
    outcome_clear(&o);
}

static void
create_all_fields_accepted(void)
{
    outcome o;

    create(&o, "{\"name\": \"docs\", \"url\": \"https://mcp.example.com\", "
               "\"headers\": [{\"key\": \"Authorization\", \"value\": "
               "\"Bearer s3cret\"}, {\"key\": \"X-Team\", \"value\": \"\"}],"
               " \"auth_type\": \"oauth\", \"oauth_mode\": "
               "\"legacy_shared_provider\", \"oauth_provider_id\": "
               "\"0B9A5C1E-3F0D-4A57-9C53-7C2E8D1F6A42\", \"vendor_id\": "
               "\"v1\", \"external_system_id\": \"e1\"}");
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK_INT(o.create.n_headers, ==, 2);
    if (o.create.n_headers == 2) {
        MR_CHECK_STR(o.create.headers[0]->key, "Authorization");
        MR_CHECK_STR(o.create.headers[0]->value, "Bearer s3cret");
        MR_CHECK_STR(o.create.headers[1]->key, "X-Team");
        MR_CHECK_STR(o.create.headers[1]->value, "");
    }
    MR_CHECK_INT(o.create.auth_type, ==,
                 MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH);
    MR_CHECK_INT(o.create.oauth_mode, ==,
                 MCPREG__V1__OAUTH_MODE__OAUTH_MODE_LEGACY_SHARED_PROVIDER);
    MR_CHECK_STR(o.create.oauth_provider_id,
                 "0b9a5c1e-3f0d-4a57-9c53-7c2e8d1f6a42");
    MR_CHECK_STR(o.create.vendor_id, "v1");
    MR_CHECK_STR(o.create.external_system_id, "e1");
    outcome_clear(&o);
}

static void
create_name_missing(void)
{
    outcome o;

    create(&o, "{\"url\": \"https://mcp.example.com\"}");
    MR_CHECK_INT(o.err, ==, MR_EMISSING_FIELD);
    MR_CHECK_STR(o.detail,
                 "Set 'name' to a non-empty string: 'name' is required");
    outcome_clear(&o);
}

static void
create_name_empty(void)
{
    outcome o;

    create(&o, "{\"name\": \"\", \"url\": \"https://mcp.example.com\"}");
    MR_CHECK_INT(o.err, ==, MR_EMISSING_FIELD);
    MR_CHECK_STR(o.detail,
                 "Set 'name' to a non-empty string: 'name' is required");
    outcome_clear(&o);
}

static void
create_name_wrong_type(void)
{
    outcome o;

    create(&o, "{\"name\": 7, \"url\": \"https://mcp.example.com\"}");
    MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
    MR_CHECK_STR(o.detail, "Set 'name' to a string: got number");
    outcome_clear(&o);
}

static void
create_name_length_limit(void)
{
    char *name = repeat('n', GW_NAME_MAX + 1);
    json_t *body = json_pack("{s:s, s:s}", "name", name, "url", "https://a");
    outcome o;

    create_value(&o, body);
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "'name' to at most 200 bytes");
    outcome_clear(&o);

    name[GW_NAME_MAX] = '\0';
    body = json_pack("{s:s, s:s}", "name", name, "url", "https://a");
    create_value(&o, body);
    MR_CHECK_INT(o.err, ==, MR_OK);
    outcome_clear(&o);
    free(name);
}

static void
create_url_missing(void)
{
    outcome o;

    create(&o, "{\"name\": \"docs\"}");
    MR_CHECK_INT(o.err, ==, MR_EMISSING_FIELD);
    MR_CHECK_STR(o.detail, "Set 'url' to a string: 'url' is required");
    outcome_clear(&o);
}

static void
create_url_wrong_type(void)
{
    outcome o;

    create(&o, "{\"name\": \"docs\", \"url\": null}");
    MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
    MR_CHECK_STR(o.detail, "Set 'url' to a string: got null");
    outcome_clear(&o);
}

static void
create_url_length_limit(void)
{
    char *url = repeat('u', GW_URL_MAX + 1);
    json_t *body = json_pack("{s:s, s:s}", "name", "n", "url", url);
    outcome o;

    create_value(&o, body);
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "'url' to at most 2048 bytes");
    outcome_clear(&o);

    url[GW_URL_MAX] = '\0';
    create_value(&o, json_pack("{s:s, s:s}", "name", "n", "url", url));
    MR_CHECK_INT(o.err, ==, MR_OK);
    outcome_clear(&o);
    free(url);
}

static void
create_unknown_member(void)
{
    outcome o;

    create(&o, "{\"name\": \"docs\", \"url\": \"https://a\", \"colour\": 1}");
    MR_CHECK_INT(o.err, ==, MR_EUNKNOWN_FIELD);
    MR_CHECK_STR(o.detail,
                 "Remove 'colour': it is not a field of this request");
    outcome_clear(&o);
}

static void
create_unknown_member_name_cut(void)
{
    char *key = repeat('k', 500);
    json_t *body =
        json_pack("{s:s, s:s, s:i}", "name", "n", "url", "u", key, 1);
    outcome o;

    create_value(&o, body);
    MR_CHECK_INT(o.err, ==, MR_EUNKNOWN_FIELD);
    MR_CHECK(strlen(o.detail) < 200);
    outcome_clear(&o);
    free(key);
}

static void
create_headers_not_array(void)
{
    outcome o;

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"headers\": {}}");
    MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
    MR_CHECK_STR(o.detail, "Set 'headers' to an array of {key, value} "
                           "objects: got object");
    outcome_clear(&o);
}

static void
create_headers_count_limit(void)
{
    json_t *headers = json_array();
    json_t *body;
    outcome o;

    for (int i = 0; i < GW_HEADERS_MAX; i++) {
        char key[16];

        snprintf(key, sizeof(key), "X-H%d", i);
        json_array_append_new(
            headers, json_pack("{s:s, s:s}", "key", key, "value", "v"));
    }
    body = json_pack("{s:s, s:s, s:O}", "name", "n", "url", "u", "headers",
                     headers);
    create_value(&o, body);
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK_INT(o.create.n_headers, ==, GW_HEADERS_MAX);
    outcome_clear(&o);

    json_array_append_new(
        headers, json_pack("{s:s, s:s}", "key", "X-Last", "value", ""));
    body = json_pack("{s:s, s:s, s:O}", "name", "n", "url", "u", "headers",
                     headers);
    create_value(&o, body);
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "at most 64 entries");
    MR_CHECK(o.buffers.headers == NULL);
    outcome_clear(&o);
    json_decref(headers);
}

static void
create_header_not_object(void)
{
    outcome o;

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"headers\": [\"X-A: 1\"]}");
    MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
    MR_CHECK_STR(o.detail, "Set 'headers[0]' to an object with 'key' and "
                           "'value': got string");
    outcome_clear(&o);
}

static void
create_header_key_missing(void)
{
    outcome o;

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"headers\": "
               "[{\"value\": \"v\"}]}");
    MR_CHECK_INT(o.err, ==, MR_EMISSING_FIELD);
    MR_CHECK_STR(o.detail, "Set 'headers[0].key' to a string: "
                           "'headers[0].key' is required");
    outcome_clear(&o);
}

static void
create_header_value_missing(void)
{
    outcome o;

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"headers\": "
               "[{\"key\": \"X-A\", \"value\": \"v\"}, {\"key\": \"X-B\"}]}");
    MR_CHECK_INT(o.err, ==, MR_EMISSING_FIELD);
    MR_CHECK(strstr(o.detail, "'headers[1].value' is required") != NULL);
    outcome_clear(&o);
}

static void
create_header_extra_member(void)
{
    outcome o;

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"headers\": "
               "[{\"key\": \"X-A\", \"value\": \"v\", \"secret\": true}]}");
    MR_CHECK_INT(o.err, ==, MR_EUNKNOWN_FIELD);
    MR_CHECK(strstr(o.detail, "'headers[0].secret'") != NULL);
    outcome_clear(&o);
}

static void
create_header_key_wrong_type(void)
{
    outcome o;

    create_value(&o, body_with_header(json_integer(1), json_string("v")));
    MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
    MR_CHECK_STR(o.detail, "Set 'headers[0].key' to a string: got number");
    outcome_clear(&o);
}

static void
create_header_key_not_token(void)
{
    const char *keys[] = {"", "X A", "X:A", "X\"A", "Ä", "X(A)"};
    outcome o;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        create_value(&o,
                     body_with_header(json_string(keys[i]), json_string("v")));
        CHECK_FAILS(&o, MR_EINVALID_FIELD, "'headers[0].key'");
        outcome_clear(&o);
    }

    create_value(&o, body_with_header(json_string("!#$%&'*+-.^_`|~09azAZ"),
                                      json_string("v")));
    MR_CHECK_INT(o.err, ==, MR_OK);
    outcome_clear(&o);
}

static void
create_header_key_length_limit(void)
{
    char *key = repeat('k', GW_HEADER_KEY_MAX + 1);
    outcome o;

    create_value(&o, body_with_header(json_string(key), json_string("v")));
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "at most 256 bytes");
    outcome_clear(&o);

    key[GW_HEADER_KEY_MAX] = '\0';
    create_value(&o, body_with_header(json_string(key), json_string("v")));
    MR_CHECK_INT(o.err, ==, MR_OK);
    outcome_clear(&o);
    free(key);
}

static void
create_header_value_wrong_type(void)
{
    outcome o;

    create_value(&o, body_with_header(json_string("X-A"), json_null()));
    MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
    MR_CHECK_STR(o.detail, "Set 'headers[0].value' to a string: got null");
    outcome_clear(&o);
}

static void
create_header_value_length_limit(void)
{
    char *value = repeat('v', GW_HEADER_VALUE_MAX + 1);
    outcome o;

    create_value(&o, body_with_header(json_string("X-A"), json_string(value)));
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "at most 8192 bytes");
    outcome_clear(&o);

    value[GW_HEADER_VALUE_MAX] = '\0';
    create_value(&o, body_with_header(json_string("X-A"), json_string(value)));
    MR_CHECK_INT(o.err, ==, MR_OK);
    outcome_clear(&o);
    free(value);
}

static void
create_header_value_control_chars(void)
{
    const char *values[] = {"a\rb", "a\nb", "Bearer x\r\nX-Evil: 1"};
    outcome o;

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        create_value(
            &o, body_with_header(json_string("X-A"), json_string(values[i])));
        CHECK_FAILS(&o, MR_EINVALID_FIELD, "Remove CR, LF and NUL");
        outcome_clear(&o);
    }

    /* A NUL cannot come through the parser, but the check does not rely on
     * that. */
    create_value(
        &o, body_with_header(json_string("X-A"), json_stringn("a\0b", 3)));
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "Remove CR, LF and NUL");
    outcome_clear(&o);
}

static void
create_header_value_not_in_detail(void)
{
    char *value = repeat('s', GW_HEADER_VALUE_MAX + 1);
    outcome o;

    value[0] = 'Z';
    create_value(&o, body_with_header(json_string("X-A"), json_string(value)));
    MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
    MR_CHECK(strstr(o.detail, "Zsss") == NULL);
    outcome_clear(&o);
    free(value);
}

static void
create_auth_type_invalid(void)
{
    outcome o;

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"auth_type\": \"basic\"}");
    MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
    MR_CHECK_STR(o.detail, "Set 'auth_type' to \"headers\" or \"oauth\": got "
                           "another string");
    outcome_clear(&o);

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"auth_type\": 1}");
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "got number");
    outcome_clear(&o);

    create(&o,
           "{\"name\": \"n\", \"url\": \"u\", \"auth_type\": \"headers\"}");
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK_INT(o.create.auth_type, ==,
                 MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS);
    outcome_clear(&o);
}

static void
create_oauth_mode_invalid(void)
{
    outcome o;

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"oauth_mode\": "
               "\"PER_USER_DYNAMIC_CLIENT\"}");
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "Set 'oauth_mode' to");
    outcome_clear(&o);

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"oauth_mode\": 7}");
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "got number");
    outcome_clear(&o);

    /* null is the unset mode, as responses show it. */
    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"oauth_mode\": null}");
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK_INT(o.create.oauth_mode, ==,
                 MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED);
    outcome_clear(&o);

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"oauth_mode\": "
               "\"per_user_dynamic_client\"}");
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK_INT(o.create.oauth_mode, ==,
                 MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT);
    outcome_clear(&o);
}

static void
create_provider_id_rules(void)
{
    outcome o;

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"oauth_provider_id\": "
               "null}");
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK_STR(o.create.oauth_provider_id, "");
    outcome_clear(&o);

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"oauth_provider_id\": "
               "\"not-a-uuid\"}");
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "Set 'oauth_provider_id' to a UUID");
    outcome_clear(&o);

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"oauth_provider_id\": "
               "\"0b9a5c1e-3f0d-4a57-9c53-7c2e8d1f6a42x\"}");
    MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
    outcome_clear(&o);

    create(&o, "{\"name\": \"n\", \"url\": \"u\", \"oauth_provider_id\": 5}");
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "got number");
    outcome_clear(&o);
}

static void
create_text_ids_rules(void)
{
    const char *fields[] = {"vendor_id", "external_system_id"};
    char *long_text = repeat('x', GW_TEXT_ID_MAX + 1);
    outcome o;

    for (size_t i = 0; i < 2; i++) {
        char expected[64];

        create_value(&o, json_pack("{s:s, s:s, s:b}", "name", "n", "url", "u",
                                   fields[i], 1));
        snprintf(expected, sizeof(expected),
                 "Set '%s' to a string: got "
                 "boolean",
                 fields[i]);
        MR_CHECK_INT(o.err, ==, MR_EINVALID_FIELD);
        MR_CHECK_STR(o.detail, expected);
        outcome_clear(&o);

        create_value(&o, json_pack("{s:s, s:s, s:s}", "name", "n", "url", "u",
                                   fields[i], long_text));
        CHECK_FAILS(&o, MR_EINVALID_FIELD, "at most 256 bytes");
        outcome_clear(&o);
    }
    free(long_text);
}

/* ---- PATCH /mcp-servers/{id} ---- */

static void
update_empty_object_changes_nothing(void)
{
    outcome o;

    update(&o, "{}");
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK(!o.update.has_url);
    MR_CHECK(!o.update.has_headers);
    MR_CHECK(!o.update.has_auth_type);
    MR_CHECK(!o.update.has_oauth_mode);
    MR_CHECK(!o.update.has_oauth_provider_id);
    outcome_clear(&o);
}

static void
update_sets_flags_of_present(void)
{
    outcome o;

    update(&o, "{\"url\": \"https://b\", \"headers\": [], \"auth_type\": "
               "\"oauth\", \"oauth_mode\": \"per_user_dynamic_client\", "
               "\"oauth_provider_id\": null}");
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK(o.update.has_url);
    MR_CHECK_STR(o.update.url, "https://b");
    MR_CHECK(o.update.has_headers);
    MR_CHECK_INT(o.update.n_headers, ==, 0);
    MR_CHECK(o.update.has_auth_type);
    MR_CHECK_INT(o.update.auth_type, ==,
                 MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH);
    MR_CHECK(o.update.has_oauth_mode);
    MR_CHECK(o.update.has_oauth_provider_id);
    MR_CHECK_STR(o.update.oauth_provider_id, "");
    outcome_clear(&o);
}

static void
update_null_mode_unsets_it(void)
{
    outcome o;

    update(&o, "{\"auth_type\": \"headers\", \"oauth_mode\": null}");
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK(o.update.has_oauth_mode);
    MR_CHECK_INT(o.update.oauth_mode, ==,
                 MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED);
    outcome_clear(&o);
}

static void
update_name_is_unknown(void)
{
    outcome o;

    update(&o, "{\"name\": \"renamed\"}");
    MR_CHECK_INT(o.err, ==, MR_EUNKNOWN_FIELD);
    MR_CHECK_STR(o.detail, "Remove 'name': it is not a field of this request");
    outcome_clear(&o);
}

static void
update_checks_header_rules(void)
{
    outcome o;

    update(&o, "{\"headers\": [{\"key\": \"Bad Key\", \"value\": \"v\"}]}");
    CHECK_FAILS(&o, MR_EINVALID_FIELD, "'headers[0].key'");
    outcome_clear(&o);
}

/* ---- POST /mcp-servers/{id}/oauth-provider ---- */

static void
register_without_body(void)
{
    Mcpreg__V1__RegisterOAuthProviderRequest req =
        MCPREG__V1__REGISTER_OAUTH_PROVIDER_REQUEST__INIT;
    char detail[GW_DETAIL_MAX] = "";

    MR_CHECK_INT(gw_json_to_register(NULL, &req, detail, sizeof(detail)), ==,
                 MR_OK);
    MR_CHECK_STR(req.ls_user_id, "");
}

static void
register_body_rules(void)
{
    Mcpreg__V1__RegisterOAuthProviderRequest req =
        MCPREG__V1__REGISTER_OAUTH_PROVIDER_REQUEST__INIT;
    char detail[GW_DETAIL_MAX] = "";
    json_t *body = json_object();

    MR_CHECK_INT(gw_json_to_register(body, &req, detail, sizeof(detail)), ==,
                 MR_OK);
    MR_CHECK_STR(req.ls_user_id, "");
    json_decref(body);

    body = json_pack("{s:s}", "ls_user_id", "user-7");
    MR_CHECK_INT(gw_json_to_register(body, &req, detail, sizeof(detail)), ==,
                 MR_OK);
    MR_CHECK_STR(req.ls_user_id, "user-7");
    json_decref(body);

    body = json_pack("{s:i}", "ls_user_id", 7);
    MR_CHECK_INT(gw_json_to_register(body, &req, detail, sizeof(detail)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK_STR(detail, "Set 'ls_user_id' to a string: got number");
    json_decref(body);

    body = json_pack("{s:s}", "user", "u");
    MR_CHECK_INT(gw_json_to_register(body, &req, detail, sizeof(detail)), ==,
                 MR_EUNKNOWN_FIELD);
    MR_CHECK(strstr(detail, "'user'") != NULL);
    json_decref(body);
}

static const mr_test_case cases[] = {
    {"body_empty_rejected", body_empty_rejected},
    {"body_malformed_rejected", body_malformed_rejected},
    {"body_duplicate_key_rejected", body_duplicate_key_rejected},
    {"body_invalid_utf8_rejected", body_invalid_utf8_rejected},
    {"body_deep_nesting_rejected", body_deep_nesting_rejected},
    {"body_array_rejected", body_array_rejected},
    {"create_minimal_accepted", create_minimal_accepted},
    {"create_all_fields_accepted", create_all_fields_accepted},
    {"create_name_missing", create_name_missing},
    {"create_name_empty", create_name_empty},
    {"create_name_wrong_type", create_name_wrong_type},
    {"create_name_length_limit", create_name_length_limit},
    {"create_url_missing", create_url_missing},
    {"create_url_wrong_type", create_url_wrong_type},
    {"create_url_length_limit", create_url_length_limit},
    {"create_unknown_member", create_unknown_member},
    {"create_unknown_member_name_cut", create_unknown_member_name_cut},
    {"create_headers_not_array", create_headers_not_array},
    {"create_headers_count_limit", create_headers_count_limit},
    {"create_header_not_object", create_header_not_object},
    {"create_header_key_missing", create_header_key_missing},
    {"create_header_value_missing", create_header_value_missing},
    {"create_header_extra_member", create_header_extra_member},
    {"create_header_key_wrong_type", create_header_key_wrong_type},
    {"create_header_key_not_token", create_header_key_not_token},
    {"create_header_key_length_limit", create_header_key_length_limit},
    {"create_header_value_wrong_type", create_header_value_wrong_type},
    {"create_header_value_length_limit", create_header_value_length_limit},
    {"create_header_value_control_chars", create_header_value_control_chars},
    {"create_header_value_not_in_detail", create_header_value_not_in_detail},
    {"create_auth_type_invalid", create_auth_type_invalid},
    {"create_oauth_mode_invalid", create_oauth_mode_invalid},
    {"create_provider_id_rules", create_provider_id_rules},
    {"create_text_ids_rules", create_text_ids_rules},
    {"update_empty_object_changes_nothing",
     update_empty_object_changes_nothing},
    {"update_sets_flags_of_present", update_sets_flags_of_present},
    {"update_null_mode_unsets_it", update_null_mode_unsets_it},
    {"update_name_is_unknown", update_name_is_unknown},
    {"update_checks_header_rules", update_checks_header_rules},
    {"register_without_body", register_without_body},
    {"register_body_rules", register_body_rules},
};

MR_TEST_MAIN(cases)
