/* disc_meta_test.c - unit tests of the metadata documents and dynamic
 * client registration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "disc_meta.h"
#include "mr_test.h"

static mr_allow_list no_hosts;

/* starts_with returns whether text begins with prefix; the tables use it
 * where the rest of a reason comes from jansson and may change with it. */
static bool
starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static mr_err
parse_prm(const char *body, disc_prm *out, char *why)
{
    return disc_prm_parse(body, strlen(body), out, why, DISC_DETAIL_MAX);
}

static void
test_prm_valid(void)
{
    disc_prm prm;
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(parse_prm("{\"resource\":\"https://a.example/mcp\","
                           "\"authorization_servers\":[\"https://as.example\","
                           "\"https://as2.example\"],"
                           "\"scopes_supported\":[\"read\",\"write\"],"
                           "\"bearer_methods_supported\":[\"header\"]}",
                           &prm, why),
                 ==, MR_OK);
    MR_CHECK_STR(prm.resource, "https://a.example/mcp");
    MR_CHECK_INT(prm.nauthorization_servers, ==, 2);
    MR_CHECK_STR(prm.authorization_servers[0], "https://as.example");
    MR_CHECK_STR(prm.authorization_servers[1], "https://as2.example");
    MR_CHECK_STR(prm.scopes, "read write");
    disc_prm_free(&prm);
}

static void
test_prm_resource_kept_byte_for_byte(void)
{
    disc_prm prm;
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(parse_prm("{\"resource\":\"HTTPS://A.example:443/mcp/\","
                           "\"authorization_servers\":[\"https://as\"]}",
                           &prm, why),
                 ==, MR_OK);
    MR_CHECK_STR(prm.resource, "HTTPS://A.example:443/mcp/");
    MR_CHECK(prm.scopes == NULL);
    disc_prm_free(&prm);
}

static void
test_prm_optional_scopes(void)
{
    disc_prm prm;
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(parse_prm("{\"resource\":\"https://a\","
                           "\"authorization_servers\":[\"https://as\"],"
                           "\"scopes_supported\":null}",
                           &prm, why),
                 ==, MR_OK);
    MR_CHECK(prm.scopes == NULL);
    disc_prm_free(&prm);

    MR_CHECK_INT(parse_prm("{\"resource\":\"https://a\","
                           "\"authorization_servers\":[\"https://as\"],"
                           "\"scopes_supported\":[]}",
                           &prm, why),
                 ==, MR_OK);
    MR_CHECK(prm.scopes == NULL);
    disc_prm_free(&prm);
}

static void
test_prm_invalid_documents(void)
{
    static const struct {
        const char *body;
        const char *why;
    } cases[] = {
        {"<html>not found</html>", "the body is not valid JSON ("},
        {"[1]", "the body is a JSON array, not an object"},
        {"{}", "the document has no string resource"},
        {"{\"resource\":\"\",\"authorization_servers\":[\"https://as\"]}",
         "the document has no string resource"},
        {"{\"resource\":7,\"authorization_servers\":[\"https://as\"]}",
         "the document has no string resource"},
        {"{\"resource\":\"https://a\"}",
         "the document has no authorization_servers array of strings"},
        {"{\"resource\":\"https://a\",\"authorization_servers\":[]}",
         "the document has no authorization_servers array of strings"},
        {"{\"resource\":\"https://a\",\"authorization_servers\":\"https://"
         "as\"}",
         "the document has no authorization_servers array of strings"},
        {"{\"resource\":\"https://a\",\"authorization_servers\":[1]}",
         "the document has no authorization_servers array of strings"},
        {"{\"resource\":\"https://a\",\"authorization_servers\":[\"\"]}",
         "the document has no authorization_servers array of strings"},
        {"{\"resource\":\"https://a\",\"authorization_servers\":[\"x\"],"
         "\"scopes_supported\":\"read\"}",
         "scopes_supported is not an array of strings"},
        {"{\"resource\":\"https://a\",\"authorization_servers\":[\"x\"],"
         "\"scopes_supported\":[\"two words\"]}",
         "scopes_supported item 0 is not a scope token"},
        {"{\"resource\":\"https://a\",\"resource\":\"https://b\","
         "\"authorization_servers\":[\"x\"]}",
         "the body is not valid JSON (duplicate object key"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        disc_prm prm;
        char why[DISC_DETAIL_MAX] = "";
        mr_err err = parse_prm(cases[i].body, &prm, why);

        if (err != MR_ENO_RESOURCE_METADATA ||
            !starts_with(why, cases[i].why)) {
            fprintf(stderr, "    body: %s\n    why: %s\n", cases[i].body, why);
        }
        MR_CHECK_INT(err, ==, MR_ENO_RESOURCE_METADATA);
        MR_CHECK(starts_with(why, cases[i].why));
        MR_CHECK(prm.resource == NULL);
    }
}

/* check_resource runs disc_prm_check_resource on a resource and an MCP
 * server URL and returns its result, with the reason in why. */
static mr_err
check_resource(const char *resource, const char *mcp_text, char *why)
{
    disc_prm prm = {.resource = (char *)resource};
    disc_url mcp_url;
    const char *reason = NULL;
    mr_err err;

    MR_CHECK_INT(disc_url_parse(mcp_text, &mcp_url, &reason), ==, MR_OK);
    err = disc_prm_check_resource(&prm, &mcp_url, why, DISC_DETAIL_MAX);
    disc_url_free(&mcp_url);
    return err;
}

static void
test_prm_resource_matches(void)
{
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(
        check_resource("https://a.example/mcp", "https://a.example/mcp", why),
        ==, MR_OK);
    MR_CHECK_INT(
        check_resource("https://a.example/mcp/", "https://a.example/mcp", why),
        ==, MR_OK);
    MR_CHECK_INT(
        check_resource("https://a.example", "https://a.example/mcp", why), ==,
        MR_OK);
    MR_CHECK_INT(check_resource("https://A.EXAMPLE:443/",
                                "https://a.example/x/mcp", why),
                 ==, MR_OK);
}

static void
test_prm_resource_mismatches(void)
{
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(
        check_resource("https://b.example/mcp", "https://a.example/mcp", why),
        ==, MR_ERESOURCE_MISMATCH);
    MR_CHECK_STR(why, "resource \"https://b.example/mcp\" is not on the MCP "
                      "server URL's origin");

    MR_CHECK_INT(
        check_resource("http://a.example/mcp", "https://a.example/mcp", why),
        ==, MR_ERESOURCE_MISMATCH);
    MR_CHECK_INT(check_resource("https://a.example:8443/mcp",
                                "https://a.example/mcp", why),
                 ==, MR_ERESOURCE_MISMATCH);

    MR_CHECK_INT(
        check_resource("https://a.example/mc", "https://a.example/mcp", why),
        ==, MR_ERESOURCE_MISMATCH);
    MR_CHECK_STR(why, "resource \"https://a.example/mc\" does not cover the "
                      "MCP server URL's path \"/mcp\"");

    MR_CHECK_INT(check_resource("https://a.example/mcp/sub",
                                "https://a.example/mcp", why),
                 ==, MR_ERESOURCE_MISMATCH);
    MR_CHECK_INT(check_resource("/mcp", "https://a.example/mcp", why), ==,
                 MR_ERESOURCE_MISMATCH);
    MR_CHECK_STR(why,
                 "resource \"/mcp\" is not an absolute http or https URL");
}

static const char *const good_asm =
    "{\"issuer\":\"https://as.example\","
    "\"authorization_endpoint\":\"https://as.example/authorize\","
    "\"token_endpoint\":\"https://as.example/token\","
    "\"registration_endpoint\":\"https://as.example/register\","
    "\"revocation_endpoint\":\"https://as.example/revoke\","
    "\"code_challenge_methods_supported\":[\"plain\",\"S256\"],"
    "\"token_endpoint_auth_methods_supported\":[\"private_key_jwt\","
    "\"client_secret_post\",\"none\"]}";

static mr_err
parse_asm(const char *body, const char *issuer, disc_asm *out,
          bool *is_document, char *why)
{
    return disc_asm_parse(body, strlen(body), issuer, &no_hosts, out,
                          is_document, why, DISC_DETAIL_MAX);
}

static void
test_asm_valid(void)
{
    disc_asm meta;
    bool is_document = false;
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(
        parse_asm(good_asm, "https://as.example", &meta, &is_document, why),
        ==, MR_OK);
    MR_CHECK(is_document);
    MR_CHECK_STR(meta.issuer, "https://as.example");
    MR_CHECK_STR(meta.authorization_endpoint, "https://as.example/authorize");
    MR_CHECK_STR(meta.token_endpoint, "https://as.example/token");
    MR_CHECK_STR(meta.registration_endpoint, "https://as.example/register");
    MR_CHECK_STR(meta.revocation_endpoint, "https://as.example/revoke");
    MR_CHECK_INT(meta.auth_methods, ==,
                 DISC_AUTH_SECRET_POST | DISC_AUTH_NONE);
    MR_CHECK_STR(disc_choose_auth_method(&meta), "client_secret_post");
    disc_asm_free(&meta);
}

static void
test_asm_issuer_trailing_slash(void)
{
    disc_asm meta;
    bool is_document = false;
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(
        parse_asm(good_asm, "https://as.example/", &meta, &is_document, why),
        ==, MR_OK);
    MR_CHECK_STR(meta.issuer, "https://as.example");
    disc_asm_free(&meta);

    MR_CHECK_INT(parse_asm("{\"issuer\":\"https://as.example/t/\"}",
                           "https://as.example/t", &meta, &is_document, why),
                 ==, MR_EISSUER_MISMATCH);
    MR_CHECK(is_document);
    MR_CHECK_STR(why, "its issuer \"https://as.example/t/\" is not "
                      "\"https://as.example/t\"");
}

static void
test_asm_issuer_mismatch(void)
{
    static const char *const found[] = {
        "https://evil.example",   "https://as.example/tenant",
        "http://as.example",      "https://as.example//",
        "https://as.example:443",
    };

    for (size_t i = 0; i < sizeof(found) / sizeof(found[0]); i++) {
        char body[256];
        disc_asm meta;
        bool is_document = false;
        char why[DISC_DETAIL_MAX] = "";

        snprintf(body, sizeof(body),
                 "{\"issuer\":\"%s\",\"code_challenge_methods_supported\":"
                 "[\"S256\"]}",
                 found[i]);
        MR_CHECK_INT(
            parse_asm(body, "https://as.example", &meta, &is_document, why),
            ==, MR_EISSUER_MISMATCH);
        MR_CHECK(is_document);
        MR_CHECK(meta.issuer == NULL);
    }
}

static void
test_asm_not_documents(void)
{
    static const char *const bodies[] = {
        "<!doctype html><title>Login</title>",
        "[]",
        "{\"error\":\"not_found\"}",
        "{\"issuer\":7}",
        "{\"issuer\":\"\"}",
    };

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        disc_asm meta;
        bool is_document = true;
        char why[DISC_DETAIL_MAX] = "";

        MR_CHECK_INT(parse_asm(bodies[i], "https://as.example", &meta,
                               &is_document, why),
                     ==, MR_EAS_METADATA);
        MR_CHECK(!is_document);
        MR_CHECK(why[0] != '\0');
    }
}

static void
test_asm_without_s256(void)
{
    static const char *const bodies[] = {
        "{\"issuer\":\"https://as.example\"}",
        "{\"issuer\":\"https://as.example\","
        "\"code_challenge_methods_supported\":[\"plain\"]}",
        "{\"issuer\":\"https://as.example\","
        "\"code_challenge_methods_supported\":\"S256\"}",
        "{\"issuer\":\"https://as.example\","
        "\"code_challenge_methods_supported\":[\"s256\"]}",
    };

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        disc_asm meta;
        bool is_document = false;
        char why[DISC_DETAIL_MAX] = "";

        MR_CHECK_INT(parse_asm(bodies[i], "https://as.example", &meta,
                               &is_document, why),
                     ==, MR_EPKCE);
        MR_CHECK_STR(why,
                     "code_challenge_methods_supported does not list S256");
    }
}

static void
test_asm_endpoint_checks(void)
{
    static const struct {
        const char *members;
        mr_err err;
        const char *why;
    } cases[] = {
        {"\"token_endpoint\":\"https://as/token\"", MR_EAS_METADATA,
         "the document has no authorization_endpoint"},
        {"\"authorization_endpoint\":\"https://as/a\"", MR_EAS_METADATA,
         "the document has no token_endpoint"},
        {"\"authorization_endpoint\":\"/authorize\","
         "\"token_endpoint\":\"https://as/token\"",
         MR_EAS_METADATA,
         "authorization_endpoint \"/authorize\" is not an absolute http or "
         "https URL"},
        {"\"authorization_endpoint\":\"https://as/a\","
         "\"token_endpoint\":\"http://as/token\"",
         MR_EBLOCKED_ADDRESS,
         "token_endpoint \"http://as/token\" uses http, which only hosts "
         "listed on --dev-allow-hosts and IP addresses in its CIDR ranges "
         "may use"},
        {"\"authorization_endpoint\":\"https://as/a\","
         "\"token_endpoint\":[\"https://as/token\"]",
         MR_EAS_METADATA, "token_endpoint is not a string"},
        {"\"authorization_endpoint\":\"https://as/a\","
         "\"token_endpoint\":\"https://as/t\","
         "\"registration_endpoint\":\"javascript:alert(1)\"",
         MR_EAS_METADATA,
         "registration_endpoint \"javascript:alert(1)\" is not an absolute "
         "http or https URL"},
        {"\"authorization_endpoint\":\"https://as/a\","
         "\"token_endpoint\":\"https://as/t\","
         "\"token_endpoint_auth_methods_supported\":\"none\"",
         MR_EAS_METADATA,
         "token_endpoint_auth_methods_supported is not an array of "
         "strings"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        disc_asm meta;
        bool is_document = false;
        char why[DISC_DETAIL_MAX] = "";
        mr_err err;

        snprintf(body, sizeof(body),
                 "{\"issuer\":\"https://as\",\"code_challenge_methods_"
                 "supported\":[\"S256\"],%s}",
                 cases[i].members);
        err = parse_asm(body, "https://as", &meta, &is_document, why);
        if (err != cases[i].err || strcmp(why, cases[i].why) != 0) {
            fprintf(stderr, "    members: %s\n", cases[i].members);
        }
        MR_CHECK_INT(err, ==, cases[i].err);
        MR_CHECK_STR(why, cases[i].why);
        MR_CHECK(is_document);
    }
}

static void
test_asm_http_endpoints_allowed_hosts(void)
{
    mr_allow_list allow;
    const char *bad = NULL;
    const char *body = "{\"issuer\":\"http://127.0.0.1:9\","
                       "\"code_challenge_methods_supported\":[\"S256\"],"
                       "\"authorization_endpoint\":\"http://127.0.0.1:9/a\","
                       "\"token_endpoint\":\"http://127.0.0.1:9/t\"}";
    disc_asm meta;
    bool is_document = false;
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(mr_allow_parse("127.0.0.1", &allow, &bad), ==, MR_OK);
    MR_CHECK_INT(disc_asm_parse(body, strlen(body), "http://127.0.0.1:9",
                                &allow, &meta, &is_document, why, sizeof(why)),
                 ==, MR_OK);
    MR_CHECK_STR(meta.token_endpoint, "http://127.0.0.1:9/t");
    MR_CHECK(meta.registration_endpoint == NULL);
    MR_CHECK_INT(meta.auth_methods, ==, DISC_AUTH_SECRET_BASIC);
    disc_asm_free(&meta);
    mr_allow_free(&allow);
}

static void
test_asm_invalid_revocation_dropped(void)
{
    const char *body = "{\"issuer\":\"https://as\","
                       "\"code_challenge_methods_supported\":[\"S256\"],"
                       "\"authorization_endpoint\":\"https://as/a\","
                       "\"token_endpoint\":\"https://as/t\","
                       "\"revocation_endpoint\":\"http://as/revoke\"}";
    disc_asm meta;
    bool is_document = false;
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(parse_asm(body, "https://as", &meta, &is_document, why), ==,
                 MR_OK);
    MR_CHECK(meta.revocation_endpoint == NULL);
    disc_asm_free(&meta);
}

static void
test_asm_default(void)
{
    disc_asm meta;

    MR_CHECK_INT(disc_asm_default("https://mcp.example:8443", &meta), ==,
                 MR_OK);
    MR_CHECK_STR(meta.issuer, "https://mcp.example:8443");
    MR_CHECK_STR(meta.authorization_endpoint,
                 "https://mcp.example:8443/authorize");
    MR_CHECK_STR(meta.token_endpoint, "https://mcp.example:8443/token");
    MR_CHECK_STR(meta.registration_endpoint,
                 "https://mcp.example:8443/register");
    MR_CHECK(meta.revocation_endpoint == NULL);
    MR_CHECK_STR(disc_choose_auth_method(&meta), "client_secret_basic");
    disc_asm_free(&meta);
}

static void
test_choose_auth_method_order(void)
{
    disc_asm meta = {0};

    meta.auth_methods =
        DISC_AUTH_NONE | DISC_AUTH_SECRET_POST | DISC_AUTH_SECRET_BASIC;
    MR_CHECK_STR(disc_choose_auth_method(&meta), "client_secret_basic");
    meta.auth_methods = DISC_AUTH_NONE | DISC_AUTH_SECRET_POST;
    MR_CHECK_STR(disc_choose_auth_method(&meta), "client_secret_post");
    meta.auth_methods = DISC_AUTH_NONE;
    MR_CHECK_STR(disc_choose_auth_method(&meta), "none");
    meta.auth_methods = 0;
    MR_CHECK(disc_choose_auth_method(&meta) == NULL);
}

static void
test_dcr_body(void)
{
    char *body = disc_dcr_body("https://mcpreg.example/cb",
                               "client_secret_basic", "read write");

    MR_CHECK_STR(body, "{\"redirect_uris\":[\"https://mcpreg.example/cb\"],"
                       "\"grant_types\":[\"authorization_code\","
                       "\"refresh_token\"],"
                       "\"response_types\":[\"code\"],"
                       "\"client_name\":\"mcpreg\","
                       "\"application_type\":\"web\","
                       "\"token_endpoint_auth_method\":"
                       "\"client_secret_basic\","
                       "\"scope\":\"read write\"}");
    free(body);

    body = disc_dcr_body("https://x/cb", "none", NULL);
    MR_CHECK(body != NULL);
    MR_CHECK(strstr(body, "\"scope\"") == NULL);
    MR_CHECK(strstr(body, "\"token_endpoint_auth_method\":\"none\"") != NULL);
    free(body);
}

static mr_err
parse_client(const char *body, const char *requested, disc_client *out,
             char *why)
{
    return disc_dcr_parse_client(body, strlen(body), requested, &no_hosts, out,
                                 why, DISC_DETAIL_MAX);
}

static void
test_dcr_client_full(void)
{
    disc_client client;
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(
        parse_client("{\"client_id\":\"c1\",\"client_secret\":\"s1\","
                     "\"token_endpoint_auth_method\":\"client_secret_post\","
                     "\"client_id_issued_at\":1700000000,"
                     "\"client_secret_expires_at\":1800000000,"
                     "\"registration_access_token\":\"rat\","
                     "\"registration_client_uri\":\"https://as/reg/c1\","
                     "\"redirect_uris\":[\"https://x/cb\"]}",
                     "client_secret_basic", &client, why),
        ==, MR_OK);
    MR_CHECK_STR(client.client_id, "c1");
    MR_CHECK_STR(client.client_secret, "s1");
    MR_CHECK_STR(client.token_endpoint_auth_method, "client_secret_post");
    MR_CHECK_INT(client.client_id_issued_at, ==, 1700000000);
    MR_CHECK_INT(client.client_secret_expires_at, ==, 1800000000);
    MR_CHECK_STR(client.registration_access_token, "rat");
    MR_CHECK_STR(client.registration_client_uri, "https://as/reg/c1");
    disc_client_free(&client);
}

/* RFC 6749 appendix A allows only visible ASCII and space in a client_id
 * and a client_secret, and the secret never appears in the reason. */
static void
test_dcr_client_control_rejected(void)
{
    const char *bodies[] = {
        "{\"client_id\":\"c\\u0001x\",\"client_secret\":\"s\"}",
        "{\"client_id\":\"c\\nx\",\"client_secret\":\"s\"}",
        "{\"client_id\":\"c\",\"client_secret\":\"zq\\u007fzq\"}",
    };
    disc_client client;
    char why[DISC_DETAIL_MAX] = "";

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        MR_CHECK_INT(
            parse_client(bodies[i], "client_secret_basic", &client, why), ==,
            MR_EREGISTRATION_INVALID);
        MR_CHECK(strstr(why, "control character") != NULL);
        MR_CHECK(strstr(why, "zq") == NULL);
    }
}

static void
test_dcr_client_absent_members(void)
{
    disc_client client;
    char why[DISC_DETAIL_MAX] = "";

    MR_CHECK_INT(parse_client("{\"client_id\":\"c1\",\"client_secret\":\"s\","
                              "\"client_secret_expires_at\":0,"
                              "\"registration_access_token\":null,"
                              "\"registration_client_uri\":\"\"}",
                              "client_secret_basic", &client, why),
                 ==, MR_OK);
    MR_CHECK_STR(client.token_endpoint_auth_method, "client_secret_basic");
    MR_CHECK_INT(client.client_secret_expires_at, ==, 0);
    MR_CHECK_INT(client.client_id_issued_at, ==, 0);
    MR_CHECK(client.registration_access_token == NULL);
    MR_CHECK(client.registration_client_uri == NULL);
    disc_client_free(&client);

    MR_CHECK_INT(parse_client("{\"client_id\":\"c2\",\"client_secret\":\"\","
                              "\"token_endpoint_auth_method\":\"none\","
                              "\"client_id_issued_at\":1.7e9}",
                              "client_secret_basic", &client, why),
                 ==, MR_OK);
    MR_CHECK(client.client_secret == NULL);
    MR_CHECK_STR(client.token_endpoint_auth_method, "none");
    MR_CHECK_INT(client.client_id_issued_at, ==, 1700000000);
    disc_client_free(&client);
}

static void
test_dcr_client_invalid(void)
{
    static const struct {
        const char *body;
        const char *why;
        mr_err err; /* MR_EREGISTRATION_INVALID when 0 */
    } cases[] = {
        {"not json", "the body is not valid JSON ("},
        {"{}", "the response has no client_id"},
        {"{\"client_id\":\"\"}", "the response has no client_id"},
        {"{\"client_id\":null}", "the response has no client_id"},
        {"{\"client_id\":5}", "client_id is not a string"},
        {"{\"client_id\":\"c\"}",
         "token_endpoint_auth_method client_secret_basic needs a "
         "client_secret, but the response has none",
         MR_EREGISTRATION_NO_SECRET},
        {"{\"client_id\":\"c\",\"client_secret\":null,"
         "\"token_endpoint_auth_method\":\"client_secret_post\"}",
         "token_endpoint_auth_method client_secret_post needs a "
         "client_secret, but the response has none",
         MR_EREGISTRATION_NO_SECRET},
        {"{\"client_id\":\"c\",\"client_secret\":\"s\","
         "\"token_endpoint_auth_method\":\"private_key_jwt\"}",
         "token_endpoint_auth_method \"private_key_jwt\" is not one mcpreg "
         "supports (client_secret_basic, client_secret_post, none)"},
        {"{\"client_id\":\"c\",\"client_secret\":\"s\","
         "\"client_secret_expires_at\":-1}",
         "client_secret_expires_at is not a non-negative integer"},
        {"{\"client_id\":\"c\",\"client_secret\":\"s\","
         "\"client_id_issued_at\":\"2024\"}",
         "client_id_issued_at is not a non-negative integer"},
        {"{\"client_id\":\"c\",\"client_secret\":\"s\","
         "\"client_id_issued_at\":1.5}",
         "client_id_issued_at is not a non-negative integer"},
        {"{\"client_id\":\"c\",\"client_secret\":\"s\","
         "\"registration_client_uri\":\"http://as/reg\"}",
         "registration_client_uri \"http://as/reg\" uses http, which only "
         "hosts listed on --dev-allow-hosts and IP addresses in its CIDR "
         "ranges may use"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        disc_client client;
        char why[DISC_DETAIL_MAX] = "";
        mr_err expected =
            cases[i].err != MR_OK ? cases[i].err : MR_EREGISTRATION_INVALID;
        mr_err err =
            parse_client(cases[i].body, "client_secret_basic", &client, why);

        if (err != expected || !starts_with(why, cases[i].why)) {
            fprintf(stderr, "    body: %s\n    why: %s\n", cases[i].body, why);
        }
        MR_CHECK_INT(err, ==, expected);
        MR_CHECK(starts_with(why, cases[i].why));
        MR_CHECK(client.client_id == NULL);
    }
}

static void
test_dcr_error_body(void)
{
    char out[DISC_DETAIL_MAX];
    const char *body =
        "{\"error\":\"invalid_redirect_uri\",\"error_description\":"
        "\"redirect_uris must use https\\n\\u00e9\"}";

    disc_dcr_parse_error(body, strlen(body), out, sizeof(out));
    MR_CHECK_STR(out, "invalid_redirect_uri: redirect_uris must use https???");

    body = "{\"error\":\"invalid_client_metadata\"}";
    disc_dcr_parse_error(body, strlen(body), out, sizeof(out));
    MR_CHECK_STR(out, "invalid_client_metadata");

    body = "<html>Forbidden</html>";
    disc_dcr_parse_error(body, strlen(body), out, sizeof(out));
    MR_CHECK_STR(out, "");

    body = "{\"error_description\":\"no code\"}";
    disc_dcr_parse_error(body, strlen(body), out, sizeof(out));
    MR_CHECK_STR(out, "");
}

static void
test_dcr_rejects_method(void)
{
    static const struct {
        const char *body;
        bool rejects;
    } cases[] = {
        {"{\"error\":\"invalid_client_metadata\",\"error_description\":"
         "\"client_secret_basic is not allowed\"}",
         true},
        {"{\"error\":\"invalid_client_metadata\",\"error_description\":"
         "\"unsupported token_endpoint_auth_method\"}",
         true},
        {"{\"error\":\"invalid_client_metadata\",\"error_description\":"
         "\"client_name is too long\"}",
         false},
        {"{\"error\":\"invalid_client_metadata\"}", false},
        {"{\"error\":\"invalid_client_metadata\",\"error_description\":"
         "null}",
         false},
        {"{\"error\":\"invalid_redirect_uri\",\"error_description\":"
         "\"client_secret_basic\"}",
         false},
        {"<html>client_secret_basic invalid_client_metadata</html>", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool rejects = disc_dcr_rejects_method(
            cases[i].body, strlen(cases[i].body), "client_secret_basic");

        if (rejects != cases[i].rejects) {
            fprintf(stderr, "    body: %s\n", cases[i].body);
        }
        MR_CHECK_INT(rejects, ==, cases[i].rejects);
    }
}

static void
test_dcr_error_body_bounded(void)
{
    char body[3072];
    char out[DISC_DETAIL_MAX];
    char long_text[1200];

    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    snprintf(body, sizeof(body),
             "{\"error\":\"%s\",\"error_description\":\"%s\"}", long_text,
             long_text);
    disc_dcr_parse_error(body, strlen(body), out, sizeof(out));
    MR_CHECK_INT(strlen(out), ==, 63 + 2 + 255);
    MR_CHECK(strncmp(out + 60, "...: ", 5) == 0);
    MR_CHECK_STR(out + strlen(out) - 3, "...");
}

static void
test_scope_valid(void)
{
    MR_CHECK(disc_scope_valid("read"));
    MR_CHECK(disc_scope_valid("mcp:tools files.read https://x/y"));
    MR_CHECK(!disc_scope_valid(""));
    MR_CHECK(!disc_scope_valid(" read"));
    MR_CHECK(!disc_scope_valid("read "));
    MR_CHECK(!disc_scope_valid("read  write"));
    MR_CHECK(!disc_scope_valid("a\"b"));
    MR_CHECK(!disc_scope_valid("a\\b"));
    MR_CHECK(!disc_scope_valid("a\tb"));
    MR_CHECK(!disc_scope_valid("caf\xc3\xa9"));
}

static void
test_media_type_is_json(void)
{
    static const char *const json[] = {
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;Charset=UTF-8",
        " application/json ",
        "application/json ; charset=utf-8",
        "application/problem+json",
        "application/vnd.api+json",
        "APPLICATION/LD+JSON",
    };
    static const char *const other[] = {
        "",
        "text/html",
        "text/html; charset=utf-8",
        "text/plain",
        "text/json",
        "application/jsonp",
        "application/json-seq",
        "application/xjson",
        "application/+json",
        "application/json+xml",
        "application/a/b+json",
        "application/json/x",
        "application/json, text/html",
        "application/ json",
        "application",
        "json",
        "multipart/related+json",
    };

    for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
        if (!disc_media_type_is_json(json[i])) {
            fprintf(stderr, "    Content-Type: \"%s\"\n", json[i]);
        }
        MR_CHECK(disc_media_type_is_json(json[i]));
    }
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        if (disc_media_type_is_json(other[i])) {
            fprintf(stderr, "    Content-Type: \"%s\"\n", other[i]);
        }
        MR_CHECK(!disc_media_type_is_json(other[i]));
    }
    MR_CHECK(!disc_media_type_is_json(NULL));
}

static const mr_test_case cases[] = {
    {"media_type_is_json", test_media_type_is_json},
    {"prm_valid", test_prm_valid},
    {"prm_resource_kept_byte_for_byte", test_prm_resource_kept_byte_for_byte},
    {"prm_optional_scopes", test_prm_optional_scopes},
    {"prm_invalid_documents", test_prm_invalid_documents},
    {"prm_resource_matches", test_prm_resource_matches},
    {"prm_resource_mismatches", test_prm_resource_mismatches},
    {"asm_valid", test_asm_valid},
    {"asm_issuer_trailing_slash", test_asm_issuer_trailing_slash},
    {"asm_issuer_mismatch", test_asm_issuer_mismatch},
    {"asm_not_documents", test_asm_not_documents},
    {"asm_without_s256", test_asm_without_s256},
    {"asm_endpoint_checks", test_asm_endpoint_checks},
    {"asm_http_endpoints_allowed_hosts",
     test_asm_http_endpoints_allowed_hosts},
    {"asm_invalid_revocation_dropped", test_asm_invalid_revocation_dropped},
    {"asm_default", test_asm_default},
    {"choose_auth_method_order", test_choose_auth_method_order},
    {"dcr_body", test_dcr_body},
    {"dcr_client_full", test_dcr_client_full},
    {"dcr_client_absent_members", test_dcr_client_absent_members},
    {"dcr_client_control_rejected", test_dcr_client_control_rejected},
    {"dcr_client_invalid", test_dcr_client_invalid},
    {"dcr_error_body", test_dcr_error_body},
    {"dcr_rejects_method", test_dcr_rejects_method},
    {"dcr_error_body_bounded", test_dcr_error_body_bounded},
    {"scope_valid", test_scope_valid},
};

MR_TEST_MAIN(cases)
