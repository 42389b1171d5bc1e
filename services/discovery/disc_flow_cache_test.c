/* disc_flow_cache_test.c - a flow started from another flow's discovered
 * metadata registers at once, with the same endpoints and scope. */
#include <string.h>

#include "disc_flow.h"
#include "mr_test.h"
#include "mr_util.h"

#define MCP_URL "https://mcp.example.com/mcp"
#define PRM_URL                                                               \
    "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
#define REGISTER_URL "https://as.example.com/register"
#define REDIRECT_URI "https://mcpreg.example.com/v1/deepagents/oauth/callback"

static const char *const challenge[] = {
    "Bearer resource_metadata=\"" PRM_URL "\", scope=\"files:read\"", NULL};

static const char prm_body[] =
    "{\"resource\":\"https://mcp.example.com/mcp\","
    "\"authorization_servers\":[\"https://as.example.com\"]}";

static const char as_body[] =
    "{\"issuer\":\"https://as.example.com\","
    "\"authorization_endpoint\":\"https://as.example.com/authorize\","
    "\"token_endpoint\":\"https://as.example.com/token\","
    "\"registration_endpoint\":\"" REGISTER_URL "\","
    "\"code_challenge_methods_supported\":[\"S256\"]}";

static const char client_body[] =
    "{\"client_id\":\"c-1\",\"client_secret\":\"s-1\","
    "\"token_endpoint_auth_method\":\"client_secret_basic\"}";

static mr_allow_list no_hosts;
static const disc_flow_config cfg = {.allow = &no_hosts,
                                     .redirect_uri = REDIRECT_URI};

/* answer_cached steps flow with status, body and a Cache-Control value
 * (NULL for none), and the probe's challenge. */
static disc_flow_state
answer_cached(disc_flow *flow, long status, const char *body,
              const char *cache_control)
{
    disc_cache_headers headers = {.cache_control = (char *)cache_control};
    disc_response resp = {
        .net = DISC_NET_OK,
        .status = status,
        .content_type = "application/json",
        .www_authenticate = challenge,
        .nwww_authenticate = status == 401 ? 1 : 0,
        .cache_headers = &headers,
        .body = body,
        .body_len = strlen(body),
    };

    return disc_flow_step(flow, &resp);
}

/* answer steps flow with status and body, and the probe's challenge. */
static disc_flow_state
answer(disc_flow *flow, long status, const char *body)
{
    return answer_cached(flow, status, body, NULL);
}

/* discover runs a full flow and returns what it discovered. */
static void
discover(disc_cache_entry *entry)
{
    disc_flow *flow = NULL;

    MR_CHECK_INT(disc_flow_new(&cfg, MCP_URL, &flow), ==, MR_OK);
    MR_CHECK_INT(disc_flow_step(flow, NULL), ==, DISC_FLOW_FETCH);
    MR_CHECK(!disc_flow_discovered(flow, entry));
    MR_CHECK_INT(answer(flow, 401, "{}"), ==, DISC_FLOW_FETCH);
    MR_CHECK_INT(answer(flow, 200, prm_body), ==, DISC_FLOW_FETCH);
    MR_CHECK(!disc_flow_discovered(flow, entry));

    /* The registration POST is next: the metadata is known by now. */
    MR_CHECK_INT(answer(flow, 200, as_body), ==, DISC_FLOW_FETCH);
    MR_CHECK_STR(disc_flow_request(flow)->url, REGISTER_URL);
    MR_CHECK(disc_flow_discovered(flow, entry));
    disc_flow_free(flow);
}

static void
test_discovered_entry_contents(void)
{
    disc_cache_entry entry = {0};

    discover(&entry);
    MR_CHECK_STR(entry.resource, "https://mcp.example.com/mcp");
    MR_CHECK_STR(entry.scope, "files:read");
    MR_CHECK_STR(entry.as.issuer, "https://as.example.com");
    MR_CHECK_STR(entry.as.registration_endpoint, REGISTER_URL);
    MR_CHECK(!entry.freshness.limited);
    disc_cache_entry_free(&entry);
}

/* The entry expires with the shortest-lived metadata response. The
 * probe's no-store does not count, and neither does a 404 without
 * caching headers. */
static void
test_discovered_entry_freshness(void)
{
    disc_cache_entry entry = {0};
    disc_flow *flow = NULL;
    int64_t before_ms = mr_mono_ms();
    int64_t after_ms;

    MR_CHECK_INT(disc_flow_new(&cfg, MCP_URL, &flow), ==, MR_OK);
    MR_CHECK_INT(disc_flow_step(flow, NULL), ==, DISC_FLOW_FETCH);
    MR_CHECK_INT(answer_cached(flow, 401, "", "no-store"), ==,
                 DISC_FLOW_FETCH);
    MR_CHECK_INT(answer_cached(flow, 200, prm_body, "max-age=600"), ==,
                 DISC_FLOW_FETCH);
    MR_CHECK_INT(answer(flow, 404, ""), ==, DISC_FLOW_FETCH);
    MR_CHECK_INT(answer_cached(flow, 200, as_body, "public, max-age=60"), ==,
                 DISC_FLOW_FETCH);
    after_ms = mr_mono_ms();

    MR_CHECK(disc_flow_discovered(flow, &entry));
    MR_CHECK(entry.freshness.limited);
    MR_CHECK_INT(entry.freshness.expires_ms, >=, before_ms + 60000);
    MR_CHECK_INT(entry.freshness.expires_ms, <=, after_ms + 60000);
    disc_cache_entry_free(&entry);
    disc_flow_free(flow);
}

/* A metadata response with no-store gives an entry that expires at once,
 * while the probe's own max-age is not counted. */
static void
test_discovered_entry_no_store(void)
{
    disc_cache_entry entry = {0};
    disc_flow *flow = NULL;
    int64_t after_ms;

    MR_CHECK_INT(disc_flow_new(&cfg, MCP_URL, &flow), ==, MR_OK);
    MR_CHECK_INT(disc_flow_step(flow, NULL), ==, DISC_FLOW_FETCH);
    MR_CHECK_INT(answer_cached(flow, 401, "", "max-age=1"), ==,
                 DISC_FLOW_FETCH);
    MR_CHECK_INT(answer_cached(flow, 200, prm_body, "no-store"), ==,
                 DISC_FLOW_FETCH);
    MR_CHECK_INT(answer(flow, 200, as_body), ==, DISC_FLOW_FETCH);
    after_ms = mr_mono_ms();

    MR_CHECK(disc_flow_discovered(flow, &entry));
    MR_CHECK(entry.freshness.limited);
    MR_CHECK_INT(entry.freshness.expires_ms, <=, after_ms);
    MR_CHECK_INT(
        disc_freshness_ttl_ms(&entry.freshness, after_ms, 300000, 300000), ==,
        0);
    disc_cache_entry_free(&entry);
    disc_flow_free(flow);
}

static void
test_cached_flow_registers_at_once(void)
{
    disc_cache_entry entry = {0};
    disc_cache_entry again = {0};
    disc_flow *flow = NULL;
    disc_result result;

    discover(&entry);
    MR_CHECK_INT(disc_flow_new(&cfg, MCP_URL, &flow), ==, MR_OK);
    MR_CHECK_INT(disc_flow_use_cached(flow, &entry), ==, MR_OK);
    disc_cache_entry_free(&entry);

    MR_CHECK_INT(disc_flow_step(flow, NULL), ==, DISC_FLOW_FETCH);
    MR_CHECK_STR(disc_flow_request(flow)->url, REGISTER_URL);
    MR_CHECK(strstr(disc_flow_request(flow)->body,
                    "\"scope\":\"files:read\"") != NULL);
    MR_CHECK(!disc_flow_discovered(flow, &again));

    MR_CHECK_INT(answer(flow, 201, client_body), ==, DISC_FLOW_DONE);
    disc_flow_result(flow, &result);
    MR_CHECK_STR(result.resource, "https://mcp.example.com/mcp");
    MR_CHECK_STR(result.token_endpoint, "https://as.example.com/token");
    MR_CHECK_STR(result.scope, "files:read");
    MR_CHECK_STR(result.client->client_id, "c-1");
    disc_flow_free(flow);
}

static void
test_cached_flow_checks_url(void)
{
    disc_cache_entry entry = {0};
    disc_flow *flow = NULL;

    discover(&entry);
    MR_CHECK_INT(disc_flow_new(&cfg, "http://mcp.example.com/mcp", &flow), ==,
                 MR_OK);
    MR_CHECK_INT(disc_flow_use_cached(flow, &entry), ==, MR_OK);
    MR_CHECK_INT(disc_flow_step(flow, NULL), ==, DISC_FLOW_FAILED);
    disc_cache_entry_free(&entry);
    disc_flow_free(flow);
}

static const mr_test_case cases[] = {
    {"discovered_entry_contents", test_discovered_entry_contents},
    {"discovered_entry_freshness", test_discovered_entry_freshness},
    {"discovered_entry_no_store", test_discovered_entry_no_store},
    {"cached_flow_registers_at_once", test_cached_flow_registers_at_once},
    {"cached_flow_checks_url", test_cached_flow_checks_url},
};

MR_TEST_MAIN(cases)
