/* gw_http_test.c - the gateway over HTTP against a fake registration
 * service: a real MHD daemon on 127.0.0.1 and an in-process nng peer. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "gw_http.h"
#include "gw_render.h"
#include "mcpreg/v1/registration.pb-c.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_test.h"
#include "mr_util.h"

#define RPC_URL "inproc://gw_http_test"
#define API_KEY "mk_test_0123456789"
#define SERVERS "/v1/deepagents/mcp-servers"

/* Ids that make the fake service respond in a given way. */
#define ID_OK        "11111111-1111-4111-8111-111111111111"
#define ID_FORBIDDEN "22222222-2222-4222-8222-222222222222"
#define ID_MISSING   "33333333-3333-4333-8333-333333333333"
#define ID_BUSY      "44444444-4444-4444-8444-444444444444"
#define ID_HELD      "55555555-5555-4555-8555-555555555555"

#define MISSING_DETAIL "Verify the id: no server " ID_MISSING

/* ---- the fake registration service ---- */

/* What the fake service received last, and the call it keeps without a
 * reply. */
static struct {
    pthread_mutex_t lock;
    uint8_t key_sha256[MR_SHA256_LEN];
    size_t key_sha256_len;
    char request_id[80];
    char ls_user_id[64];
    bool has_url;
    mr_rpc_call *held;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void
remember(mr_rpc_call *call, const Mcpreg__V1__Caller *caller)
{
    pthread_mutex_lock(&seen.lock);
    seen.key_sha256_len = caller != NULL ? caller->api_key_sha256.len : 0;
    if (seen.key_sha256_len == MR_SHA256_LEN) {
        memcpy(seen.key_sha256, caller->api_key_sha256.data, MR_SHA256_LEN);
    }
    snprintf(seen.request_id, sizeof(seen.request_id), "%s",
             mr_rpc_request_id(call));
    pthread_mutex_unlock(&seen.lock);
}

/* Replies with a server whose secret header value the gateway must mask. */
static void
reply_server(mr_rpc_call *call, const char *id, const char *name)
{
    Mcpreg__V1__McpServer server = MCPREG__V1__MCP_SERVER__INIT;
    Mcpreg__V1__Header header = MCPREG__V1__HEADER__INIT;
    Mcpreg__V1__Header *headers[] = {&header};

    header.key = "Authorization";
    header.value = "Bearer s3cret";
    server.id = (char *)id;
    server.workspace_id = "99999999-9999-4999-8999-999999999999";
    server.name = (char *)name;
    server.url = "https://mcp.example.com/mcp";
    server.n_headers = 1;
    server.headers = headers;
    server.created_at_ms = 1764862701123;
    server.updated_at_ms = 1764862701123;
    mr_rpc_reply(call, &server.base);
}

static void
fake_create(mr_rpc_call *call, void *arg)
{
    const Mcpreg__V1__CreateMcpServerRequest *req =
        (const void *)mr_rpc_request(call);

    (void)arg;
    remember(call, req->caller);
    reply_server(call, ID_OK, req->name);
}

static void
fake_list(mr_rpc_call *call, void *arg)
{
    const Mcpreg__V1__ListMcpServersRequest *req =
        (const void *)mr_rpc_request(call);
    Mcpreg__V1__ListMcpServersResponse list =
        MCPREG__V1__LIST_MCP_SERVERS_RESPONSE__INIT;

    (void)arg;
    remember(call, req->caller);
    mr_rpc_reply(call, &list.base);
}

static void
fake_get(mr_rpc_call *call, void *arg)
{
    const Mcpreg__V1__GetMcpServerRequest *req =
        (const void *)mr_rpc_request(call);

    (void)arg;
    remember(call, req->caller);
    if (strcmp(req->id, ID_FORBIDDEN) == 0) {
        mr_rpc_fail(call, MR_EFORBIDDEN, "the key is revoked", 0);
    } else if (strcmp(req->id, ID_MISSING) == 0) {
        mr_rpc_fail(call, MR_ESERVER_NOT_FOUND, MISSING_DETAIL, 0);
    } else if (strcmp(req->id, ID_BUSY) == 0) {
        mr_rpc_fail(call, MR_EUNAVAILABLE, NULL, 7);
    } else if (strcmp(req->id, ID_HELD) == 0) {
        pthread_mutex_lock(&seen.lock);
        seen.held = call; /* finished by release_held */
        pthread_mutex_unlock(&seen.lock);
    } else {
        reply_server(call, req->id, "docs");
    }
}

static void
fake_update(mr_rpc_call *call, void *arg)
{
    const Mcpreg__V1__UpdateMcpServerRequest *req =
        (const void *)mr_rpc_request(call);

    (void)arg;
    remember(call, req->caller);
    pthread_mutex_lock(&seen.lock);
    seen.has_url = req->has_url;
    pthread_mutex_unlock(&seen.lock);
    reply_server(call, req->id, "docs");
}

static void
fake_delete(mr_rpc_call *call, void *arg)
{
    const Mcpreg__V1__DeleteMcpServerRequest *req =
        (const void *)mr_rpc_request(call);
    Mcpreg__V1__DeleteMcpServerResponse reply =
        MCPREG__V1__DELETE_MCP_SERVER_RESPONSE__INIT;

    (void)arg;
    remember(call, req->caller);
    if (strcmp(req->id, ID_MISSING) == 0) {
        mr_rpc_fail(call, MR_ESERVER_NOT_FOUND, NULL, 0);
        return;
    }
    mr_rpc_reply(call, &reply.base);
}

static void
fake_register(mr_rpc_call *call, void *arg)
{
    const Mcpreg__V1__RegisterOAuthProviderRequest *req =
        (const void *)mr_rpc_request(call);
    Mcpreg__V1__RegisterOAuthProviderResponse reply =
        MCPREG__V1__REGISTER_OAUTH_PROVIDER_RESPONSE__INIT;

    (void)arg;
    remember(call, req->caller);
    pthread_mutex_lock(&seen.lock);
    snprintf(seen.ls_user_id, sizeof(seen.ls_user_id), "%s", req->ls_user_id);
    pthread_mutex_unlock(&seen.lock);
    reply.oauth_provider_id = "66666666-6666-4666-8666-666666666666";
    mr_rpc_reply(call, &reply.base);
}

static const mr_rpc_method fake_methods[] = {
    {MR_M_CREATE_MCP_SERVER,
     &mcpreg__v1__create_mcp_server_request__descriptor, fake_create},
    {MR_M_LIST_MCP_SERVERS, &mcpreg__v1__list_mcp_servers_request__descriptor,
     fake_list},
    {MR_M_GET_MCP_SERVER, &mcpreg__v1__get_mcp_server_request__descriptor,
     fake_get},
    {MR_M_UPDATE_MCP_SERVER,
     &mcpreg__v1__update_mcp_server_request__descriptor, fake_update},
    {MR_M_DELETE_MCP_SERVER,
     &mcpreg__v1__delete_mcp_server_request__descriptor, fake_delete},
    {MR_M_REGISTER_OAUTH_PROVIDER,
     &mcpreg__v1__register_oauth_provider_request__descriptor, fake_register},
};

/* Waits up to 2 s for a held call. Returns it, or NULL. */
static mr_rpc_call *
wait_held(void)
{
    for (int i = 0; i < 200; i++) {
        mr_rpc_call *call;

        pthread_mutex_lock(&seen.lock);
        call = seen.held;
        pthread_mutex_unlock(&seen.lock);
        if (call != NULL) {
            return call;
        }
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    return NULL;
}

/* Replies to the held call, if any, with a found server. */
static void
release_held(void)
{
    mr_rpc_call *call;

    pthread_mutex_lock(&seen.lock);
    call = seen.held;
    seen.held = NULL;
    pthread_mutex_unlock(&seen.lock);
    if (call != NULL) {
        reply_server(call, ID_HELD, "late");
    }
}

/* ---- fixture ---- */

static mr_rpc_server *fake;
static gw_server *gateway;

/* CRUD deadline of the shared gateway, short for the timeout case. */
#define REQUEST_TIMEOUT_MS 300

static gw_server *
start_gateway(void)
{
    gw_config cfg = {
        .listen = "127.0.0.1:0",
        .registration_url = RPC_URL,
        .threads = 2,
        .max_connections = 64,
        .connection_timeout_s = 10,
        .request_timeout_ms = REQUEST_TIMEOUT_MS,
        .register_timeout_ms = 2000,
    };
    gw_server *server = NULL;

    if (gw_server_start(&cfg, &server) != MR_OK) {
        fprintf(stderr, "gateway failed to start\n");
        exit(1);
    }
    /* Give the dialer time to connect, so that no call fails at once. */
    for (int i = 0; i < 200 && mr_rpc_client_peers(server->rpc) == 0; i++) {
        nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
    }
    return server;
}

static void
fixture(void)
{
    mr_rpc_server_config cfg = {
        .url = RPC_URL,
        .contexts = 8,
        .default_timeout_ms = 1000,
        .methods = fake_methods,
        .nmethods = sizeof(fake_methods) / sizeof(fake_methods[0]),
        .name = "fake-registration",
    };

    if (gateway != NULL) {
        return;
    }
    mr_log_init("gateway-test", MR_LOG_WARN, 2);
    mr_util_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (mr_rpc_server_start(&fake, &cfg) != MR_OK) {
        fprintf(stderr, "fake registration service failed to start\n");
        exit(1);
    }
    gateway = start_gateway();
}

/* ---- HTTP client ---- */

typedef struct {
    CURLcode rc;
    long status;
    char body[16384];
    size_t body_len;
    char request_id[128];
    char retry_after[32];
    char allow[64];
    char content_type[64];
    char connection[32];
} http_reply;

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
    http_reply *reply = arg;
    size_t len = size * n;
    size_t room = sizeof(reply->body) - 1 - reply->body_len;

    memcpy(reply->body + reply->body_len, data, len < room ? len : room);
    reply->body_len += len < room ? len : room;
    reply->body[reply->body_len] = '\0';
    return len;
}

/* Copies the value of header line into dst when its name is name. */
static void
take_header(const char *line, size_t len, const char *name, char *dst,
            size_t size)
{
    size_t name_len = strlen(name);
    size_t value_len;

    if (len <= name_len + 1 || strncasecmp(line, name, name_len) != 0 ||
        line[name_len] != ':') {
        return;
    }
    line += name_len + 1;
    len -= name_len + 1;
    while (len > 0 && *line == ' ') {
        line++;
        len--;
    }
    value_len = len;
    while (value_len > 0 &&
           (line[value_len - 1] == '\r' || line[value_len - 1] == '\n')) {
        value_len--;
    }
    snprintf(dst, size, "%.*s", (int)value_len, line);
}

static size_t
on_header(char *line, size_t size, size_t n, void *arg)
{
    http_reply *reply = arg;
    size_t len = size * n;

    take_header(line, len, "X-Request-Id", reply->request_id,
                sizeof(reply->request_id));
    take_header(line, len, "Retry-After", reply->retry_after,
                sizeof(reply->retry_after));
    take_header(line, len, "Allow", reply->allow, sizeof(reply->allow));
    take_header(line, len, "Content-Type", reply->content_type,
                sizeof(reply->content_type));
    take_header(line, len, "Connection", reply->connection,
                sizeof(reply->connection));
    return len;
}

/* A request body fed to curl in pieces, for chunked uploads. */
typedef struct {
    const char *data;
    size_t len;
    size_t sent;
} upload;

static size_t
on_read(char *buf, size_t size, size_t n, void *arg)
{
    upload *up = arg;
    size_t room = size * n;
    size_t left = up->len - up->sent;
    size_t len = left < room ? left : room;

    if (len > 4096) {
        len = 4096;
    }
    memcpy(buf, up->data + up->sent, len);
    up->sent += len;
    return len;
}

/* Options of one request. Zero means the default. */
typedef struct {
    const char *const *headers; /* NULL-terminated, replacing X-Api-Key */
    bool chunked;
    long timeout_ms;
    const gw_server *server;
} http_options;

static void
http_opts(const char *method, const char *path, const char *body,
          const http_options *opts, http_reply *reply)
{
    static const char *const default_headers[] = {"X-Api-Key: " API_KEY, NULL};
    const char *const *headers =
        opts->headers != NULL ? opts->headers : default_headers;
    const gw_server *server = opts->server != NULL ? opts->server : gateway;
    CURL *curl = curl_easy_init();
    struct curl_slist *list = NULL;
    upload up = {body, body != NULL ? strlen(body) : 0, 0};
    bool typed = false;
    char url[256];

    memset(reply, 0, sizeof(*reply));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", gw_server_port(server),
             path);
    for (size_t i = 0; headers[i] != NULL; i++) {
        list = curl_slist_append(list, headers[i]);
        typed |= strncasecmp(headers[i], "Content-Type:", 13) == 0;
    }
    list = curl_slist_append(list, "Expect:");
    /* libcurl would send application/x-www-form-urlencoded. */
    if (body != NULL && !typed) {
        list = curl_slist_append(list, "Content-Type: application/json");
    }

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, reply);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     opts->timeout_ms > 0 ? opts->timeout_ms : 5000L);
    if (body != NULL && opts->chunked) {
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, &up);
    } else if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);

    reply->rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
}

static void
http(const char *method, const char *path, const char *body, http_reply *reply)
{
    const http_options opts = {0};

    http_opts(method, path, body, &opts, reply);
}

/* Returns the string member name of the JSON body, or NULL. */
static const char *
body_member(const http_reply *reply, const char *name, json_t **doc)
{
    *doc = json_loads(reply->body, 0, NULL);
    return json_string_value(json_object_get(*doc, name));
}

/* Asserts a structured error body with code and status. */
static void
check_error(const http_reply *reply, int status, const char *code)
{
    char type[128];
    json_t *doc = NULL;

    snprintf(type, sizeof(type), "https://docs.mcpreg.dev/errors/%s", code);
    MR_CHECK_INT(reply->status, ==, status);
    MR_CHECK_STR(body_member(reply, "code", &doc), code);
    MR_CHECK_STR(json_string_value(json_object_get(doc, "type")), type);
    MR_CHECK(json_is_string(json_object_get(doc, "detail")));
    MR_CHECK_INT(json_integer_value(json_object_get(doc, "status")), ==,
                 status);
    MR_CHECK_INT(json_object_size(doc), ==, 4);
    MR_CHECK_STR(reply->content_type, "application/json");
    MR_CHECK(reply->request_id[0] != '\0');
    json_decref(doc);
}

/* ---- cases ---- */

static void
get_returns_masked_server(void)
{
    http_reply r;
    json_t *doc = NULL;
    json_t *headers;

    fixture();
    http("GET", SERVERS "/" ID_OK, NULL, &r);
    MR_CHECK_INT(r.rc, ==, CURLE_OK);
    MR_CHECK_INT(r.status, ==, 200);
    MR_CHECK_STR(r.content_type, "application/json");
    MR_CHECK_STR(body_member(&r, "id", &doc), ID_OK);
    headers = json_object_get(doc, "headers");
    MR_CHECK_STR(json_string_value(
                     json_object_get(json_array_get(headers, 0), "value")),
                 GW_MASKED_VALUE);
    MR_CHECK(strstr(r.body, "s3cret") == NULL);
    MR_CHECK_STR(json_string_value(json_object_get(doc, "tenant_id")),
                 "99999999-9999-4999-8999-999999999999");
    json_decref(doc);
}

static void
uppercase_path_id_sent_lowercase(void)
{
    http_reply r;
    json_t *doc = NULL;

    fixture();
    http("GET", SERVERS "/ABCDEF01-2345-4678-9ABC-DEF012345678", NULL, &r);
    MR_CHECK_INT(r.status, ==, 200);
    MR_CHECK_STR(body_member(&r, "id", &doc),
                 "abcdef01-2345-4678-9abc-def012345678");
    json_decref(doc);
}

static void
api_key_sent_as_hash(void)
{
    uint8_t expected[MR_SHA256_LEN];
    http_reply r;

    fixture();
    mr_sha256(API_KEY, strlen(API_KEY), expected);
    http("GET", SERVERS, NULL, &r);
    MR_CHECK_INT(r.status, ==, 200);
    MR_CHECK_STR(r.body, "[]");
    pthread_mutex_lock(&seen.lock);
    MR_CHECK_INT(seen.key_sha256_len, ==, MR_SHA256_LEN);
    MR_CHECK(memcmp(seen.key_sha256, expected, MR_SHA256_LEN) == 0);
    pthread_mutex_unlock(&seen.lock);
}

/* Spaces and tabs around the key are not part of it (RFC 9110 section
 * 5.5), and a key of blanks only is no key. */
static void
api_key_whitespace_trimmed(void)
{
    const char *const padded[] = {"X-Api-Key: \t " API_KEY " \t ", NULL};
    const char *const blank[] = {"X-Api-Key:  \t ", NULL};
    http_options opts = {.headers = padded};
    uint8_t expected[MR_SHA256_LEN];
    http_reply r;

    fixture();
    mr_sha256(API_KEY, strlen(API_KEY), expected);
    http_opts("GET", SERVERS, NULL, &opts, &r);
    MR_CHECK_INT(r.status, ==, 200);
    pthread_mutex_lock(&seen.lock);
    MR_CHECK_INT(seen.key_sha256_len, ==, MR_SHA256_LEN);
    MR_CHECK(memcmp(seen.key_sha256, expected, MR_SHA256_LEN) == 0);
    pthread_mutex_unlock(&seen.lock);

    opts.headers = blank;
    http_opts("GET", SERVERS, NULL, &opts, &r);
    MR_CHECK_INT(r.status, ==, 401);
}

/* HEAD gets the status and headers of GET, and no body. */
static void
head_answers_like_get(void)
{
    http_reply get;
    http_reply head;

    fixture();
    http("GET", SERVERS "/" ID_OK, NULL, &get);
    http("HEAD", SERVERS "/" ID_OK, NULL, &head);
    MR_CHECK_INT(head.rc, ==, CURLE_OK);
    MR_CHECK_INT(head.status, ==, 200);
    MR_CHECK_STR(head.content_type, "application/json");
    MR_CHECK(head.request_id[0] != '\0');
    MR_CHECK_INT(head.body_len, ==, 0);
    MR_CHECK(get.body_len > 0);

    http("HEAD", SERVERS "/" ID_MISSING, NULL, &head);
    MR_CHECK_INT(head.status, ==, 404);
    MR_CHECK_INT(head.body_len, ==, 0);
}

static void
query_string_ignored(void)
{
    http_reply r;

    fixture();
    http("GET", SERVERS "?limit=5&x=%2F", NULL, &r);
    MR_CHECK_INT(r.status, ==, 200);
    http("GET", SERVERS "/" ID_OK "?verbose", NULL, &r);
    MR_CHECK_INT(r.status, ==, 200);
}

static void
request_id_accepted_or_generated(void)
{
    const char *const good[] = {"X-Api-Key: " API_KEY,
                                "X-Request-Id: abc.DEF_123-x", NULL};
    const char *const bad[] = {"X-Api-Key: " API_KEY,
                               "X-Request-Id: has space", NULL};
    const char *const long_id[] = {
        "X-Api-Key: " API_KEY,
        "X-Request-Id: "
        "12345678901234567890123456789012345678901234567890123456789012345",
        NULL};
    http_options opts = {.headers = good};
    http_reply r;

    fixture();
    http_opts("GET", SERVERS "/" ID_OK, NULL, &opts, &r);
    MR_CHECK_STR(r.request_id, "abc.DEF_123-x");
    pthread_mutex_lock(&seen.lock);
    MR_CHECK_STR(seen.request_id, "abc.DEF_123-x");
    pthread_mutex_unlock(&seen.lock);

    opts.headers = bad;
    http_opts("GET", SERVERS "/" ID_OK, NULL, &opts, &r);
    MR_CHECK_INT(strlen(r.request_id), ==, MR_UUID_LEN);

    opts.headers = long_id;
    http_opts("GET", SERVERS "/" ID_OK, NULL, &opts, &r);
    MR_CHECK_INT(strlen(r.request_id), ==, MR_UUID_LEN);
}

static void
long_api_key_hashed_whole(void)
{
    char key[300];
    char header[400];
    const char *const headers[] = {header, NULL};
    http_options opts = {.headers = headers};
    uint8_t expected[MR_SHA256_LEN];
    http_reply r;

    fixture();
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    snprintf(header, sizeof(header), "X-Api-Key: %s", key);
    mr_sha256(key, strlen(key), expected);

    http_opts("GET", SERVERS, NULL, &opts, &r);
    MR_CHECK_INT(r.status, ==, 200);
    pthread_mutex_lock(&seen.lock);
    MR_CHECK(memcmp(seen.key_sha256, expected, MR_SHA256_LEN) == 0);
    pthread_mutex_unlock(&seen.lock);
}

static void
request_id_rules(void)
{
    char max[GW_REQUEST_ID_MAX + 2];

    MR_CHECK(gw_request_id_valid("a"));
    MR_CHECK(gw_request_id_valid("req-1.2_3"));
    MR_CHECK(!gw_request_id_valid(""));
    MR_CHECK(!gw_request_id_valid("a b"));
    MR_CHECK(!gw_request_id_valid("a/b"));
    MR_CHECK(!gw_request_id_valid("\xc3\xa9"));

    memset(max, 'r', sizeof(max));
    max[GW_REQUEST_ID_MAX] = '\0';
    MR_CHECK(gw_request_id_valid(max));
    max[GW_REQUEST_ID_MAX] = 'r';
    max[GW_REQUEST_ID_MAX + 1] = '\0';
    MR_CHECK(!gw_request_id_valid(max));
}

static void
missing_api_key_unauthorized(void)
{
    const char *const none[] = {NULL};
    const char *const empty[] = {"X-Api-Key;", NULL};
    http_options opts = {.headers = none};
    http_reply r;

    fixture();
    http_opts("GET", SERVERS, NULL, &opts, &r);
    MR_CHECK_INT(r.status, ==, 401);
    MR_CHECK_STR(r.body, "{\"error\":\"Unauthorized\"}");
    MR_CHECK_STR(r.content_type, "application/json");
    MR_CHECK(r.request_id[0] != '\0');

    opts.headers = empty;
    http_opts("GET", SERVERS, NULL, &opts, &r);
    MR_CHECK_INT(r.status, ==, 401);
    MR_CHECK_STR(r.body, "{\"error\":\"Unauthorized\"}");
}

static void
rejected_key_forbidden(void)
{
    http_reply r;

    fixture();
    http("GET", SERVERS "/" ID_FORBIDDEN, NULL, &r);
    MR_CHECK_INT(r.status, ==, 403);
    MR_CHECK_STR(r.body, "{\"error\":\"Forbidden\"}");
}

static void
service_detail_passed_through(void)
{
    http_reply r;
    json_t *doc = NULL;

    fixture();
    http("GET", SERVERS "/" ID_MISSING, NULL, &r);
    check_error(&r, 404, "mcp_server_not_found");
    MR_CHECK_STR(body_member(&r, "detail", &doc), MISSING_DETAIL);
    json_decref(doc);
}

static void
unknown_route_not_found(void)
{
    http_reply r;

    fixture();
    http("GET", "/v1/deepagents/agents", NULL, &r);
    check_error(&r, 404, "route_not_found");
    http("GET", SERVERS "/" ID_OK "/tools?x=1", NULL, &r);
    check_error(&r, 404, "route_not_found");
}

static void
wrong_method_not_allowed(void)
{
    http_reply r;

    fixture();
    http("PUT", SERVERS, "{}", &r);
    check_error(&r, 405, "method_not_allowed");
    MR_CHECK_STR(r.allow, "GET, HEAD, POST");

    http("GET", SERVERS "/" ID_OK "/oauth-provider", NULL, &r);
    check_error(&r, 405, "method_not_allowed");
    MR_CHECK_STR(r.allow, "POST");
}

static void
invalid_path_id_rejected(void)
{
    http_reply r;

    fixture();
    http("GET", SERVERS "/not-a-uuid", NULL, &r);
    check_error(&r, 400, "invalid_mcp_server_id");
    http("POST", SERVERS "/123/oauth-provider", NULL, &r);
    check_error(&r, 400, "invalid_mcp_server_id");

    /* An escaped NUL must not end the path before the id's last bytes. */
    http("GET", SERVERS "/" ID_OK "%00", NULL, &r);
    check_error(&r, 400, "invalid_mcp_server_id");
    http("GET", SERVERS "/" ID_OK "%00/x", NULL, &r);
    MR_CHECK_INT(r.status, ==, 404);
    /* An escaped "/" stays in its segment: this is the one-id route, which
     * takes no POST, not the oauth-provider route. */
    http("POST", SERVERS "/" ID_OK "%2Foauth-provider", NULL, &r);
    check_error(&r, 405, "method_not_allowed");
    http("GET", SERVERS "/" ID_OK "%2Foauth-provider", NULL, &r);
    check_error(&r, 400, "invalid_mcp_server_id");
}

/* Sends GET path on curl, an easy handle kept between requests, and returns
 * the status. *connects receives the new connections it opened. */
static long
get_on(CURL *curl, const char *path, long *connects)
{
    char url[256];
    long status = 0;
    http_reply ignored;

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
             gw_server_port(gateway), path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ignored);
    memset(&ignored, 0, sizeof(ignored));
    curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, connects);
    return status;
}

static void
error_keeps_connection_open(void)
{
    struct curl_slist *list = curl_slist_append(NULL, "X-Api-Key: " API_KEY);
    CURL *curl = curl_easy_init();
    long connects = 0;

    fixture();
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);

    MR_CHECK_INT(get_on(curl, "/v1/deepagents/agents", &connects), ==, 404);
    MR_CHECK_INT(connects, ==, 1);
    MR_CHECK_INT(get_on(curl, SERVERS "/bad-id", &connects), ==, 400);
    MR_CHECK_INT(connects, ==, 0);
    MR_CHECK_INT(get_on(curl, SERVERS "/" ID_OK, &connects), ==, 200);
    MR_CHECK_INT(connects, ==, 0);

    curl_easy_cleanup(curl);
    curl_slist_free_all(list);
}

static void
error_with_body_closes_connection(void)
{
    const char *const none[] = {NULL};
    http_options opts = {.headers = none};
    http_reply r;

    fixture();
    http_opts("POST", SERVERS, "{\"name\": \"n\", \"url\": \"u\"}", &opts, &r);
    MR_CHECK_INT(r.status, ==, 401);
    MR_CHECK_STR(r.connection, "close");
}

static void
create_returns_201(void)
{
    http_reply r;
    json_t *doc = NULL;

    fixture();
    http("POST", SERVERS,
         "{\"name\": \"docs\", \"url\": \"https://mcp.example.com/mcp\", "
         "\"headers\": [{\"key\": \"Authorization\", \"value\": \"x\"}]}",
         &r);
    MR_CHECK_INT(r.status, ==, 201);
    MR_CHECK_STR(body_member(&r, "name", &doc), "docs");
    MR_CHECK(json_is_true(json_object_get(doc, "can_invoke")));
    json_decref(doc);
}

/* A JSON body may come without Content-Type, or as application/json in
 * UTF-8. Another media type or charset gets 415 before the body is read,
 * with Connection: close. */
static void
media_type_checked(void)
{
    const struct {
        const char *header;
        long status;
    } cases[] = {
        {"Content-Type: application/json; charset=\"UTF-8\"", 201},
        {"Content-Type: Application/JSON", 201},
        {"Content-Type:", 201}, /* libcurl then sends none */
        {"Content-Type: text/plain", 415},
        {"Content-Type: application/x-www-form-urlencoded", 415},
        {"Content-Type: application/json; charset=latin1", 415},
        {"Content-Type: application/jsonl", 415},
        {"Content-Type: application/json garbage", 415},
        {"Content-Type: application/json; charset =latin1", 415},
        {"Content-Type: application/json ; charset=utf-8;", 201},
    };
    const char *body = "{\"name\": \"docs\", \"url\": \"https://a/mcp\"}";
    http_reply r;

    fixture();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const headers[] = {"X-Api-Key: " API_KEY, cases[i].header,
                                       NULL};
        const http_options opts = {.headers = headers};

        http_opts("POST", SERVERS, body, &opts, &r);
        MR_CHECK_INT(r.status, ==, cases[i].status);
        if (cases[i].status == 415) {
            check_error(&r, 415, "unsupported_media_type");
            MR_CHECK_STR(r.connection, "close");
        }
    }
}

static void
create_invalid_body_rejected(void)
{
    http_reply r;
    json_t *doc = NULL;

    fixture();
    http("POST", SERVERS, "{\"url\": \"https://a\"}", &r);
    check_error(&r, 400, "missing_required_field");
    MR_CHECK_STR(body_member(&r, "detail", &doc),
                 "Set 'name' to a non-empty string: 'name' is required");
    json_decref(doc);

    http("POST", SERVERS, "{\"name\": \"a\", \"name\": \"b\"}", &r);
    check_error(&r, 400, "invalid_request_body");
    http("POST", SERVERS, "", &r);
    check_error(&r, 400, "invalid_request_body");
}

/* Returns a JSON object body of len bytes. The caller frees it. */
static char *
large_body(size_t len)
{
    char *body = malloc(len + 1);

    memset(body, 'a', len);
    memcpy(body, "{\"name\": \"", 10);
    memcpy(body + len - 2, "\"}", 2);
    body[len] = '\0';
    return body;
}

static void
large_body_rejected(void)
{
    char *body = large_body(GW_BODY_MAX + 100);
    http_options chunked = {.chunked = true};
    http_reply r;

    fixture();
    http("POST", SERVERS, body, &r);
    check_error(&r, 413, "request_body_too_large");

    http_opts("POST", SERVERS, body, &chunked, &r);
    check_error(&r, 413, "request_body_too_large");
    free(body);
}

static void
chunked_body_accepted(void)
{
    http_options chunked = {.chunked = true};
    http_reply r;

    fixture();
    http_opts("POST", SERVERS,
              "{\"name\": \"chunked\", \"url\": \"https://a\"}", &chunked, &r);
    MR_CHECK_INT(r.status, ==, 201);
}

static void
update_sets_has_flags(void)
{
    http_reply r;

    fixture();
    http("PATCH", SERVERS "/" ID_OK, "{\"url\": \"https://b\"}", &r);
    MR_CHECK_INT(r.status, ==, 200);
    pthread_mutex_lock(&seen.lock);
    MR_CHECK(seen.has_url);
    pthread_mutex_unlock(&seen.lock);

    http("PATCH", SERVERS "/" ID_OK, "{\"name\": \"x\"}", &r);
    check_error(&r, 400, "unknown_field");
}

static void
delete_returns_204(void)
{
    http_reply r;

    fixture();
    http("DELETE", SERVERS "/" ID_OK, NULL, &r);
    MR_CHECK_INT(r.status, ==, 204);
    MR_CHECK_INT(r.body_len, ==, 0);
    MR_CHECK_STR(r.content_type, "");
    MR_CHECK(r.request_id[0] != '\0');

    http("DELETE", SERVERS "/" ID_MISSING, NULL, &r);
    MR_CHECK_INT(r.status, ==, 204);
}

static void
register_body_optional(void)
{
    const char *path = SERVERS "/" ID_OK "/oauth-provider";
    http_reply r;
    json_t *doc = NULL;

    fixture();
    http("POST", path, NULL, &r);
    MR_CHECK_INT(r.status, ==, 200);
    MR_CHECK_STR(body_member(&r, "oauth_provider_id", &doc),
                 "66666666-6666-4666-8666-666666666666");
    MR_CHECK_INT(json_object_size(doc), ==, 1);
    json_decref(doc);

    http("POST", path, "{\"ls_user_id\": \"user-9\"}", &r);
    MR_CHECK_INT(r.status, ==, 200);
    pthread_mutex_lock(&seen.lock);
    MR_CHECK_STR(seen.ls_user_id, "user-9");
    pthread_mutex_unlock(&seen.lock);

    http("POST", path, "{}", &r);
    MR_CHECK_INT(r.status, ==, 200);
    http("POST", path, "{\"ls_user_id\": 1}", &r);
    check_error(&r, 400, "invalid_field");
}

static void
unavailable_has_retry_after(void)
{
    http_reply r;

    fixture();
    http("GET", SERVERS "/" ID_BUSY, NULL, &r);
    check_error(&r, 503, "service_unavailable");
    MR_CHECK_STR(r.retry_after, "7");
}

static void
slow_service_times_out(void)
{
    http_reply r;

    fixture();
    http("GET", SERVERS "/" ID_HELD, NULL, &r);
    check_error(&r, 503, "timed_out");
    MR_CHECK(atoi(r.retry_after) >= 1);
    release_held();
}

/* Returns the requests in progress of server after waiting up to 2 s for
 * them to finish. */
static int
settle(gw_server *server)
{
    int active = 0;

    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&server->lock);
        active = server->active;
        pthread_mutex_unlock(&server->lock);
        if (active == 0) {
            break;
        }
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    return active;
}

static void
client_gone_while_suspended(void)
{
    http_options quick = {.timeout_ms = 100};
    http_reply r;

    fixture();
    http_opts("GET", SERVERS "/" ID_HELD, NULL, &quick, &r);
    MR_CHECK_INT(r.rc, ==, CURLE_OPERATION_TIMEDOUT);

    /* The reply arrives after the client left. The request state must
     * still be there for the callback, then be freed. */
    MR_CHECK(wait_held() != NULL);
    release_held();
    MR_CHECK_INT(settle(gateway), ==, 0);

    http("GET", SERVERS "/" ID_OK, NULL, &r);
    MR_CHECK_INT(r.status, ==, 200);
}

static void
concurrent_requests_answered(void)
{
    enum { N = 16 };
    CURLM *multi = curl_multi_init();
    CURL *handles[N];
    static http_reply replies[N];
    struct curl_slist *list = curl_slist_append(NULL, "X-Api-Key: " API_KEY);
    char url[128];
    int running = 0;
    int ok = 0;

    fixture();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s/%s",
             gw_server_port(gateway), SERVERS, ID_OK);
    for (int i = 0; i < N; i++) {
        handles[i] = curl_easy_init();
        curl_easy_setopt(handles[i], CURLOPT_URL, url);
        curl_easy_setopt(handles[i], CURLOPT_NOPROXY, "*");
        curl_easy_setopt(handles[i], CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(handles[i], CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(handles[i], CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(handles[i], CURLOPT_WRITEDATA, &replies[i]);
        curl_multi_add_handle(multi, handles[i]);
    }
    do {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    } while (running > 0);

    for (int i = 0; i < N; i++) {
        long status = 0;

        curl_easy_getinfo(handles[i], CURLINFO_RESPONSE_CODE, &status);
        ok += status == 200 && strstr(replies[i].body, ID_OK) != NULL;
        curl_multi_remove_handle(multi, handles[i]);
        curl_easy_cleanup(handles[i]);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(list);
    MR_CHECK_INT(ok, ==, N);
}

typedef struct {
    gw_server *server;
    http_reply reply;
} held_job;

static void *
run_held_request(void *arg)
{
    held_job *job = arg;
    http_options opts = {.server = job->server};

    http_opts("GET", SERVERS "/" ID_HELD, NULL, &opts, &job->reply);
    return NULL;
}

static void
stop_answers_waiting_requests(void)
{
    held_job job = {0};
    pthread_t thread;
    int64_t start;

    fixture();
    job.server = start_gateway();
    pthread_create(&thread, NULL, run_held_request, &job);
    MR_CHECK(wait_held() != NULL);

    start = mr_mono_ms();
    gw_server_stop(job.server, 200);
    MR_CHECK_INT(mr_mono_ms() - start, <, 1500);
    pthread_join(thread, NULL);

    check_error(&job.reply, 503, "shutting_down");
    MR_CHECK(strstr(job.reply.body, mr_strerror(MR_ESHUTTING_DOWN)) != NULL);
    MR_CHECK_STR(job.reply.retry_after, "1");
    MR_CHECK_STR(job.reply.connection, "close");
    release_held();
}

static void
shared_gateway_stops(void)
{
    fixture();
    gw_server_stop(gateway, 1000);
    gateway = NULL;
    mr_rpc_server_stop(fake, 1000);
    fake = NULL;
    curl_global_cleanup();
}

static const mr_test_case cases[] = {
    {"get_returns_masked_server", get_returns_masked_server},
    {"uppercase_path_id_sent_lowercase", uppercase_path_id_sent_lowercase},
    {"api_key_sent_as_hash", api_key_sent_as_hash},
    {"query_string_ignored", query_string_ignored},
    {"request_id_accepted_or_generated", request_id_accepted_or_generated},
    {"long_api_key_hashed_whole", long_api_key_hashed_whole},
    {"request_id_rules", request_id_rules},
    {"missing_api_key_unauthorized", missing_api_key_unauthorized},
    {"rejected_key_forbidden", rejected_key_forbidden},
    {"service_detail_passed_through", service_detail_passed_through},
    {"unknown_route_not_found", unknown_route_not_found},
    {"wrong_method_not_allowed", wrong_method_not_allowed},
    {"api_key_whitespace_trimmed", api_key_whitespace_trimmed},
    {"head_answers_like_get", head_answers_like_get},
    {"invalid_path_id_rejected", invalid_path_id_rejected},
    {"error_keeps_connection_open", error_keeps_connection_open},
    {"error_with_body_closes_connection", error_with_body_closes_connection},
    {"create_returns_201", create_returns_201},
    {"media_type_checked", media_type_checked},
    {"create_invalid_body_rejected", create_invalid_body_rejected},
    {"large_body_rejected", large_body_rejected},
    {"chunked_body_accepted", chunked_body_accepted},
    {"update_sets_has_flags", update_sets_has_flags},
    {"delete_returns_204", delete_returns_204},
    {"register_body_optional", register_body_optional},
    {"unavailable_has_retry_after", unavailable_has_retry_after},
    {"slow_service_times_out", slow_service_times_out},
    {"client_gone_while_suspended", client_gone_while_suspended},
    {"concurrent_requests_answered", concurrent_requests_answered},
    {"stop_answers_waiting_requests", stop_answers_waiting_requests},
    {"shared_gateway_stops", shared_gateway_stops},
};

MR_TEST_MAIN(cases)
