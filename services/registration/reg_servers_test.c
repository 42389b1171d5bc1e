/* reg_servers_test.c - unit tests of the MCP server records and their
 * validation, against a RocksDB store in a temporary folder. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mr_log.h"
#include "mr_test.h"
#include "mr_util.h"
#include "reg_servers.h"
#include "reg_test_dir.h"

#define WS       "11111111-1111-4111-8111-111111111111"
#define OTHER_WS "22222222-2222-4222-8222-222222222222"

static char dir[256];

static void
open_service(reg_service *service)
{
    char why[512] = "";

    memset(service, 0, sizeof(*service));
    mr_util_init();
    reg_test_dir_make(dir);
    MR_CHECK_INT(reg_store_open(&service->store, dir, 8, why, sizeof(why)), ==,
                 MR_OK);
    reg_url_rules_parse(&service->url_rules, "localhost", NULL, 0);
}

static void
close_service(reg_service *service)
{
    reg_store_close(service->store);
    reg_url_rules_free(&service->url_rules);
    reg_test_dir_remove(dir);
}

static Mcpreg__V1__CreateMcpServerRequest
oauth_request(const char *name)
{
    Mcpreg__V1__CreateMcpServerRequest req =
        MCPREG__V1__CREATE_MCP_SERVER_REQUEST__INIT;

    req.name = (char *)name;
    req.url = "https://mcp.example.com/mcp";
    req.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    req.oauth_mode =
        MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;
    return req;
}

/* Creates a server and returns its id in id; returns the error. */
static mr_err
create(reg_service *service, const char *ws,
       const Mcpreg__V1__CreateMcpServerRequest *req, char id[37],
       char *detail)
{
    Mcpreg__V1__McpServer *server = NULL;
    mr_err err = reg_servers_create(service, ws, req, &server, detail, 512);

    if (server != NULL) {
        snprintf(id, 37, "%s", server->id);
        mcpreg__v1__mcp_server__free_unpacked(server, NULL);
    }
    return err;
}

static void
servers_create_get_list(void)
{
    Mcpreg__V1__CreateMcpServerRequest req = oauth_request("docs");
    Mcpreg__V1__McpServerRecord *rec = NULL;
    reg_service service;
    reg_server_list list;
    char id[37] = "", id2[37] = "";
    char detail[512] = "";

    open_service(&service);
    MR_CHECK_INT(create(&service, WS, &req, id, detail), ==, MR_OK);
    req = oauth_request("tickets");
    usleep(2000); /* so the two creation times differ */
    MR_CHECK_INT(create(&service, WS, &req, id2, detail), ==, MR_OK);

    MR_CHECK_INT(reg_servers_get(&service, WS, id, &rec, NULL, 0), ==, MR_OK);
    if (rec != NULL) {
        MR_CHECK_STR(rec->server->name, "docs");
        MR_CHECK_STR(rec->server->workspace_id, WS);
        MR_CHECK_INT(rec->server->created_at_ms, >, 0);
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }

    MR_CHECK_INT(reg_servers_list(&service, WS, &list, NULL, 0), ==, MR_OK);
    MR_CHECK_INT(list.n, ==, 2);
    if (list.n == 2) {
        MR_CHECK_STR(list.servers[0]->id, id);
        MR_CHECK_STR(list.servers[1]->id, id2);
    }
    reg_server_list_free(&list);

    MR_CHECK_INT(reg_servers_list(&service, OTHER_WS, &list, NULL, 0), ==,
                 MR_OK);
    MR_CHECK_INT(list.n, ==, 0);
    reg_server_list_free(&list);
    close_service(&service);
}

static void
servers_get_hides_other_workspace(void)
{
    Mcpreg__V1__CreateMcpServerRequest req = oauth_request("docs");
    Mcpreg__V1__McpServerRecord *rec = NULL;
    reg_service service;
    char id[37] = "";
    char detail[512] = "";

    open_service(&service);
    create(&service, WS, &req, id, detail);
    MR_CHECK_INT(reg_servers_get(&service, OTHER_WS, id, &rec, NULL, 0), ==,
                 MR_ESERVER_NOT_FOUND);
    MR_CHECK_INT(reg_servers_get(&service, WS,
                                 "33333333-3333-4333-8333-333333333333", &rec,
                                 NULL, 0),
                 ==, MR_ESERVER_NOT_FOUND);
    MR_CHECK_INT(reg_servers_get(&service, WS, "not-a-uuid", &rec, NULL, 0),
                 ==, MR_EINVALID_ID);
    MR_CHECK(rec == NULL);
    close_service(&service);
}

static void
servers_name_conflict(void)
{
    Mcpreg__V1__CreateMcpServerRequest req = oauth_request("docs");
    reg_service service;
    char id[37] = "";
    char detail[512] = "";

    open_service(&service);
    MR_CHECK_INT(create(&service, WS, &req, id, detail), ==, MR_OK);
    MR_CHECK_INT(create(&service, WS, &req, id, detail), ==,
                 MR_ENAME_CONFLICT);
    MR_CHECK_INT(create(&service, OTHER_WS, &req, id, detail), ==, MR_OK);
    close_service(&service);
}

/* validation_case is one change to a valid request and its outcome. */
typedef struct {
    const char *what;
    void (*change)(Mcpreg__V1__CreateMcpServerRequest *req);
    mr_err expected;
    const char *fragment;
} validation_case;

static void
no_name(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->name = "";
}

static void
no_url(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->url = "";
}

static void
http_url(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->url = "http://mcp.example.com/";
}

static void
dev_http_url(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->url = "http://localhost:3000/mcp";
}

static void
mode_without_oauth(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS;
}

static void
mode_with_unspecified_auth(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_UNSPECIFIED;
}

static void
oauth_without_mode(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->oauth_mode = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED;
}

static void
provider_with_per_user(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->oauth_provider_id = "44444444-4444-4444-8444-444444444444";
}

static void
provider_with_legacy(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->oauth_mode = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_LEGACY_SHARED_PROVIDER;
    r->oauth_provider_id = "44444444-4444-4444-8444-444444444444";
}

static void
bad_provider_id(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->oauth_mode = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_LEGACY_SHARED_PROVIDER;
    r->oauth_provider_id = "nope";
}

static void
unknown_auth_type(Mcpreg__V1__CreateMcpServerRequest *r)
{
    r->auth_type = (Mcpreg__V1__AuthType)9;
}

static void
header_newline(Mcpreg__V1__CreateMcpServerRequest *r)
{
    static Mcpreg__V1__Header header = MCPREG__V1__HEADER__INIT;
    static Mcpreg__V1__Header *headers[] = {&header};

    header.key = "Authorization";
    header.value = "Bearer x\r\nX-Evil: 1";
    r->n_headers = 1;
    r->headers = headers;
}

static void
header_bad_name(Mcpreg__V1__CreateMcpServerRequest *r)
{
    static Mcpreg__V1__Header header = MCPREG__V1__HEADER__INIT;
    static Mcpreg__V1__Header *headers[] = {&header};

    header.key = "Bad Name:";
    header.value = "v";
    r->n_headers = 1;
    r->headers = headers;
}

static void
good_header(Mcpreg__V1__CreateMcpServerRequest *r)
{
    static Mcpreg__V1__Header header = MCPREG__V1__HEADER__INIT;
    static Mcpreg__V1__Header *headers[] = {&header};

    r->auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_UNSPECIFIED;
    r->oauth_mode = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED;
    header.key = "X-Api-Token";
    header.value = "secret\tvalue";
    r->n_headers = 1;
    r->headers = headers;
}

static void
servers_validation(void)
{
    static const validation_case cases[] = {
        {"no name", no_name, MR_EMISSING_FIELD, "'name'"},
        {"no url", no_url, MR_EMISSING_FIELD, "'url'"},
        {"http url", http_url, MR_EINVALID_URL, "https"},
        {"dev http url", dev_http_url, MR_OK, NULL},
        {"mode without oauth", mode_without_oauth, MR_EAUTH_CONFIG,
         "oauth_mode"},
        {"mode, auth unspecified", mode_with_unspecified_auth, MR_EAUTH_CONFIG,
         "oauth_mode"},
        {"oauth without mode", oauth_without_mode, MR_EMISSING_FIELD,
         "Set 'oauth_mode'"},
        {"provider with per-user", provider_with_per_user, MR_EAUTH_CONFIG,
         "oauth_provider_id"},
        {"provider with legacy", provider_with_legacy, MR_OK, NULL},
        {"bad provider id", bad_provider_id, MR_EINVALID_FIELD, "UUID"},
        {"unknown auth type", unknown_auth_type, MR_EINVALID_FIELD,
         "auth_type"},
        {"header newline", header_newline, MR_EINVALID_FIELD,
         "headers[0].value"},
        {"header bad name", header_bad_name, MR_EINVALID_FIELD,
         "headers[0].key"},
        {"good header", good_header, MR_OK, NULL},
    };
    reg_service service;

    open_service(&service);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[64];
        Mcpreg__V1__CreateMcpServerRequest req;
        char id[37] = "";
        char detail[512] = "";
        mr_err err;

        snprintf(name, sizeof(name), "server %zu", i);
        req = oauth_request(name);
        cases[i].change(&req);
        err = create(&service, WS, &req, id, detail);
        MR_CHECK_INT(err, ==, cases[i].expected);
        if (cases[i].fragment != NULL) {
            MR_CHECK(strstr(detail, cases[i].fragment) != NULL);
        }
        if (err != cases[i].expected ||
            (cases[i].fragment && !strstr(detail, cases[i].fragment))) {
            fprintf(stderr, "    case '%s': %s\n", cases[i].what, detail);
        }
        MR_CHECK(strstr(detail, "X-Evil") == NULL);
    }
    close_service(&service);
}

/* Stores a provider mapping of (ws, server, user) as RegisterOAuthProvider
 * would, with its provid/ index. */
static void
put_mapping(reg_service *service, const char *server_id, const char *user,
            const char *provider_id)
{
    Mcpreg__V1__ProviderRecord rec = MCPREG__V1__PROVIDER_RECORD__INIT;
    reg_batch *batch = reg_batch_new();
    reg_key key, id_key;

    rec.oauth_provider_id = (char *)provider_id;
    reg_key_build(&key, REG_T_PROV, WS, server_id, user, NULL);
    reg_key_build(&id_key, REG_T_PROVID, provider_id, NULL);
    reg_batch_put_msg(batch, &key, &rec.base);
    reg_batch_put(batch, &id_key, key.text, key.len);
    MR_CHECK_INT(reg_store_write(service->store, batch), ==, MR_OK);
    reg_batch_free(batch);
}

static bool
exists(reg_service *service, const char *table, const char *a, const char *b,
       const char *c)
{
    reg_key key;
    char *value = NULL;
    size_t len = 0;

    bool found;

    reg_key_build(&key, table, a, b, c, NULL);
    reg_store_get(service->store, &key, &value, &len);
    found = value != NULL;
    reg_store_free(value);
    return found;
}

/* check_stored_url checks that server id of WS has url. */
static void
check_stored_url(reg_service *service, const char *id, const char *url)
{
    Mcpreg__V1__McpServerRecord *rec = NULL;

    MR_CHECK_INT(reg_servers_get(service, WS, id, &rec, NULL, 0), ==, MR_OK);
    if (rec != NULL) {
        MR_CHECK_STR(rec->server->url, url);
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }
}

static mr_err
update(reg_service *service, Mcpreg__V1__UpdateMcpServerRequest *req,
       char *detail)
{
    Mcpreg__V1__McpServer *server = NULL;
    mr_err err = reg_servers_update(service, WS, req, &server, detail, 512);

    if (server != NULL) {
        mcpreg__v1__mcp_server__free_unpacked(server, NULL);
    }
    return err;
}

static void
servers_update_keeps_or_drops_mappings(void)
{
    Mcpreg__V1__CreateMcpServerRequest req = oauth_request("docs");
    Mcpreg__V1__UpdateMcpServerRequest up =
        MCPREG__V1__UPDATE_MCP_SERVER_REQUEST__INIT;
    const char *pid = "55555555-5555-4555-8555-555555555555";
    reg_service service;
    char id[37] = "";
    char detail[512] = "";

    open_service(&service);
    create(&service, WS, &req, id, detail);
    put_mapping(&service, id, "alice", pid);

    /* Headers only: the mapping stays. */
    up.id = id;
    up.has_headers = true;
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_OK);
    MR_CHECK(exists(&service, REG_T_PROV, WS, id, "alice"));

    /* An invalid result changes nothing. */
    up.has_headers = false;
    up.has_auth_type = true;
    up.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS;
    up.has_oauth_mode = true;
    up.oauth_mode = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_EAUTH_CONFIG);
    MR_CHECK(exists(&service, REG_T_PROV, WS, id, "alice"));

    /* The same URL with its scheme and host in another case is no change:
     * the mapping stays, and the URL is stored as sent. */
    up.has_auth_type = false;
    up.has_oauth_mode = false;
    up.has_url = true;
    up.url = "HTTPS://MCP.Example.COM/mcp";
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_OK);
    MR_CHECK(exists(&service, REG_T_PROV, WS, id, "alice"));
    MR_CHECK(exists(&service, REG_T_PROVID, pid, NULL, NULL));
    check_stored_url(&service, id, "HTTPS://MCP.Example.COM/mcp");

    /* The path keeps its case. */
    up.url = "https://mcp.example.com/MCP";
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_OK);
    MR_CHECK(!exists(&service, REG_T_PROV, WS, id, "alice"));
    put_mapping(&service, id, "alice", pid);

    /* A new URL drops the mapping and its provid/ index. */
    up.url = "https://other.example.com/mcp";
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_OK);
    MR_CHECK(!exists(&service, REG_T_PROV, WS, id, "alice"));
    MR_CHECK(!exists(&service, REG_T_PROVID, pid, NULL, NULL));

    up.id = "66666666-6666-4666-8666-666666666666";
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_ESERVER_NOT_FOUND);
    close_service(&service);
}

/* update_auth sends a PATCH of the auth fields of server id: auth_type,
 * and oauth_mode when mode is not UNSPECIFIED, and returns the error and
 * the updated server in *out, which the caller frees. */
static mr_err
update_auth(reg_service *service, const char *id, Mcpreg__V1__AuthType auth,
            Mcpreg__V1__OAuthMode mode, Mcpreg__V1__McpServer **out,
            char *detail)
{
    Mcpreg__V1__UpdateMcpServerRequest up =
        MCPREG__V1__UPDATE_MCP_SERVER_REQUEST__INIT;

    up.id = (char *)id;
    up.has_auth_type = auth != MCPREG__V1__AUTH_TYPE__AUTH_TYPE_UNSPECIFIED;
    up.auth_type = auth;
    up.has_oauth_mode = mode != MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED;
    up.oauth_mode = mode;
    return reg_servers_update(service, WS, &up, out, detail, 512);
}

/* A PATCH that switches to headers clears oauth_mode and
 * oauth_provider_id, and one that switches to per-user OAuth clears
 * oauth_provider_id, unless the PATCH sets them. */
static void
servers_update_clears_unused_auth(void)
{
    Mcpreg__V1__CreateMcpServerRequest per_user = oauth_request("per-user");
    Mcpreg__V1__CreateMcpServerRequest legacy = oauth_request("legacy");
    Mcpreg__V1__UpdateMcpServerRequest up =
        MCPREG__V1__UPDATE_MCP_SERVER_REQUEST__INIT;
    const char *pid = "99999999-9999-4999-8999-999999999999";
    const char *shared = "12345678-1234-4234-8234-123456789abc";
    Mcpreg__V1__McpServer *out = NULL;
    reg_service service;
    char per_user_id[37] = "", legacy_id[37] = "";
    char detail[512] = "";

    open_service(&service);
    create(&service, WS, &per_user, per_user_id, detail);
    put_mapping(&service, per_user_id, "alice", pid);
    legacy.oauth_mode =
        MCPREG__V1__OAUTH_MODE__OAUTH_MODE_LEGACY_SHARED_PROVIDER;
    legacy.oauth_provider_id = (char *)shared;
    MR_CHECK_INT(create(&service, WS, &legacy, legacy_id, detail), ==, MR_OK);

    MR_CHECK_INT(update_auth(&service, per_user_id,
                             MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS,
                             MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED,
                             &out, detail),
                 ==, MR_OK);
    if (out != NULL) {
        MR_CHECK_INT(out->auth_type, ==,
                     MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS);
        MR_CHECK_INT(out->oauth_mode, ==,
                     MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED);
        mcpreg__v1__mcp_server__free_unpacked(out, NULL);
        out = NULL;
    }
    MR_CHECK(!exists(&service, REG_T_PROV, WS, per_user_id, "alice"));

    /* Legacy to per-user drops the shared provider id. */
    MR_CHECK_INT(
        update_auth(&service, legacy_id,
                    MCPREG__V1__AUTH_TYPE__AUTH_TYPE_UNSPECIFIED,
                    MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT,
                    &out, detail),
        ==, MR_OK);
    if (out != NULL) {
        MR_CHECK_STR(out->oauth_provider_id, "");
        mcpreg__v1__mcp_server__free_unpacked(out, NULL);
        out = NULL;
    }

    /* A provider id that the PATCH sets is still checked. */
    up.id = legacy_id;
    up.has_auth_type = true;
    up.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS;
    up.has_oauth_provider_id = true;
    up.oauth_provider_id = (char *)shared;
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_EAUTH_CONFIG);
    MR_CHECK(strstr(detail, "oauth_provider_id") != NULL);
    close_service(&service);
}

static void
servers_delete_removes_everything(void)
{
    Mcpreg__V1__CreateMcpServerRequest req = oauth_request("docs");
    const char *pid = "77777777-7777-4777-8777-777777777777";
    reg_service service;
    char id[37] = "";
    char detail[512] = "";
    bool deleted = false;

    open_service(&service);
    create(&service, WS, &req, id, detail);
    put_mapping(&service, id, "bob", pid);

    MR_CHECK_INT(reg_servers_delete(&service, OTHER_WS, id, &deleted), ==,
                 MR_OK);
    MR_CHECK(!deleted);
    MR_CHECK(exists(&service, REG_T_SRV, WS, id, NULL));

    MR_CHECK_INT(reg_servers_delete(&service, WS, id, &deleted), ==, MR_OK);
    MR_CHECK(deleted);
    MR_CHECK(!exists(&service, REG_T_SRV, WS, id, NULL));
    MR_CHECK(!exists(&service, REG_T_SRVNAME, WS, "docs", NULL));
    MR_CHECK(!exists(&service, REG_T_PROV, WS, id, "bob"));
    MR_CHECK(!exists(&service, REG_T_PROVID, pid, NULL, NULL));

    /* The name is free again, and a second delete is a no-op. */
    MR_CHECK_INT(create(&service, WS, &req, id, detail), ==, MR_OK);
    MR_CHECK_INT(reg_servers_delete(&service, WS,
                                    "88888888-8888-4888-8888-888888888888",
                                    &deleted),
                 ==, MR_OK);
    MR_CHECK(!deleted);
    MR_CHECK_INT(reg_servers_delete(&service, WS, "x", &deleted), ==,
                 MR_EINVALID_ID);
    close_service(&service);
}

/* Sets a random sealing key with id key_id in service. */
static void
set_random_key(reg_service *service, uint32_t key_id)
{
    uint8_t key[REG_SEAL_KEY_LEN];

    randombytes_buf(key, sizeof(key));
    reg_seal_init(&service->seal, key, key_id);
}

static bool
contains_bytes(const char *haystack, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; n <= len && i <= len - n; i++) {
        if (memcmp(haystack + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Reads the raw stored value of server id of WS; the caller frees it with
 * reg_store_free. */
static char *
raw_server(reg_service *service, const char *id, size_t *len)
{
    reg_key key;
    char *value = NULL;

    *len = 0;
    reg_key_build(&key, REG_T_SRV, WS, id, NULL);
    MR_CHECK_INT(reg_store_get(service->store, &key, &value, len), ==, MR_OK);
    MR_CHECK(value != NULL);
    return value;
}

/* A server whose headers have a value and a name made up at run time, so
 * that finding them in the store cannot be a coincidence. */
typedef struct {
    char value[64];
    char name[64];
    Mcpreg__V1__Header header[2];
    Mcpreg__V1__Header *headers[2];
    Mcpreg__V1__CreateMcpServerRequest req;
} secret_server;

static void
secret_server_init(secret_server *s, const char *server_name)
{
    char uuid[MR_UUID_LEN + 1];

    mr_uuid_v4(uuid);
    snprintf(s->value, sizeof(s->value), "Bearer %s", uuid);
    mr_uuid_v4(uuid);
    snprintf(s->name, sizeof(s->name), "X-Tenant-%.8s", uuid);
    for (size_t i = 0; i < 2; i++) {
        mcpreg__v1__header__init(&s->header[i]);
        s->headers[i] = &s->header[i];
    }
    s->header[0].key = "Authorization";
    s->header[0].value = s->value;
    s->header[1].key = s->name;
    s->header[1].value = "team";
    s->req = oauth_request(server_name);
    s->req.n_headers = 2;
    s->req.headers = s->headers;
}

/* Checks that the stored record of id contains neither the header value nor
 * the header name of s, and that its headers are sealed under key_id. */
static void
check_sealed_at_rest(reg_service *service, const char *id,
                     const secret_server *s, uint32_t key_id)
{
    Mcpreg__V1__McpServerRecord *rec;
    size_t len = 0;
    char *value = raw_server(service, id, &len);

    MR_CHECK(value != NULL && !contains_bytes(value, len, s->value));
    MR_CHECK(value != NULL && !contains_bytes(value, len, s->value + 7));
    MR_CHECK(value != NULL && !contains_bytes(value, len, s->name));

    rec = mcpreg__v1__mcp_server_record__unpack(NULL, len,
                                                (const uint8_t *)value);
    MR_CHECK(rec != NULL);
    if (rec != NULL) {
        MR_CHECK_INT(rec->server->n_headers, ==, 0);
        MR_CHECK(rec->sealed_headers != NULL);
        MR_CHECK(rec->sealed_headers == NULL ||
                 rec->sealed_headers->key_id == key_id);
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }
    reg_store_free(value);
}

/* Checks that server carries the headers of s in plaintext. */
static void
check_opened(const Mcpreg__V1__McpServer *server, const secret_server *s)
{
    MR_CHECK_INT(server->n_headers, ==, 2);
    if (server->n_headers == 2) {
        MR_CHECK_STR(server->headers[0]->key, "Authorization");
        MR_CHECK_STR(server->headers[0]->value, s->value);
        MR_CHECK_STR(server->headers[1]->key, s->name);
        MR_CHECK_STR(server->headers[1]->value, "team");
    }
}

/* Checks that reg_servers_get returns the headers of s in plaintext. */
static void
check_get_opened(reg_service *service, const char *id, const secret_server *s)
{
    Mcpreg__V1__McpServerRecord *rec = NULL;

    MR_CHECK_INT(reg_servers_get(service, WS, id, &rec, NULL, 0), ==, MR_OK);
    if (rec != NULL) {
        check_opened(rec->server, s);
        MR_CHECK(rec->sealed_headers == NULL);
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }
}

/* Opens a service with a random key of id key_id and creates the server of
 * s, named name, in it; id receives the server's id. */
static void
open_with_secret_server(reg_service *service, secret_server *s,
                        const char *name, uint32_t key_id, char id[37])
{
    char detail[512] = "";

    open_service(service);
    set_random_key(service, key_id);
    secret_server_init(s, name);
    MR_CHECK_INT(create(service, WS, &s->req, id, detail), ==, MR_OK);
}

static void
servers_headers_sealed_at_rest(void)
{
    reg_service service;
    reg_server_list list;
    secret_server s;
    char id[37] = "";

    open_with_secret_server(&service, &s, "sealed", 3, id);
    check_sealed_at_rest(&service, id, &s, 3);

    check_get_opened(&service, id, &s);

    MR_CHECK_INT(reg_servers_list(&service, WS, &list, NULL, 0), ==, MR_OK);
    MR_CHECK_INT(list.n, ==, 1);
    if (list.n == 1) {
        check_opened(list.servers[0], &s);
    }
    reg_server_list_free(&list);
    close_service(&service);
}

static void
servers_update_keeps_headers_sealed(void)
{
    Mcpreg__V1__UpdateMcpServerRequest up =
        MCPREG__V1__UPDATE_MCP_SERVER_REQUEST__INIT;
    Mcpreg__V1__McpServerRecord *rec = NULL;
    Mcpreg__V1__McpServer *out = NULL;
    reg_service service;
    secret_server s;
    char id[37] = "";
    char detail[512] = "";

    open_with_secret_server(&service, &s, "update", 1, id);

    /* An update that leaves the headers alone keeps them, sealed. */
    up.id = id;
    up.has_url = true;
    up.url = "https://other.example.com/mcp";
    MR_CHECK_INT(reg_servers_update(&service, WS, &up, &out, detail, 512), ==,
                 MR_OK);
    if (out != NULL) {
        check_opened(out, &s);
        mcpreg__v1__mcp_server__free_unpacked(out, NULL);
    }
    check_sealed_at_rest(&service, id, &s, 1);
    check_get_opened(&service, id, &s);

    /* Removing every header removes the sealed value. */
    up.has_url = false;
    up.has_headers = true;
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_OK);
    MR_CHECK_INT(reg_servers_get(&service, WS, id, &rec, NULL, 0), ==, MR_OK);
    if (rec != NULL) {
        MR_CHECK_INT(rec->server->n_headers, ==, 0);
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }
    close_service(&service);
}

/* Reads the whole file at path into a NUL-terminated buffer that the caller
 * frees; NULL on failure. */
static char *
read_text_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = calloc(1, 65536);
    size_t n = 0;

    if (f != NULL && text != NULL) {
        n = fread(text, 1, 65535, f);
        text[n] = '\0';
    }
    if (f != NULL) {
        fclose(f);
    }
    return text;
}

/* Checks that detail tells the caller to send the headers of server id
 * again. */
static void
check_repair_detail(const char *detail, const char *id)
{
    MR_CHECK(strstr(detail, "PATCH") != NULL);
    MR_CHECK(strstr(detail, id) != NULL);
}

/* Runs the calls on a server whose headers were sealed under another key,
 * and checks each fails as an internal error. */
static void
check_unopenable(reg_service *service, const char *id)
{
    Mcpreg__V1__UpdateMcpServerRequest up =
        MCPREG__V1__UPDATE_MCP_SERVER_REQUEST__INIT;
    Mcpreg__V1__McpServerRecord *rec = NULL;
    reg_server_list list;
    char detail[512] = "";

    MR_CHECK_INT(reg_servers_get(service, WS, id, &rec, detail, 512), ==,
                 MR_EINTERNAL);
    MR_CHECK(rec == NULL);
    check_repair_detail(detail, id);

    detail[0] = '\0';
    MR_CHECK_INT(reg_servers_list(service, WS, &list, detail, 512), ==,
                 MR_EINTERNAL);
    MR_CHECK_INT(list.n, ==, 0);
    check_repair_detail(detail, id);

    detail[0] = '\0';
    up.id = (char *)id;
    up.has_url = true;
    up.url = "https://other.example.com/mcp";
    MR_CHECK_INT(update(service, &up, detail), ==, MR_EINTERNAL);
    check_repair_detail(detail, id);
}

static void
servers_wrong_key_is_internal_error(void)
{
    Mcpreg__V1__UpdateMcpServerRequest up =
        MCPREG__V1__UPDATE_MCP_SERVER_REQUEST__INIT;
    reg_service service;
    secret_server s;
    char id[37] = "";
    char detail[512] = "";
    char log_path[300];
    char *logged;
    FILE *log_file;

    open_with_secret_server(&service, &s, "rotated", 1, id);

    snprintf(log_path, sizeof(log_path), "%s/test.log", dir);
    log_file = fopen(log_path, "w");
    MR_CHECK(log_file != NULL);
    mr_log_init("test", MR_LOG_INFO, log_file ? fileno(log_file) : 2);

    /* Another key with the same id, then another key id. */
    set_random_key(&service, 1);
    check_unopenable(&service, id);
    set_random_key(&service, 2);
    check_unopenable(&service, id);

    mr_log_init("test", MR_LOG_INFO, 1);
    if (log_file != NULL) {
        fclose(log_file);
    }
    logged = read_text_file(log_path);
    MR_CHECK(logged != NULL &&
             strstr(logged, "reg.servers.headers_undecryptable") != NULL);
    MR_CHECK(logged != NULL && strstr(logged, id) != NULL);
    MR_CHECK(logged != NULL && strstr(logged, s.value + 7) == NULL);
    free(logged);

    /* Sending the headers again repairs the record under the new key. */
    up.id = id;
    up.has_headers = true;
    up.n_headers = s.req.n_headers;
    up.headers = s.req.headers;
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_OK);
    check_get_opened(&service, id, &s);
    close_service(&service);
}

static void
servers_sealed_headers_bound_to_record(void)
{
    Mcpreg__V1__CreateMcpServerRequest other = oauth_request("other");
    Mcpreg__V1__McpServerRecord *rec = NULL;
    reg_service service;
    secret_server s;
    reg_batch *batch;
    reg_key key;
    char id[37] = "", other_id[37] = "";
    char detail[512] = "";
    size_t len = 0;
    char *value;

    open_with_secret_server(&service, &s, "original", 1, id);
    MR_CHECK_INT(create(&service, WS, &other, other_id, detail), ==, MR_OK);

    /* Copy the first record, sealed headers and all, over the second, with
     * the second's id: the associated data no longer matches. */
    value = raw_server(&service, id, &len);
    rec = value ? mcpreg__v1__mcp_server_record__unpack(NULL, len,
                                                        (const uint8_t *)value)
                : NULL;
    MR_CHECK(rec != NULL);
    if (rec != NULL) {
        char *own_id = rec->server->id;

        rec->server->id = other_id;
        batch = reg_batch_new();
        reg_key_build(&key, REG_T_SRV, WS, other_id, NULL);
        reg_batch_put_msg(batch, &key, &rec->base);
        MR_CHECK_INT(reg_store_write(service.store, batch), ==, MR_OK);
        reg_batch_free(batch);
        rec->server->id = own_id;
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }
    reg_store_free(value);

    rec = NULL;
    MR_CHECK_INT(reg_servers_get(&service, WS, other_id, &rec, NULL, 0), ==,
                 MR_EINTERNAL);
    MR_CHECK(rec == NULL);
    close_service(&service);
}

static void
servers_plaintext_headers_still_read(void)
{
    Mcpreg__V1__McpServerRecord stored = MCPREG__V1__MCP_SERVER_RECORD__INIT;
    Mcpreg__V1__McpServer server = MCPREG__V1__MCP_SERVER__INIT;
    Mcpreg__V1__UpdateMcpServerRequest up =
        MCPREG__V1__UPDATE_MCP_SERVER_REQUEST__INIT;
    reg_service service;
    secret_server s;
    reg_batch *batch = reg_batch_new();
    reg_key key;
    char id[MR_UUID_LEN + 1];
    char detail[512] = "";

    open_service(&service);
    set_random_key(&service, 1);
    secret_server_init(&s, "legacy");
    mr_uuid_v4(id);

    /* A record as written before headers were sealed. */
    server.id = id;
    server.workspace_id = WS;
    server.name = "legacy";
    server.url = s.req.url;
    server.auth_type = s.req.auth_type;
    server.oauth_mode = s.req.oauth_mode;
    server.n_headers = s.req.n_headers;
    server.headers = s.req.headers;
    stored.server = &server;
    reg_key_build(&key, REG_T_SRV, WS, id, NULL);
    reg_batch_put_msg(batch, &key, &stored.base);
    MR_CHECK_INT(reg_store_write(service.store, batch), ==, MR_OK);
    reg_batch_free(batch);

    check_get_opened(&service, id, &s);

    /* Its next update seals them. */
    up.id = id;
    up.has_url = true;
    up.url = "https://other.example.com/mcp";
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_OK);
    check_sealed_at_rest(&service, id, &s, 1);
    close_service(&service);
}

static const mr_test_case cases[] = {
    {"servers_create_get_list", servers_create_get_list},
    {"servers_get_hides_other_workspace", servers_get_hides_other_workspace},
    {"servers_name_conflict", servers_name_conflict},
    {"servers_validation", servers_validation},
    {"servers_update_keeps_or_drops_mappings",
     servers_update_keeps_or_drops_mappings},
    {"servers_update_clears_unused_auth", servers_update_clears_unused_auth},
    {"servers_delete_removes_everything", servers_delete_removes_everything},
    {"servers_headers_sealed_at_rest", servers_headers_sealed_at_rest},
    {"servers_update_keeps_headers_sealed",
     servers_update_keeps_headers_sealed},
    {"servers_wrong_key_is_internal_error",
     servers_wrong_key_is_internal_error},
    {"servers_sealed_headers_bound_to_record",
     servers_sealed_headers_bound_to_record},
    {"servers_plaintext_headers_still_read",
     servers_plaintext_headers_still_read},
};

MR_TEST_MAIN(cases)
