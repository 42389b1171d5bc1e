/* reg_servers_test.c - unit tests of the MCP server records and their
 * validation, against a RocksDB store in a temporary folder. */
#include <string.h>

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
    reg_url_rules_parse(&service->url_rules, "localhost");
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

    MR_CHECK_INT(reg_servers_get(&service, WS, id, &rec), ==, MR_OK);
    if (rec != NULL) {
        MR_CHECK_STR(rec->server->name, "docs");
        MR_CHECK_STR(rec->server->workspace_id, WS);
        MR_CHECK_INT(rec->server->created_at_ms, >, 0);
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }

    MR_CHECK_INT(reg_servers_list(&service, WS, &list), ==, MR_OK);
    MR_CHECK_INT(list.n, ==, 2);
    if (list.n == 2) {
        MR_CHECK_STR(list.servers[0]->id, id);
        MR_CHECK_STR(list.servers[1]->id, id2);
    }
    reg_server_list_free(&list);

    MR_CHECK_INT(reg_servers_list(&service, OTHER_WS, &list), ==, MR_OK);
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
    MR_CHECK_INT(reg_servers_get(&service, OTHER_WS, id, &rec), ==,
                 MR_ESERVER_NOT_FOUND);
    MR_CHECK_INT(reg_servers_get(&service, WS,
                                 "33333333-3333-4333-8333-333333333333", &rec),
                 ==, MR_ESERVER_NOT_FOUND);
    MR_CHECK_INT(reg_servers_get(&service, WS, "not-a-uuid", &rec), ==,
                 MR_EINVALID_ID);
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
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_EAUTH_CONFIG);
    MR_CHECK(exists(&service, REG_T_PROV, WS, id, "alice"));

    /* A new URL drops the mapping and its provid/ index. */
    up.has_auth_type = false;
    up.has_url = true;
    up.url = "https://other.example.com/mcp";
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_OK);
    MR_CHECK(!exists(&service, REG_T_PROV, WS, id, "alice"));
    MR_CHECK(!exists(&service, REG_T_PROVID, pid, NULL, NULL));

    up.id = "66666666-6666-4666-8666-666666666666";
    MR_CHECK_INT(update(&service, &up, detail), ==, MR_ESERVER_NOT_FOUND);
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

static const mr_test_case cases[] = {
    {"servers_create_get_list", servers_create_get_list},
    {"servers_get_hides_other_workspace", servers_get_hides_other_workspace},
    {"servers_name_conflict", servers_name_conflict},
    {"servers_validation", servers_validation},
    {"servers_update_keeps_or_drops_mappings",
     servers_update_keeps_or_drops_mappings},
    {"servers_delete_removes_everything", servers_delete_removes_everything},
};

MR_TEST_MAIN(cases)
