/* disc_flow_test.c - the discovery state machine driven by canned
 * responses, one script of request and response pairs per case. */
#include <stdio.h>
#include <string.h>

#include "disc_flow.h"
#include "mr_test.h"

#define MCP_URL "https://mcp.example.com/mcp"
#define PRM_PATH_URL                                                          \
    "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
#define PRM_ROOT_URL                                                          \
    "https://mcp.example.com/.well-known/oauth-protected-resource"
#define AS_ORIGIN    "https://as.example.com"
#define AS_URL       AS_ORIGIN "/.well-known/oauth-authorization-server"
#define REDIRECT_URI "https://mcpreg.example.com/v1/deepagents/oauth/callback"

#define CHALLENGE                                                             \
    "Bearer error=\"invalid_token\", resource_metadata=\"" PRM_PATH_URL       \
    "\", scope=\"files:read files:write\""

#define PRM_BODY                                                              \
    "{\"resource\":\"https://mcp.example.com/mcp\","                          \
    "\"authorization_servers\":[\"https://as.example.com\"],"                 \
    "\"scopes_supported\":[\"mcp:tools\",\"mcp:read\"]}"

#define AS_BODY                                                               \
    "{\"issuer\":\"https://as.example.com\","                                 \
    "\"authorization_endpoint\":\"https://as.example.com/authorize\","        \
    "\"token_endpoint\":\"https://as.example.com/token\","                    \
    "\"registration_endpoint\":\"https://as.example.com/register\","          \
    "\"revocation_endpoint\":\"https://as.example.com/revoke\","              \
    "\"code_challenge_methods_supported\":[\"S256\"]}"

#define CLIENT_BODY                                                           \
    "{\"client_id\":\"client-1\",\"client_secret\":\"secret-1\","             \
    "\"token_endpoint_auth_method\":\"client_secret_basic\","                 \
    "\"client_id_issued_at\":1700000000,\"client_secret_expires_at\":0,"      \
    "\"registration_access_token\":\"rat-1\","                                \
    "\"registration_client_uri\":\"https://as.example.com/register/"          \
    "client-1\"}"

/* exchange is one expected request and the canned response to it. */
typedef struct {
    disc_http_method method;
    const char *url;
    long status;
    const char *body;
    const char *challenges[3]; /* WWW-Authenticate values, NULL-ended */
    disc_net net;
    /* The Content-Type: NULL sends "application/json", and "" none. */
    const char *type;
    uint32_t retry_after_s; /* the response's Retry-After; 0 for none */
} exchange;

/* script_run is the outcome of running a script through a flow. */
typedef struct {
    disc_flow *flow;
    disc_flow_state state;
    size_t requests; /* requests the flow made */
    char last_body[2048];
    bool last_follow;
    bool probe_want_body;
    const char *last_content_type;
} script_run;

static mr_allow_list no_hosts;

static const char *
header_value(const disc_request *req, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        if (strncmp(req->headers[i], name, len) == 0 &&
            req->headers[i][len] == ':') {
            return req->headers[i] + len + 2;
        }
    }
    return NULL;
}

static void
record_request(script_run *run, const disc_request *req)
{
    if (run->requests == 0) {
        run->probe_want_body = req->want_body;
    }
    run->requests++;
    run->last_follow = req->follow_redirects;
    run->last_content_type = header_value(req, "Content-Type");
    snprintf(run->last_body, sizeof(run->last_body), "%.*s",
             (int)req->body_len, req->body != NULL ? req->body : "");
}

/* run_script_with drives a new flow for mcp_url through the n exchanges,
 * checking each request's method and URL, and returns the final state.
 * Free run.flow with disc_flow_free. */
static script_run
run_script_cfg(const disc_flow_config *cfg, const char *mcp_url,
               const disc_operator_client *operator_client,
               const exchange *script, size_t n)
{
    script_run run = {0};

    MR_CHECK_INT(disc_flow_new(cfg, mcp_url, &run.flow), ==, MR_OK);
    if (operator_client != NULL) {
        MR_CHECK_INT(disc_flow_add_operator_client(run.flow, operator_client),
                     ==, MR_OK);
    }
    run.state = disc_flow_step(run.flow, NULL);

    for (size_t i = 0; i < n && run.state == DISC_FLOW_FETCH; i++) {
        const disc_request *req = disc_flow_request(run.flow);
        size_t nchallenges = 0;
        disc_response resp;

        record_request(&run, req);
        if (strcmp(req->url, script[i].url) != 0) {
            fprintf(stderr, "    request %zu: %s\n", i, req->url);
        }
        MR_CHECK_STR(req->url, script[i].url);
        MR_CHECK_INT(req->method, ==, script[i].method);

        while (nchallenges < 3 && script[i].challenges[nchallenges] != NULL) {
            nchallenges++;
        }
        resp = (disc_response){
            .net = script[i].net,
            .net_detail = script[i].net != DISC_NET_OK ? "canned fault" : NULL,
            .status = script[i].status,
            .content_type =
                script[i].type != NULL ? script[i].type : "application/json",
            .www_authenticate = script[i].challenges,
            .nwww_authenticate = nchallenges,
            .body = script[i].body != NULL ? script[i].body : "",
            .body_len = script[i].body != NULL ? strlen(script[i].body) : 0,
            .retry_after_s = script[i].retry_after_s,
        };
        run.state = disc_flow_step(run.flow, &resp);
    }
    if (run.state == DISC_FLOW_FETCH) {
        fprintf(stderr, "    extra request: %s\n",
                disc_flow_request(run.flow)->url);
    }
    return run;
}

static script_run
run_script_with(const mr_allow_list *allow, const char *mcp_url,
                const exchange *script, size_t n)
{
    disc_flow_config cfg = {.allow = allow, .redirect_uri = REDIRECT_URI};

    return run_script_cfg(&cfg, mcp_url, NULL, script, n);
}

static script_run
run_script(const exchange *script, size_t n)
{
    return run_script_with(&no_hosts, MCP_URL, script, n);
}

#define RUN(script) run_script(script, sizeof(script) / sizeof(script[0]))

/* check_failed checks that the run failed with err after all requests of
 * the script, and that the detail contains each of the fragments. */
static void
check_failed(const script_run *run, size_t requests, mr_err err,
             const char *const *fragments)
{
    const char *detail = disc_flow_detail(run->flow);

    MR_CHECK_INT(run->state, ==, DISC_FLOW_FAILED);
    MR_CHECK_INT(run->requests, ==, requests);
    MR_CHECK_INT(disc_flow_error(run->flow), ==, err);
    for (size_t i = 0; fragments != NULL && fragments[i] != NULL; i++) {
        if (strstr(detail, fragments[i]) == NULL) {
            fprintf(stderr, "    detail: %s\n    missing: %s\n", detail,
                    fragments[i]);
        }
        MR_CHECK(strstr(detail, fragments[i]) != NULL);
    }
}

static void
test_well_behaved_path(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, "{}", {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 4);
    MR_CHECK(!run.probe_want_body);
    MR_CHECK(!run.last_follow);
    MR_CHECK_STR(run.last_content_type, "application/json");
    MR_CHECK_STR(run.last_body,
                 "{\"redirect_uris\":[\"" REDIRECT_URI "\"],"
                 "\"grant_types\":[\"authorization_code\",\"refresh_token\"],"
                 "\"response_types\":[\"code\"],\"client_name\":\"mcpreg\","
                 "\"application_type\":\"web\","
                 "\"token_endpoint_auth_method\":\"client_secret_basic\","
                 "\"scope\":\"files:read files:write\"}");

    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.resource, "https://mcp.example.com/mcp");
    MR_CHECK_STR(result.issuer, "https://as.example.com");
    MR_CHECK_STR(result.authorization_endpoint,
                 "https://as.example.com/authorize");
    MR_CHECK_STR(result.token_endpoint, "https://as.example.com/token");
    MR_CHECK_STR(result.registration_endpoint,
                 "https://as.example.com/register");
    MR_CHECK_STR(result.revocation_endpoint, "https://as.example.com/revoke");
    MR_CHECK_STR(result.scope, "files:read files:write");
    MR_CHECK_STR(result.redirect_uri, REDIRECT_URI);
    MR_CHECK_STR(result.client->client_id, "client-1");
    MR_CHECK_STR(result.client->client_secret, "secret-1");
    MR_CHECK_STR(result.client->token_endpoint_auth_method,
                 "client_secret_basic");
    MR_CHECK_INT(result.client->client_id_issued_at, ==, 1700000000);
    MR_CHECK_INT(result.client->client_secret_expires_at, ==, 0);
    MR_CHECK_STR(result.client->registration_access_token, "rat-1");
    MR_CHECK_STR(result.client->registration_client_uri,
                 "https://as.example.com/register/client-1");
    MR_CHECK_STR(disc_flow_detail(run.flow), "");
    MR_CHECK_INT(disc_flow_error(run.flow), ==, MR_OK);
    disc_flow_free(run.flow);
}

static void
test_probe_request_shape(void)
{
    disc_flow_config cfg = {.allow = &no_hosts, .redirect_uri = REDIRECT_URI};
    disc_flow *flow = NULL;
    const disc_request *req;

    MR_CHECK_INT(disc_flow_new(&cfg, MCP_URL, &flow), ==, MR_OK);
    MR_CHECK_INT(disc_flow_step(flow, NULL), ==, DISC_FLOW_FETCH);
    req = disc_flow_request(flow);
    MR_CHECK_INT(req->method, ==, DISC_POST);
    MR_CHECK_STR(req->url, MCP_URL);
    MR_CHECK(req->follow_redirects);
    MR_CHECK(!req->want_body);
    MR_CHECK_STR(header_value(req, "Content-Type"), "application/json");
    MR_CHECK_STR(header_value(req, "Accept"),
                 "application/json, text/event-stream");
    MR_CHECK(strstr(req->body, "\"method\":\"initialize\"") != NULL);
    MR_CHECK(strstr(req->body, "\"protocolVersion\":\"2025-06-18\"") != NULL);
    MR_CHECK(strstr(req->body, "\"clientInfo\":{\"name\":\"mcpreg\"") != NULL);
    MR_CHECK_INT(req->body_len, ==, strlen(req->body));
    MR_CHECK_STR(disc_flow_stage(flow), "probe");
    disc_flow_free(flow);
}

static void
test_second_challenge_url_after_404(void)
{
    static const exchange script[] = {
        {DISC_POST,
         MCP_URL,
         401,
         NULL,
         {"Bearer resource_metadata=\"https://mcp.example.com/prm-a\", "
          "resource_metadata=\"https://mcp.example.com/prm-b\""}},
        {DISC_GET, "https://mcp.example.com/prm-a", 404, "not found"},
        {DISC_GET, "https://mcp.example.com/prm-b", 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 5);
    MR_CHECK(strstr(run.last_body, "\"scope\":\"mcp:tools mcp:read\"") !=
             NULL);
    disc_flow_free(run.flow);
}

static void
test_path_prm_401_then_root(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {"Bearer realm=\"mcp\""}},
        {DISC_GET, PRM_PATH_URL, 401, "{\"error\":\"unauthorized\"}"},
        {DISC_GET, PRM_ROOT_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.resource, "https://mcp.example.com/mcp");
    MR_CHECK_STR(result.scope, "mcp:tools mcp:read");
    disc_flow_free(run.flow);
}

static void
test_path_prm_html_then_root(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {"Bearer"}},
        {DISC_GET, PRM_PATH_URL, 200, "<!doctype html><p>Welcome</p>"},
        {DISC_GET, PRM_ROOT_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 5);
    disc_flow_free(run.flow);
}

static void
test_no_prm_uses_origin_metadata(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {"Bearer realm=\"x\""}},
        {DISC_GET, PRM_PATH_URL, 404},
        {DISC_GET, PRM_ROOT_URL, 404},
        {DISC_GET,
         "https://mcp.example.com/.well-known/oauth-authorization-server", 200,
         "{\"issuer\":\"https://mcp.example.com\","
         "\"authorization_endpoint\":\"https://mcp.example.com/oauth/auth\","
         "\"token_endpoint\":\"https://mcp.example.com/oauth/token\","
         "\"registration_endpoint\":\"https://mcp.example.com/oauth/reg\","
         "\"code_challenge_methods_supported\":[\"S256\"]}"},
        {DISC_POST, "https://mcp.example.com/oauth/reg", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.resource, "");
    MR_CHECK_STR(result.issuer, "https://mcp.example.com");
    MR_CHECK_STR(result.authorization_endpoint,
                 "https://mcp.example.com/oauth/auth");
    MR_CHECK_STR(result.token_endpoint, "https://mcp.example.com/oauth/token");
    MR_CHECK_STR(result.scope, "");
    MR_CHECK(strstr(run.last_body, "\"scope\"") == NULL);
    disc_flow_free(run.flow);
}

static void
test_no_metadata_uses_default_endpoints(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {"Bearer scope=\"a b\""}},
        {DISC_GET, PRM_PATH_URL, 404},
        {DISC_GET, PRM_ROOT_URL, 404},
        {DISC_GET,
         "https://mcp.example.com/.well-known/oauth-authorization-server",
         404},
        {DISC_GET, "https://mcp.example.com/.well-known/openid-configuration",
         404},
        {DISC_POST, "https://mcp.example.com/register", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 6);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.resource, "");
    MR_CHECK_STR(result.issuer, "https://mcp.example.com");
    MR_CHECK_STR(result.authorization_endpoint,
                 "https://mcp.example.com/authorize");
    MR_CHECK_STR(result.token_endpoint, "https://mcp.example.com/token");
    MR_CHECK_STR(result.registration_endpoint,
                 "https://mcp.example.com/register");
    MR_CHECK_STR(result.revocation_endpoint, "");
    MR_CHECK_STR(result.scope, "a b");
    disc_flow_free(run.flow);
}

static void
test_issuer_with_path_order(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200,
         "{\"resource\":\"https://mcp.example.com/mcp\","
         "\"authorization_servers\":[\"https://as.example.com/tenant1\"]}"},
        {DISC_GET,
         "https://as.example.com/.well-known/oauth-authorization-server/"
         "tenant1",
         404},
        {DISC_GET,
         "https://as.example.com/.well-known/openid-configuration/tenant1",
         404},
        {DISC_GET,
         "https://as.example.com/tenant1/.well-known/openid-configuration",
         200,
         "{\"issuer\":\"https://as.example.com/tenant1\","
         "\"authorization_endpoint\":\"https://as.example.com/tenant1/a\","
         "\"token_endpoint\":\"https://as.example.com/tenant1/t\","
         "\"registration_endpoint\":\"https://as.example.com/tenant1/r\","
         "\"code_challenge_methods_supported\":[\"S256\"]}"},
        {DISC_POST, "https://as.example.com/tenant1/r", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 6);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.issuer, "https://as.example.com/tenant1");
    disc_flow_free(run.flow);
}

static void
test_issuer_without_path_order(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 404},
        {DISC_GET, "https://as.example.com/.well-known/openid-configuration",
         200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 200, CLIENT_BODY},
    };
    script_run run = RUN(script);

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_free(run.flow);
}

static void
test_no_as_metadata_lists_urls(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 404},
        {DISC_GET, "https://as.example.com/.well-known/openid-configuration",
         200, "<html>login</html>"},
    };
    static const char *const fragments[] = {
        "no authorization server metadata for issuer https://as.example.com",
        AS_URL " returned HTTP 404",
        "https://as.example.com/.well-known/openid-configuration returned "
        "HTTP 200 but the body is not valid JSON",
        NULL,
    };
    script_run run = RUN(script);

    check_failed(&run, 4, MR_EAS_METADATA, fragments);
    disc_flow_free(run.flow);
}

/* check_printable checks that every byte of detail is printable ASCII. */
static void
check_printable(const char *detail)
{
    for (const char *c = detail; *c != '\0'; c++) {
        MR_CHECK(*c >= 0x20 && *c < 0x7f);
    }
}

/* An issuer outside printable ASCII reaches the detail as printable ASCII,
 * like every other value taken from a remote server. */
static void
test_no_as_metadata_detail_ascii(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200,
         "{\"resource\":\"https://mcp.example.com/mcp\","
         "\"authorization_servers\":[\"https://as.example.com/t\\u00e9\"]}"},
        {DISC_GET, AS_URL "/t\xc3\xa9", 404},
        {DISC_GET, AS_ORIGIN "/.well-known/openid-configuration/t\xc3\xa9",
         404},
        {DISC_GET, AS_ORIGIN "/t\xc3\xa9/.well-known/openid-configuration",
         404},
    };
    script_run run = RUN(script);
    const char *detail = disc_flow_detail(run.flow);

    MR_CHECK_INT(run.state, ==, DISC_FLOW_FAILED);
    MR_CHECK(strstr(detail, "no authorization server metadata") != NULL);
    check_printable(detail);
    disc_flow_free(run.flow);
}

/* So does an issuer quoted from its own metadata, here one without a
 * registration endpoint. */
static void
test_no_registration_detail_ascii(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200,
         "{\"resource\":\"https://mcp.example.com/mcp\","
         "\"authorization_servers\":[\"https://as.example.com/t\\u00e9\"]}"},
        {DISC_GET, AS_URL "/t\xc3\xa9", 200,
         "{\"issuer\":\"https://as.example.com/t\\u00e9\","
         "\"authorization_endpoint\":\"https://as.example.com/authorize\","
         "\"token_endpoint\":\"https://as.example.com/token\","
         "\"code_challenge_methods_supported\":[\"S256\"]}"},
    };
    script_run run = RUN(script);
    const char *detail = disc_flow_detail(run.flow);

    MR_CHECK_INT(disc_flow_error(run.flow), ==, MR_EREGISTRATION_UNSUPPORTED);
    MR_CHECK(strstr(detail, "no registration_endpoint") != NULL);
    check_printable(detail);
    disc_flow_free(run.flow);
}

static void
test_issuer_mismatch(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200,
         "{\"issuer\":\"https://evil.example.com\","
         "\"authorization_endpoint\":\"https://evil.example.com/a\","
         "\"token_endpoint\":\"https://evil.example.com/t\","
         "\"registration_endpoint\":\"https://evil.example.com/r\","
         "\"code_challenge_methods_supported\":[\"S256\"]}"},
    };
    static const char *const fragments[] = {
        AS_URL,
        "\"https://evil.example.com\" is not \"https://as.example.com\"",
        NULL};
    script_run run = RUN(script);

    check_failed(&run, 3, MR_EISSUER_MISMATCH, fragments);
    disc_flow_free(run.flow);
}

static void
test_no_s256(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200,
         "{\"issuer\":\"https://as.example.com\","
         "\"authorization_endpoint\":\"https://as.example.com/a\","
         "\"token_endpoint\":\"https://as.example.com/t\","
         "\"registration_endpoint\":\"https://as.example.com/r\","
         "\"code_challenge_methods_supported\":[\"plain\"]}"},
    };
    static const char *const fragments[] = {
        "code_challenge_methods_supported does not list S256", NULL};
    script_run run = RUN(script);

    check_failed(&run, 3, MR_EPKCE, fragments);
    disc_flow_free(run.flow);
}

static void
test_no_registration_endpoint(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200,
         "{\"issuer\":\"https://as.example.com\","
         "\"authorization_endpoint\":\"https://as.example.com/a\","
         "\"token_endpoint\":\"https://as.example.com/t\","
         "\"code_challenge_methods_supported\":[\"S256\"]}"},
    };
    static const char *const fragments[] = {
        "authorization server https://as.example.com has no "
        "registration_endpoint",
        NULL};
    script_run run = RUN(script);

    /* Three requests and no POST after them: nothing was registered. */
    check_failed(&run, 3, MR_EREGISTRATION_UNSUPPORTED, fragments);
    MR_CHECK_STR(run.last_body, "");
    disc_flow_free(run.flow);
}

static void
test_unusable_auth_methods(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200,
         "{\"issuer\":\"https://as.example.com\","
         "\"authorization_endpoint\":\"https://as.example.com/a\","
         "\"token_endpoint\":\"https://as.example.com/t\","
         "\"registration_endpoint\":\"https://as.example.com/r\","
         "\"token_endpoint_auth_methods_supported\":[\"private_key_jwt\"],"
         "\"code_challenge_methods_supported\":[\"S256\"]}"},
    };
    static const char *const fragments[] = {"client_secret_basic", NULL};
    script_run run = RUN(script);

    check_failed(&run, 3, MR_EREGISTRATION_UNSUPPORTED, fragments);
    disc_flow_free(run.flow);
}

static void
test_public_client_method(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200,
         "{\"issuer\":\"https://as.example.com\","
         "\"authorization_endpoint\":\"https://as.example.com/a\","
         "\"token_endpoint\":\"https://as.example.com/t\","
         "\"registration_endpoint\":\"https://as.example.com/r\","
         "\"token_endpoint_auth_methods_supported\":[\"none\"],"
         "\"code_challenge_methods_supported\":[\"S256\"]}"},
        {DISC_POST, "https://as.example.com/r", 201,
         "{\"client_id\":\"public-1\",\"client_secret\":null}"},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK(strstr(run.last_body,
                    "\"token_endpoint_auth_method\":\"none\"") != NULL);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client->client_id, "public-1");
    MR_CHECK(result.client->client_secret == NULL);
    MR_CHECK_STR(result.client->token_endpoint_auth_method, "none");
    disc_flow_free(run.flow);
}

static void
test_registration_200_accepted(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 200,
         "{\"client_id\":\"c\",\"client_secret\":\"s\"}"},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client->client_id, "c");
    MR_CHECK_STR(result.client->token_endpoint_auth_method,
                 "client_secret_basic");
    MR_CHECK_INT(result.client->client_secret_expires_at, ==, 0);
    disc_flow_free(run.flow);
}

static void
test_secret_method_without_secret(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201,
         "{\"client_id\":\"c\",\"client_secret\":\"\","
         "\"token_endpoint_auth_method\":\"client_secret_post\"}"},
    };
    static const char *const fragments[] = {
        "registration response from https://as.example.com/register is "
        "invalid",
        "client_secret_post needs a client_secret", NULL};
    script_run run = RUN(script);

    check_failed(&run, 4, MR_EREGISTRATION_NO_SECRET, fragments);
    disc_flow_free(run.flow);
}

static void
test_registration_error_body(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 400,
         "{\"error\":\"invalid_redirect_uri\",\"error_description\":"
         "\"redirect URI not allowed\\u0007\"}"},
    };
    static const char *const fragments[] = {
        "registration at https://as.example.com/register returned HTTP 400: "
        "invalid_redirect_uri: redirect URI not allowed?",
        NULL};
    script_run run = RUN(script);

    check_failed(&run, 4, MR_EREGISTRATION_REJECTED, fragments);
    disc_flow_free(run.flow);
}

static void
test_registration_other_statuses(void)
{
    static const struct {
        long status;
        mr_err err;
        const char *fragment;
    } cases[] = {
        {403, MR_EREGISTRATION_REJECTED, "returned HTTP 403"},
        {302, MR_EREGISTRATION_INVALID, "which registration does not follow"},
        {500, MR_EREMOTE_UNAVAILABLE, "returned HTTP 500"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const exchange script[] = {
            {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
            {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
            {DISC_GET, AS_URL, 200, AS_BODY},
            {DISC_POST, "https://as.example.com/register", cases[i].status,
             "<html></html>"},
        };
        const char *const fragments[] = {cases[i].fragment, NULL};
        script_run run = RUN(script);

        check_failed(&run, 4, cases[i].err, fragments);
        disc_flow_free(run.flow);
    }
}

static void
test_resource_mismatch(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200,
         "{\"resource\":\"https://other.example.com/mcp\","
         "\"authorization_servers\":[\"https://as.example.com\"]}"},
        {DISC_GET, PRM_ROOT_URL, 404},
    };
    static const char *const fragments[] = {
        "protected resource metadata at " PRM_PATH_URL,
        "resource \"https://other.example.com/mcp\" is not on the MCP "
        "server URL's origin",
        NULL};
    script_run run = RUN(script);

    check_failed(&run, 3, MR_ERESOURCE_MISMATCH, fragments);
    disc_flow_free(run.flow);
}

static void
test_mismatch_then_valid_root(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200,
         "{\"resource\":\"https://mcp.example.com/mcpx\","
         "\"authorization_servers\":[\"https://as.example.com\"]}"},
        {DISC_GET, PRM_ROOT_URL, 200,
         "{\"resource\":\"https://mcp.example.com/\","
         "\"authorization_servers\":[\"https://as.example.com\"]}"},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.resource, "https://mcp.example.com/");
    disc_flow_free(run.flow);
}

/* A probe caught in a redirect loop is no outage, so the well-known
 * metadata is tried as after a probe without a 401. Without it the error
 * is permanent, with no guessed 2025-03-26 endpoints. */
static void
test_probe_redirect_loop_tries_well_known(void)
{
    static const exchange found[] = {
        {DISC_POST, MCP_URL, 0, .net = DISC_NET_REDIRECT},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
    };
    static const exchange missing[] = {
        {DISC_POST, MCP_URL, 0, .net = DISC_NET_REDIRECT},
        {DISC_GET, PRM_PATH_URL, 404},
        {DISC_GET, PRM_ROOT_URL, 404},
    };
    static const char *const fragments[] = {
        "the probe was redirected more than 3 times", NULL};
    script_run run = RUN(found);

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_free(run.flow);

    run = RUN(missing);
    check_failed(&run, 3, MR_ENO_RESOURCE_METADATA, fragments);
    disc_flow_free(run.flow);
}

static void
test_no_usable_prm(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 200, NULL},
        {DISC_GET, PRM_PATH_URL, 403},
        {DISC_GET, PRM_ROOT_URL, 502},
    };
    static const char *const fragments[] = {
        "no usable protected resource metadata for " MCP_URL,
        PRM_PATH_URL " returned HTTP 403",
        PRM_ROOT_URL " returned HTTP 502",
        "the probe returned HTTP 200, not 401",
        NULL,
    };
    script_run run = RUN(script);

    check_failed(&run, 3, MR_ENO_RESOURCE_METADATA, fragments);
    disc_flow_free(run.flow);
}

static void
test_prm_server_error_ends_flow(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 503},
    };
    static const char *const fragments[] = {
        "GET " PRM_PATH_URL " returned HTTP 503", NULL};
    script_run run = RUN(script);

    check_failed(&run, 2, MR_EREMOTE_UNAVAILABLE, fragments);
    disc_flow_free(run.flow);
}

/* A server that is busy names its delay in Retry-After (RFC 9110 section
 * 10.2.3), and the flow keeps it for the caller, at each remote stage. */
static void
test_busy_server_retry_after_kept(void)
{
    static const exchange prm[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 429, .retry_after_s = 30},
    };
    static const exchange as[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 503, .retry_after_s = 45},
    };
    static const exchange dcr[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 429,
         .retry_after_s = 60},
    };
    static const char *const fragments[] = {"returned HTTP 429", NULL};
    script_run run = RUN(prm);

    check_failed(&run, 2, MR_EREMOTE_UNAVAILABLE, fragments);
    MR_CHECK_INT(disc_flow_retry_after(run.flow), ==, 30);
    disc_flow_free(run.flow);

    run = RUN(as);
    MR_CHECK_INT(disc_flow_error(run.flow), ==, MR_EREMOTE_UNAVAILABLE);
    MR_CHECK_INT(disc_flow_retry_after(run.flow), ==, 45);
    disc_flow_free(run.flow);

    run = RUN(dcr);
    check_failed(&run, 4, MR_EREMOTE_UNAVAILABLE, fragments);
    MR_CHECK_INT(disc_flow_retry_after(run.flow), ==, 60);
    disc_flow_free(run.flow);
}

/* A Retry-After on a response that fails the flow for another reason, such
 * as a 400 from the registration endpoint, is no promise that a retry
 * works, so it is dropped. */
static void
test_rejection_drops_retry_after(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 400,
         "{\"error\":\"invalid_redirect_uri\"}", .retry_after_s = 60},
    };
    script_run run = RUN(script);

    MR_CHECK_INT(disc_flow_error(run.flow), ==, MR_EREGISTRATION_REJECTED);
    MR_CHECK_INT(disc_flow_retry_after(run.flow), ==, 0);
    disc_flow_free(run.flow);
}

static void
test_transport_faults(void)
{
    static const struct {
        size_t at; /* index of the exchange that fails */
        disc_net net;
        mr_err err;
        const char *fragment;
    } cases[] = {
        {0, DISC_NET_CONNECT, MR_EMCP_UNREACHABLE,
         "MCP initialize POST " MCP_URL " failed: canned fault"},
        {0, DISC_NET_TIMEOUT, MR_EREMOTE_TIMEDOUT,
         "MCP initialize POST " MCP_URL " timed out"},
        {0, DISC_NET_BLOCKED, MR_EBLOCKED_ADDRESS,
         "MCP initialize POST " MCP_URL " was blocked: canned fault"},
        {1, DISC_NET_CONNECT, MR_EREMOTE_UNAVAILABLE,
         "GET " PRM_PATH_URL " failed: canned fault"},
        {1, DISC_NET_TIMEOUT, MR_EREMOTE_TIMEDOUT, "timed out"},
        {1, DISC_NET_TOO_LARGE, MR_EREMOTE_TOO_LARGE,
         "exceeds the size limit"},
        {2, DISC_NET_TIMEOUT, MR_EREMOTE_TIMEDOUT, "GET " AS_URL " timed out"},
        {3, DISC_NET_CONNECT, MR_EREMOTE_UNAVAILABLE,
         "registration POST https://as.example.com/register failed"},
        {3, DISC_NET_TOO_LARGE, MR_EREMOTE_TOO_LARGE, "size limit"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        exchange script[] = {
            {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
            {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
            {DISC_GET, AS_URL, 200, AS_BODY},
            {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
        };
        const char *const fragments[] = {cases[i].fragment, NULL};
        script_run run;

        script[cases[i].at].net = cases[i].net;
        run = run_script(script, cases[i].at + 1);
        check_failed(&run, cases[i].at + 1, cases[i].err, fragments);
        disc_flow_free(run.flow);
    }
}

static void
test_invalid_mcp_urls(void)
{
    static const struct {
        const char *url;
        mr_err err;
    } cases[] = {
        {"mcp.example.com/mcp", MR_EINVALID_URL},
        {"ftp://mcp.example.com/", MR_EINVALID_URL},
        {"https://u:p@mcp.example.com/", MR_EINVALID_URL},
        {"http://mcp.example.com/mcp", MR_EBLOCKED_ADDRESS},
        {"http://127.0.0.1/mcp", MR_EBLOCKED_ADDRESS},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        script_run run = run_script_with(&no_hosts, cases[i].url, NULL, 0);

        check_failed(&run, 0, cases[i].err, NULL);
        MR_CHECK(strstr(disc_flow_detail(run.flow), "the MCP server URL") !=
                 NULL);
        disc_flow_free(run.flow);
    }
}

static void
test_allowed_http_host(void)
{
    static const exchange script[] = {
        {DISC_POST,
         "http://127.0.0.1:7000/mcp",
         401,
         NULL,
         {"Bearer resource_metadata=\"http://127.0.0.1:7000/.well-known/"
          "oauth-protected-resource/mcp\""}},
        {DISC_GET,
         "http://127.0.0.1:7000/.well-known/oauth-protected-resource/mcp", 200,
         "{\"resource\":\"http://127.0.0.1:7000/mcp\","
         "\"authorization_servers\":[\"http://localhost:7001\"]}"},
        {DISC_GET,
         "http://localhost:7001/.well-known/oauth-authorization-server", 200,
         "{\"issuer\":\"http://localhost:7001\","
         "\"authorization_endpoint\":\"http://localhost:7001/auth\","
         "\"token_endpoint\":\"http://localhost:7001/token\","
         "\"registration_endpoint\":\"http://localhost:7001/reg\","
         "\"code_challenge_methods_supported\":[\"S256\"]}"},
        {DISC_POST, "http://localhost:7001/reg", 201, CLIENT_BODY},
    };
    mr_allow_list allow;
    const char *bad = NULL;
    script_run run;

    MR_CHECK_INT(mr_allow_parse("127.0.0.1,localhost", &allow, &bad), ==,
                 MR_OK);
    run = run_script_with(&allow, "http://127.0.0.1:7000/mcp", script,
                          sizeof(script) / sizeof(script[0]));
    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_free(run.flow);
    mr_allow_free(&allow);
}

static void
test_blocked_authorization_server(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200,
         "{\"resource\":\"https://mcp.example.com/mcp\","
         "\"authorization_servers\":[\"http://as.example.com\"]}"},
    };
    static const char *const fragments[] = {
        "authorization server \"http://as.example.com\" uses http", NULL};
    script_run run = RUN(script);

    check_failed(&run, 2, MR_EBLOCKED_ADDRESS, fragments);
    disc_flow_free(run.flow);
}

static void
test_challenge_url_blocked_skipped(void)
{
    static const exchange script[] = {
        {DISC_POST,
         MCP_URL,
         401,
         NULL,
         {"Bearer resource_metadata=\"http://10.0.0.1/prm\""}},
        {DISC_GET, PRM_PATH_URL, 404},
        {DISC_GET, PRM_ROOT_URL, 404},
    };
    static const char *const fragments[] = {
        "the challenge's resource_metadata \"http://10.0.0.1/prm\" uses http",
        PRM_ROOT_URL " returned HTTP 404", NULL};
    script_run run = RUN(script);

    /* A rejected challenge URL is not a 404, so there is no fallback. */
    check_failed(&run, 3, MR_ENO_RESOURCE_METADATA, fragments);
    disc_flow_free(run.flow);
}

static void
test_bearer_in_second_header(void)
{
    static const exchange script[] = {
        {DISC_POST,
         MCP_URL,
         401,
         NULL,
         {"Basic realm=\"legacy\"",
          "Bearer x_resource_metadata=\"https://mcp.example.com/wrong\", "
          "resource_metadata=\"https://mcp.example.com/prm\", "
          "error_scope=\"wrong\", scope=\"right\"",
          "Bearer resource_metadata=\"https://mcp.example.com/second\""}},
        {DISC_GET, "https://mcp.example.com/prm", 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.scope, "right");
    disc_flow_free(run.flow);
}

static void
test_invalid_challenge_uses_well_known(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {"Bearer realm=\"unterminated"}},
        {DISC_GET, PRM_PATH_URL, 500},
    };
    static const char *const fragments[] = {"returned HTTP 500", NULL};
    script_run run = RUN(script);

    check_failed(&run, 2, MR_EREMOTE_UNAVAILABLE, fragments);
    disc_flow_free(run.flow);
}

static void
test_invalid_challenge_noted(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {"Bearer realm=\"unterminated"}},
        {DISC_GET, PRM_PATH_URL, 401},
        {DISC_GET, PRM_ROOT_URL, 401},
    };
    static const char *const fragments[] = {
        "WWW-Authenticate value 0 is invalid at byte 26", NULL};
    script_run run = RUN(script);

    check_failed(&run, 3, MR_ENO_RESOURCE_METADATA, fragments);
    disc_flow_free(run.flow);
}

static void
test_invalid_challenge_scope_ignored(void)
{
    static const exchange script[] = {
        {DISC_POST,
         MCP_URL,
         401,
         NULL,
         {"Bearer resource_metadata=\"" PRM_PATH_URL
          "\", scope=\"a  \\\"b\""}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.scope, "mcp:tools mcp:read");
    disc_flow_free(run.flow);
}

static void
test_root_mcp_url_one_prm_url(void)
{
    static const exchange script[] = {
        {DISC_POST, "https://mcp.example.com/", 401, NULL, {"Bearer"}},
        {DISC_GET, PRM_ROOT_URL, 404},
        {DISC_GET,
         "https://mcp.example.com/.well-known/oauth-authorization-server",
         404},
        {DISC_GET, "https://mcp.example.com/.well-known/openid-configuration",
         404},
        {DISC_POST, "https://mcp.example.com/register", 201, CLIENT_BODY},
    };
    script_run run =
        run_script_with(&no_hosts, "https://mcp.example.com/", script,
                        sizeof(script) / sizeof(script[0]));

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 5);
    disc_flow_free(run.flow);
}

static void
test_metadata_gets_follow_redirects(void)
{
    disc_flow_config cfg = {.allow = &no_hosts, .redirect_uri = REDIRECT_URI};
    disc_flow *flow = NULL;
    disc_response probe = {.net = DISC_NET_OK, .status = 401};
    const disc_request *req;

    MR_CHECK_INT(disc_flow_new(&cfg, MCP_URL, &flow), ==, MR_OK);
    MR_CHECK_INT(disc_flow_step(flow, NULL), ==, DISC_FLOW_FETCH);
    MR_CHECK_INT(disc_flow_step(flow, &probe), ==, DISC_FLOW_FETCH);
    req = disc_flow_request(flow);
    MR_CHECK_INT(req->method, ==, DISC_GET);
    MR_CHECK(req->follow_redirects);
    MR_CHECK(req->want_body);
    MR_CHECK(req->body == NULL);
    MR_CHECK_STR(header_value(req, "Accept"), "application/json");
    MR_CHECK_STR(disc_flow_stage(flow), "resource_metadata");
    disc_flow_free(flow);
}

static void
test_steps_after_end_change_nothing(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 503},
    };
    script_run run = RUN(script);
    disc_response resp = {.net = DISC_NET_OK, .status = 200};

    MR_CHECK_INT(disc_flow_step(run.flow, &resp), ==, DISC_FLOW_FAILED);
    MR_CHECK_INT(disc_flow_error(run.flow), ==, MR_EREMOTE_UNAVAILABLE);
    MR_CHECK_STR(disc_flow_stage(run.flow), "resource_metadata");
    disc_flow_free(run.flow);
}

/* AS_ALL_METHODS_BODY is AS_BODY listing all three auth methods, in the
 * order a server in the field listed them. */
#define AS_ALL_METHODS_BODY                                                   \
    "{\"issuer\":\"https://as.example.com\","                                 \
    "\"authorization_endpoint\":\"https://as.example.com/authorize\","        \
    "\"token_endpoint\":\"https://as.example.com/token\","                    \
    "\"registration_endpoint\":\"https://as.example.com/register\","          \
    "\"code_challenge_methods_supported\":[\"S256\"],"                        \
    "\"token_endpoint_auth_methods_supported\":"                              \
    "[\"none\",\"client_secret_basic\",\"client_secret_post\"]}"

#define METHOD_REJECTED_BODY                                                  \
    "{\"error\":\"invalid_client_metadata\",\"error_description\":"           \
    "\"token_endpoint_auth_method client_secret_basic is not allowed\"}"

#define PUBLIC_CLIENT_BODY                                                    \
    "{\"client_id\":\"public-1\",\"token_endpoint_auth_method\":\"none\"}"

static void
test_method_rejected_retries_none(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_ALL_METHODS_BODY},
        {DISC_POST, "https://as.example.com/register", 400,
         METHOD_REJECTED_BODY},
        {DISC_POST, "https://as.example.com/register", 201,
         PUBLIC_CLIENT_BODY},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 5);
    MR_CHECK(strstr(run.last_body,
                    "\"token_endpoint_auth_method\":\"none\"") != NULL);
    MR_CHECK(strstr(run.last_body, "\"scope\":\"files:read files:write\"") !=
             NULL);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client->client_id, "public-1");
    MR_CHECK_STR(result.client->token_endpoint_auth_method, "none");
    disc_flow_free(run.flow);
}

static void
test_method_rejected_twice_fails(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_ALL_METHODS_BODY},
        {DISC_POST, "https://as.example.com/register", 400,
         METHOD_REJECTED_BODY},
        {DISC_POST, "https://as.example.com/register", 400,
         "{\"error\":\"invalid_client_metadata\",\"error_description\":"
         "\"token_endpoint_auth_method none is not allowed\"}"},
    };
    static const char *const fragments[] = {
        "returned HTTP 400: invalid_client_metadata: "
        "token_endpoint_auth_method none is not allowed",
        NULL};
    script_run run = RUN(script);

    check_failed(&run, 5, MR_EREGISTRATION_REJECTED, fragments);
    disc_flow_free(run.flow);
}

/* No retry with none when the server does not list it, or when the error
 * is about something other than the auth method. */
static void
test_method_rejected_no_retry(void)
{
    static const struct {
        const char *as_body;
        const char *error_body;
    } cases[] = {
        {AS_BODY, METHOD_REJECTED_BODY},
        {AS_ALL_METHODS_BODY,
         "{\"error\":\"invalid_client_metadata\",\"error_description\":"
         "\"client_name is too long\"}"},
        {AS_ALL_METHODS_BODY,
         "{\"error\":\"invalid_redirect_uri\",\"error_description\":"
         "\"token_endpoint_auth_method client_secret_basic\"}"},
        {AS_ALL_METHODS_BODY, "{\"error\":\"invalid_client_metadata\"}"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const exchange script[] = {
            {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
            {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
            {DISC_GET, AS_URL, 200, cases[i].as_body},
            {DISC_POST, "https://as.example.com/register", 400,
             cases[i].error_body},
        };
        script_run run = RUN(script);

        check_failed(&run, 4, MR_EREGISTRATION_REJECTED, NULL);
        disc_flow_free(run.flow);
    }
}

static void
test_expired_secret_registers_again(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201,
         "{\"client_id\":\"old\",\"client_secret\":\"s\","
         "\"client_secret_expires_at\":1000}"},
        {DISC_POST, "https://as.example.com/register", 201,
         "{\"client_id\":\"new\",\"client_secret\":\"s\","
         "\"client_secret_expires_at\":0}"},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 5);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client->client_id, "new");
    disc_flow_free(run.flow);
}

static void
test_expired_secret_twice_fails(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201,
         "{\"client_id\":\"a\",\"client_secret\":\"s\","
         "\"client_secret_expires_at\":1000}"},
        {DISC_POST, "https://as.example.com/register", 201,
         "{\"client_id\":\"b\",\"client_secret\":\"s\","
         "\"client_secret_expires_at\":1000}"},
    };
    static const char *const fragments[] = {
        "client_secret_expires_at 1000 had passed on receipt", NULL};
    script_run run = RUN(script);

    check_failed(&run, 5, MR_EREGISTRATION_INVALID, fragments);
    disc_flow_free(run.flow);
}

/* A secret that expires in the future is kept, as is a public client
 * with a past expiry, which has no secret to expire. */
static void
test_future_expiry_kept(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY},
        {DISC_POST, "https://as.example.com/register", 201,
         "{\"client_id\":\"c\",\"client_secret\":\"s\","
         "\"client_secret_expires_at\":9000000000}"},
    };
    script_run run = RUN(script);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 4);
    disc_flow_result(run.flow, &result);
    MR_CHECK_INT(result.client->client_secret_expires_at, ==, 9000000000);
    disc_flow_free(run.flow);
}

#define CIMD_URL "https://mcpreg.example.com/v1/deepagents/oauth/client.json"

/* AS_CIMD_BODY is AS_BODY with client ID metadata document support. */
#define AS_CIMD_BODY                                                          \
    "{\"issuer\":\"https://as.example.com\","                                 \
    "\"authorization_endpoint\":\"https://as.example.com/authorize\","        \
    "\"token_endpoint\":\"https://as.example.com/token\","                    \
    "\"registration_endpoint\":\"https://as.example.com/register\","          \
    "\"code_challenge_methods_supported\":[\"S256\"],"                        \
    "\"client_id_metadata_document_supported\":true}"

/* run_choice runs a flow up to its authorization server metadata, which
 * is as_body, with an optional operator client and CIMD URL. A script of
 * 3 exchanges ends before registration; add one to expect a POST. */
static script_run
run_choice(const char *as_body, const disc_operator_client *operator_client,
           const char *cimd_url, bool expect_post)
{
    const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, as_body},
        {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
    };
    disc_flow_config cfg = {
        .allow = &no_hosts,
        .redirect_uri = REDIRECT_URI,
        .client_metadata_url = cimd_url,
    };

    return run_script_cfg(&cfg, MCP_URL, operator_client, script,
                          expect_post ? 4 : 3);
}

static void
test_operator_client_skips_registration(void)
{
    static const disc_operator_client operator_client = {
        .issuer = "https://as.example.com/",
        .client_id = "operator-1",
        .client_secret = "operator-secret",
        .token_endpoint_auth_method = "client_secret_post",
    };
    script_run run =
        run_choice(AS_CIMD_BODY, &operator_client, CIMD_URL, false);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 3);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client_source, "operator");
    MR_CHECK_STR(result.client->client_id, "operator-1");
    MR_CHECK_STR(result.client->client_secret, "operator-secret");
    MR_CHECK_STR(result.client->token_endpoint_auth_method,
                 "client_secret_post");
    MR_CHECK_STR(result.issuer, "https://as.example.com");
    MR_CHECK_STR(result.scope, "files:read files:write");
    disc_flow_free(run.flow);
}

/* An operator client without a secret or method is a public client, and
 * one with a secret but no method uses client_secret_basic. */
static void
test_operator_client_default_method(void)
{
    disc_operator_client operator_client = {
        .issuer = "https://as.example.com",
        .client_id = "operator-2",
    };
    script_run run = run_choice(AS_BODY, &operator_client, NULL, false);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_result(run.flow, &result);
    MR_CHECK(result.client->client_secret == NULL);
    MR_CHECK_STR(result.client->token_endpoint_auth_method, "none");
    disc_flow_free(run.flow);

    operator_client.client_secret = "s";
    run = run_choice(AS_BODY, &operator_client, NULL, false);
    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client->token_endpoint_auth_method,
                 "client_secret_basic");
    disc_flow_free(run.flow);
}

static void
test_operator_client_other_issuer(void)
{
    static const disc_operator_client operator_client = {
        .issuer = "https://as.example.com/tenant",
        .client_id = "operator-1",
    };
    script_run run = run_choice(AS_BODY, &operator_client, NULL, true);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 4);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client_source, "dynamic_registration");
    MR_CHECK_STR(result.client->client_id, "client-1");
    disc_flow_free(run.flow);
}

static void
test_cimd_before_registration(void)
{
    script_run run = run_choice(AS_CIMD_BODY, NULL, CIMD_URL, false);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 3);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client_source, "client_metadata_document");
    MR_CHECK_STR(result.client->client_id, CIMD_URL);
    MR_CHECK(result.client->client_secret == NULL);
    MR_CHECK_STR(result.client->token_endpoint_auth_method, "none");
    disc_flow_free(run.flow);
}

/* Without a CIMD URL configured, or without the server's support, the
 * flow registers. */
static void
test_cimd_needs_both_sides(void)
{
    script_run run = run_choice(AS_CIMD_BODY, NULL, NULL, true);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 4);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client_source, "dynamic_registration");
    disc_flow_free(run.flow);

    run = run_choice(AS_BODY, NULL, CIMD_URL, true);
    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    MR_CHECK_INT(run.requests, ==, 4);
    disc_flow_free(run.flow);
}

static void
test_cimd_only_server(void)
{
    static const char as_body[] =
        "{\"issuer\":\"https://as.example.com\","
        "\"authorization_endpoint\":\"https://as.example.com/authorize\","
        "\"token_endpoint\":\"https://as.example.com/token\","
        "\"code_challenge_methods_supported\":[\"S256\"],"
        "\"client_id_metadata_document_supported\":true}";
    static const char *const fragments[] = {"has no registration_endpoint",
                                            "mcpreg client add", NULL};
    script_run run = run_choice(as_body, NULL, CIMD_URL, false);
    disc_result result;

    MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
    disc_flow_result(run.flow, &result);
    MR_CHECK_STR(result.client_source, "client_metadata_document");
    disc_flow_free(run.flow);

    run = run_choice(as_body, NULL, NULL, false);
    check_failed(&run, 3, MR_EREGISTRATION_UNSUPPORTED, fragments);
    disc_flow_free(run.flow);
}

/* Metadata counts as a document only with a JSON media type, whatever
 * its body: each other 200 is noted and the next URL tried. */
static void
test_prm_not_json_types_skipped(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY, .type = "text/plain"},
        {DISC_GET, PRM_ROOT_URL, 200, PRM_BODY, .type = ""},
    };
    static const char *const fragments[] = {
        "no usable protected resource metadata for " MCP_URL,
        PRM_PATH_URL " returned HTTP 200 text/plain, not a JSON media type",
        PRM_ROOT_URL " returned HTTP 200 with no Content-Type, not a JSON "
                     "media type",
        NULL,
    };
    script_run run = RUN(script);

    check_failed(&run, 3, MR_ENO_RESOURCE_METADATA, fragments);
    disc_flow_free(run.flow);
}

/* The media types that count as JSON, each served for the protected
 * resource metadata of an otherwise well-behaved run. */
static void
test_prm_json_types_accepted(void)
{
    static const char *const types[] = {
        "application/json; charset=utf-8",
        "Application/JSON;Charset=UTF-8",
        " application/json ",
        "application/vnd.example+json",
        "APPLICATION/PROBLEM+JSON; q=1",
    };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const exchange script[] = {
            {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
            {DISC_GET, PRM_PATH_URL, 200, PRM_BODY, .type = types[i]},
            {DISC_GET, AS_URL, 200, AS_BODY},
            {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY},
        };
        script_run run = RUN(script);

        if (run.state != DISC_FLOW_DONE) {
            fprintf(stderr, "    Content-Type: %s\n", types[i]);
        }
        MR_CHECK_INT(run.state, ==, DISC_FLOW_DONE);
        disc_flow_free(run.flow);
    }
}

static void
test_as_not_json_types_skipped(void)
{
    static const exchange script[] = {
        {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
        {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
        {DISC_GET, AS_URL, 200, AS_BODY, .type = "text/html"},
        {DISC_GET, "https://as.example.com/.well-known/openid-configuration",
         200, AS_BODY, .type = "text/json; charset=utf-8"},
    };
    static const char *const fragments[] = {
        "no authorization server metadata for issuer https://as.example.com",
        AS_URL " returned HTTP 200 text/html, not a JSON media type",
        "https://as.example.com/.well-known/openid-configuration returned "
        "HTTP 200 text/json; charset=utf-8, not a JSON media type",
        NULL,
    };
    script_run run = RUN(script);

    check_failed(&run, 4, MR_EAS_METADATA, fragments);
    disc_flow_free(run.flow);
}

/* A 2xx registration response that is not JSON by media type fails once,
 * without another POST. */
static void
test_registration_not_json_type(void)
{
    static const struct {
        const char *type;
        const char *fragment;
    } cases[] = {
        {"text/html", "registration at https://as.example.com/register "
                      "returned HTTP 201 text/html, not a JSON media type"},
        {"", "returned HTTP 201 with no Content-Type, not a JSON media "
             "type"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const exchange script[] = {
            {DISC_POST, MCP_URL, 401, NULL, {CHALLENGE}},
            {DISC_GET, PRM_PATH_URL, 200, PRM_BODY},
            {DISC_GET, AS_URL, 200, AS_BODY},
            {DISC_POST, "https://as.example.com/register", 201, CLIENT_BODY,
             .type = cases[i].type},
        };
        const char *const fragments[] = {cases[i].fragment, NULL};
        script_run run = RUN(script);

        check_failed(&run, 4, MR_EREGISTRATION_INVALID, fragments);
        disc_flow_free(run.flow);
    }
}

static const mr_test_case cases[] = {
    {"well_behaved_path", test_well_behaved_path},
    {"probe_request_shape", test_probe_request_shape},
    {"second_challenge_url_after_404", test_second_challenge_url_after_404},
    {"path_prm_401_then_root", test_path_prm_401_then_root},
    {"path_prm_html_then_root", test_path_prm_html_then_root},
    {"no_prm_uses_origin_metadata", test_no_prm_uses_origin_metadata},
    {"no_metadata_uses_default_endpoints",
     test_no_metadata_uses_default_endpoints},
    {"issuer_with_path_order", test_issuer_with_path_order},
    {"issuer_without_path_order", test_issuer_without_path_order},
    {"no_as_metadata_lists_urls", test_no_as_metadata_lists_urls},
    {"no_as_metadata_detail_ascii", test_no_as_metadata_detail_ascii},
    {"no_registration_detail_ascii", test_no_registration_detail_ascii},
    {"issuer_mismatch", test_issuer_mismatch},
    {"no_s256", test_no_s256},
    {"no_registration_endpoint", test_no_registration_endpoint},
    {"unusable_auth_methods", test_unusable_auth_methods},
    {"public_client_method", test_public_client_method},
    {"registration_200_accepted", test_registration_200_accepted},
    {"secret_method_without_secret", test_secret_method_without_secret},
    {"registration_error_body", test_registration_error_body},
    {"registration_other_statuses", test_registration_other_statuses},
    {"resource_mismatch", test_resource_mismatch},
    {"mismatch_then_valid_root", test_mismatch_then_valid_root},
    {"no_usable_prm", test_no_usable_prm},
    {"prm_server_error_ends_flow", test_prm_server_error_ends_flow},
    {"busy_server_retry_after_kept", test_busy_server_retry_after_kept},
    {"probe_redirect_loop_tries_well_known",
     test_probe_redirect_loop_tries_well_known},
    {"rejection_drops_retry_after", test_rejection_drops_retry_after},
    {"transport_faults", test_transport_faults},
    {"invalid_mcp_urls", test_invalid_mcp_urls},
    {"allowed_http_host", test_allowed_http_host},
    {"blocked_authorization_server", test_blocked_authorization_server},
    {"challenge_url_blocked_skipped", test_challenge_url_blocked_skipped},
    {"bearer_in_second_header", test_bearer_in_second_header},
    {"invalid_challenge_uses_well_known",
     test_invalid_challenge_uses_well_known},
    {"invalid_challenge_noted", test_invalid_challenge_noted},
    {"invalid_challenge_scope_ignored", test_invalid_challenge_scope_ignored},
    {"root_mcp_url_one_prm_url", test_root_mcp_url_one_prm_url},
    {"metadata_gets_follow_redirects", test_metadata_gets_follow_redirects},
    {"steps_after_end_change_nothing", test_steps_after_end_change_nothing},
    {"method_rejected_retries_none", test_method_rejected_retries_none},
    {"method_rejected_twice_fails", test_method_rejected_twice_fails},
    {"method_rejected_no_retry", test_method_rejected_no_retry},
    {"expired_secret_registers_again", test_expired_secret_registers_again},
    {"expired_secret_twice_fails", test_expired_secret_twice_fails},
    {"future_expiry_kept", test_future_expiry_kept},
    {"operator_client_skips_registration",
     test_operator_client_skips_registration},
    {"operator_client_default_method", test_operator_client_default_method},
    {"operator_client_other_issuer", test_operator_client_other_issuer},
    {"cimd_before_registration", test_cimd_before_registration},
    {"cimd_needs_both_sides", test_cimd_needs_both_sides},
    {"cimd_only_server", test_cimd_only_server},
    {"prm_not_json_types_skipped", test_prm_not_json_types_skipped},
    {"prm_json_types_accepted", test_prm_json_types_accepted},
    {"as_not_json_types_skipped", test_as_not_json_types_skipped},
    {"registration_not_json_type", test_registration_not_json_type},
};

MR_TEST_MAIN(cases)
