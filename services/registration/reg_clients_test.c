/* reg_clients_test.c - operator clients through the real RPC layer: the
 * registration server runs on an ipc:// socket in a temporary folder, over
 * a temporary RocksDB store. */
#include <string.h>

#include "mcpreg/v1/registration.pb-c.h"
#include "mcpreg/v1/store.pb-c.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_test.h"
#include "mr_util.h"
#include "reg_clients.h"
#include "reg_servers.h"
#include "reg_test_dir.h"

#define WS              "11111111-1111-4111-8111-111111111111"
#define OTHER_WS        "22222222-2222-4222-8222-222222222222"
#define CALL_TIMEOUT_MS 5000
#define SECRET          "operator-secret-value"

typedef struct {
    char dir[256];
    char url[320];
    reg_service service;
    mr_rpc_server *server;
    mr_rpc_client *client;
    char server_id[MR_UUID_LEN + 1];
    char other_id[MR_UUID_LEN + 1];
} fixture;

/* create_server creates an OAuth server named name in WS into id. */
static void
create_server(fixture *fx, const char *name, char id[MR_UUID_LEN + 1])
{
    Mcpreg__V1__CreateMcpServerRequest req =
        MCPREG__V1__CREATE_MCP_SERVER_REQUEST__INIT;
    Mcpreg__V1__McpServer *server = NULL;
    char detail[REG_DETAIL_MAX] = "";

    req.name = (char *)name;
    req.url = "https://mcp.example.com/mcp";
    req.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    req.oauth_mode =
        MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;
    MR_CHECK_INT(reg_servers_create(&fx->service, WS, &req, &server, detail,
                                    sizeof(detail)),
                 ==, MR_OK);
    snprintf(id, MR_UUID_LEN + 1, "%s", server ? server->id : "");
    if (server != NULL) {
        mcpreg__v1__mcp_server__free_unpacked(server, NULL);
    }
}

static void
setup(fixture *fx)
{
    uint8_t key[REG_SEAL_KEY_LEN] = {7, 7, 7};
    char why[512] = "";

    memset(fx, 0, sizeof(*fx));
    mr_util_init();
    mr_log_init("test", MR_LOG_ERROR, 2);
    reg_test_dir_make(fx->dir);
    snprintf(fx->url, sizeof(fx->url), "ipc://%s/reg.sock", fx->dir);
    MR_CHECK_INT(
        reg_store_open(&fx->service.store, fx->dir, 8, why, sizeof(why)), ==,
        MR_OK);
    reg_seal_init(&fx->service.seal, key, 1);
    reg_url_rules_parse(&fx->service.url_rules, "localhost", NULL, 0);
    create_server(fx, "docs", fx->server_id);
    create_server(fx, "other", fx->other_id);

    MR_CHECK_INT(reg_service_start(&fx->server, &fx->service, fx->url, 8), ==,
                 MR_OK);
    MR_CHECK_INT(mr_rpc_client_open(&fx->client, fx->url, false), ==, MR_OK);
    for (int i = 0; i < 500 && mr_rpc_client_peers(fx->client) == 0; i++) {
        usleep(10000);
    }
}

static void
teardown(fixture *fx)
{
    mr_rpc_client_close(fx->client);
    mr_rpc_server_stop(fx->server, 2000);
    reg_store_close(fx->service.store);
    reg_url_rules_free(&fx->service.url_rules);
    reg_test_dir_remove(fx->dir);
}

static mr_err
call(fixture *fx, const char *method, const ProtobufCMessage *req,
     const ProtobufCMessageDescriptor *type, ProtobufCMessage **resp)
{
    char *detail = NULL;
    mr_err err = mr_rpc_call_sync(fx->client, method, req, type, NULL,
                                  CALL_TIMEOUT_MS, resp, &detail, NULL);

    free(detail);
    return err;
}

/* add calls AddOperatorClient; *replaced and issuer (may be NULL) receive
 * the response. */
static mr_err
add(fixture *fx, const char *server_id, const char *issuer,
    const char *client_id, const char *secret, bool *replaced,
    char stored[REG_URL_MAX + 1])
{
    Mcpreg__V1__AddOperatorClientRequest req =
        MCPREG__V1__ADD_OPERATOR_CLIENT_REQUEST__INIT;
    Mcpreg__V1__AddOperatorClientResponse *resp = NULL;
    mr_err err;

    req.workspace_id = WS;
    req.mcp_server_id = (char *)server_id;
    req.issuer = (char *)issuer;
    req.client_id = (char *)client_id;
    req.client_secret = (char *)(secret ? secret : "");
    err = call(fx, MR_M_ADD_OPERATOR_CLIENT, &req.base,
               &mcpreg__v1__add_operator_client_response__descriptor,
               (ProtobufCMessage **)&resp);
    if (resp != NULL) {
        if (replaced != NULL) {
            *replaced = resp->replaced;
        }
        if (stored != NULL) {
            snprintf(stored, REG_URL_MAX + 1, "%s", resp->issuer);
        }
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    return err;
}

/* list calls ListOperatorClients; the caller frees *out. */
static mr_err
list(fixture *fx, const char *ws, const char *server_id,
     Mcpreg__V1__ListOperatorClientsResponse **out)
{
    Mcpreg__V1__ListOperatorClientsRequest req =
        MCPREG__V1__LIST_OPERATOR_CLIENTS_REQUEST__INIT;

    *out = NULL;
    req.workspace_id = (char *)ws;
    req.mcp_server_id = (char *)server_id;
    return call(fx, MR_M_LIST_OPERATOR_CLIENTS, &req.base,
                &mcpreg__v1__list_operator_clients_response__descriptor,
                (ProtobufCMessage **)out);
}

/* count returns how many clients ListOperatorClients returns, or -1. */
static int
count(fixture *fx, const char *server_id)
{
    Mcpreg__V1__ListOperatorClientsResponse *resp = NULL;
    int n = -1;

    if (list(fx, WS, server_id, &resp) == MR_OK) {
        n = (int)resp->n_clients;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    return n;
}

static mr_err
remove_client(fixture *fx, const char *server_id, const char *issuer,
              bool *removed)
{
    Mcpreg__V1__RemoveOperatorClientRequest req =
        MCPREG__V1__REMOVE_OPERATOR_CLIENT_REQUEST__INIT;
    Mcpreg__V1__RemoveOperatorClientResponse *resp = NULL;
    mr_err err;

    req.workspace_id = WS;
    req.mcp_server_id = (char *)server_id;
    req.issuer = (char *)issuer;
    err = call(fx, MR_M_REMOVE_OPERATOR_CLIENT, &req.base,
               &mcpreg__v1__remove_operator_client_response__descriptor,
               (ProtobufCMessage **)&resp);
    *removed = resp != NULL && resp->removed;
    if (resp != NULL) {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    return err;
}

static mr_err
count_key(void *arg, const char *key, size_t keylen, const char *value,
          size_t len)
{
    (void)key;
    (void)keylen;
    (void)value;
    (void)len;
    (*(int *)arg)++;
    return MR_OK;
}

/* stored_records counts the opclient/ keys of server_id in WS. */
static int
stored_records(fixture *fx, const char *server_id)
{
    reg_key prefix;
    int n = 0;

    reg_key_build(&prefix, REG_T_OPCLIENT, WS, server_id, "", NULL);
    MR_CHECK_INT(reg_store_scan(fx->service.store, &prefix, count_key, &n), ==,
                 MR_OK);
    return n;
}

static void
clients_issuer_canonical(void)
{
    static const struct {
        const char *issuer;
        mr_err err;
        const char *canonical;
    } cases[] = {
        {"https://as.example", MR_OK, "https://as.example"},
        {"https://as.example/", MR_OK, "https://as.example"},
        {"https://as.example:8443/", MR_OK, "https://as.example:8443"},
        {"https://as.example/tenant", MR_OK, "https://as.example/tenant"},
        {"https://as.example/tenant/", MR_OK, "https://as.example/tenant/"},
        {"https://as.example//", MR_OK, "https://as.example//"},
        {"http://localhost:9000/", MR_OK, "http://localhost:9000"},
        {"HTTPS://AS.Example/", MR_OK, "https://as.example"},
        {"Https://As.Example:8443/Tenant/A", MR_OK,
         "https://as.example:8443/Tenant/A"},
        {"HTTP://LOCALHOST:9000", MR_OK, "http://localhost:9000"},
        {"", MR_EMISSING_FIELD, NULL},
        {"https://as.example/?tenant=1", MR_EINVALID_FIELD, NULL},
        {"https://as.example/#top", MR_EINVALID_FIELD, NULL},
        {"https://as.example?", MR_EINVALID_FIELD, NULL},
        {"http://as.example", MR_EINVALID_FIELD, NULL},
        {"as.example", MR_EINVALID_FIELD, NULL},
        {"/tenant", MR_EINVALID_FIELD, NULL},
        {"ftp://as.example", MR_EINVALID_FIELD, NULL},
        {"https://user@as.example", MR_EINVALID_FIELD, NULL},
        {"https://as.example /", MR_EINVALID_FIELD, NULL},
    };
    reg_url_rules rules;

    reg_url_rules_parse(&rules, "localhost", NULL, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[REG_URL_MAX + 1] = "";
        char detail[REG_DETAIL_MAX] = "";
        mr_err err = reg_clients_issuer_canonical(&rules, cases[i].issuer, out,
                                                  detail, sizeof(detail));

        MR_CHECK_INT(err, ==, cases[i].err);
        if (err != cases[i].err) {
            fprintf(stderr, "    issuer '%s': %s\n", cases[i].issuer, detail);
        }
        if (cases[i].canonical != NULL) {
            MR_CHECK_STR(out, cases[i].canonical);
        } else {
            /* The detail is about the issuer, not an MCP server URL. */
            MR_CHECK(strstr(detail, "issuer") != NULL);
            MR_CHECK(strstr(detail, "'url'") == NULL);
            MR_CHECK(strstr(detail, "MCP server") == NULL);
        }
    }
    reg_url_rules_free(&rules);
}

static void
clients_add_replaces_normalised_issuer(void)
{
    Mcpreg__V1__ListOperatorClientsResponse *resp = NULL;
    char stored[REG_URL_MAX + 1] = "";
    bool replaced = true;
    fixture fx;

    setup(&fx);
    MR_CHECK_INT(add(&fx, fx.server_id, "https://as.example/", "first", NULL,
                     &replaced, stored),
                 ==, MR_OK);
    MR_CHECK(!replaced);
    MR_CHECK_STR(stored, "https://as.example");

    MR_CHECK_INT(add(&fx, fx.server_id, "https://as.example", "second", NULL,
                     &replaced, stored),
                 ==, MR_OK);
    MR_CHECK(replaced);
    MR_CHECK_INT(stored_records(&fx, fx.server_id), ==, 1);

    MR_CHECK_INT(list(&fx, WS, fx.server_id, &resp), ==, MR_OK);
    MR_CHECK_INT(resp ? resp->n_clients : 0, ==, 1);
    if (resp != NULL && resp->n_clients == 1) {
        MR_CHECK_STR(resp->clients[0]->issuer, "https://as.example");
        MR_CHECK_STR(resp->clients[0]->client_id, "second");
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    teardown(&fx);
}

/* A record written before issuers were normalised, under the issuer with
 * a trailing '/', is replaced by the canonical one. */
static void
clients_add_replaces_slash_record(void)
{
    Mcpreg__V1__OperatorClientRecord rec =
        MCPREG__V1__OPERATOR_CLIENT_RECORD__INIT;
    reg_batch *batch = reg_batch_new();
    bool replaced = false;
    reg_key key;
    fixture fx;

    setup(&fx);
    rec.workspace_id = WS;
    rec.mcp_server_id = fx.server_id;
    rec.issuer = "https://as.example/";
    rec.client_id = "legacy";
    reg_key_build(&key, REG_T_OPCLIENT, WS, fx.server_id,
                  "https://as.example/", NULL);
    reg_batch_put_msg(batch, &key, &rec.base);
    MR_CHECK_INT(reg_store_write(fx.service.store, batch), ==, MR_OK);
    reg_batch_free(batch);

    MR_CHECK_INT(add(&fx, fx.server_id, "https://as.example", "new", NULL,
                     &replaced, NULL),
                 ==, MR_OK);
    MR_CHECK(replaced);
    MR_CHECK_INT(stored_records(&fx, fx.server_id), ==, 1);
    teardown(&fx);
}

/* contains returns whether text occurs in the len bytes of data. */
static bool
contains(const uint8_t *data, size_t len, const char *text)
{
    size_t text_len = strlen(text);

    for (size_t i = 0; i + text_len <= len; i++) {
        if (memcmp(data + i, text, text_len) == 0) {
            return true;
        }
    }
    return false;
}

static void
clients_list_hides_secrets(void)
{
    Mcpreg__V1__ListOperatorClientsResponse *resp = NULL;
    fixture fx;

    setup(&fx);
    MR_CHECK_INT(add(&fx, fx.server_id, "https://a.example", "with-secret",
                     SECRET, NULL, NULL),
                 ==, MR_OK);
    MR_CHECK_INT(add(&fx, fx.server_id, "https://b.example", "public", NULL,
                     NULL, NULL),
                 ==, MR_OK);
    MR_CHECK_INT(
        add(&fx, fx.other_id, "https://a.example", "other", NULL, NULL, NULL),
        ==, MR_OK);

    MR_CHECK_INT(list(&fx, WS, fx.server_id, &resp), ==, MR_OK);
    MR_CHECK_INT(resp ? resp->n_clients : 0, ==, 2);
    if (resp != NULL && resp->n_clients == 2) {
        uint8_t packed[4096];
        size_t len =
            mcpreg__v1__list_operator_clients_response__pack(resp, packed);

        MR_CHECK_STR(resp->clients[0]->client_id, "with-secret");
        MR_CHECK(resp->clients[0]->client_secret_set);
        MR_CHECK_STR(resp->clients[0]->workspace_id, WS);
        MR_CHECK_STR(resp->clients[0]->mcp_server_id, fx.server_id);
        MR_CHECK(resp->clients[0]->created_at_ms > 0);
        MR_CHECK_STR(resp->clients[1]->client_id, "public");
        MR_CHECK(!resp->clients[1]->client_secret_set);
        MR_CHECK(!contains(packed, len, SECRET));
    }
    if (resp != NULL) {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }

    MR_CHECK_INT(count(&fx, ""), ==, 3);
    MR_CHECK_INT(count(&fx, fx.other_id), ==, 1);
    MR_CHECK_INT(list(&fx, WS, "33333333-3333-4333-8333-333333333333", &resp),
                 ==, MR_ESERVER_NOT_FOUND);
    MR_CHECK_INT(list(&fx, "not-a-uuid", "", &resp), ==, MR_EINVALID_FIELD);
    MR_CHECK_INT(list(&fx, WS, "x", &resp), ==, MR_EINVALID_ID);
    MR_CHECK_INT(list(&fx, OTHER_WS, "", &resp), ==, MR_OK);
    MR_CHECK_INT(resp ? resp->n_clients : 1, ==, 0);
    if (resp != NULL) {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    teardown(&fx);
}

static void
clients_remove(void)
{
    bool removed = false;
    fixture fx;

    setup(&fx);
    MR_CHECK_INT(
        add(&fx, fx.server_id, "https://as.example", "c", SECRET, NULL, NULL),
        ==, MR_OK);
    MR_CHECK_INT(
        add(&fx, fx.server_id, "https://as.example/t/", "t", NULL, NULL, NULL),
        ==, MR_OK);

    /* The trailing '/' of an empty path names the same issuer. */
    MR_CHECK_INT(
        remove_client(&fx, fx.server_id, "https://as.example/", &removed), ==,
        MR_OK);
    MR_CHECK(removed);
    MR_CHECK_INT(
        remove_client(&fx, fx.server_id, "https://as.example", &removed), ==,
        MR_OK);
    MR_CHECK(!removed);
    MR_CHECK_INT(count(&fx, fx.server_id), ==, 1);

    /* On a path, the trailing '/' is part of the issuer. */
    MR_CHECK_INT(
        remove_client(&fx, fx.server_id, "https://as.example/t", &removed), ==,
        MR_OK);
    MR_CHECK(!removed);
    MR_CHECK_INT(
        remove_client(&fx, fx.server_id, "https://as.example/t/", &removed),
        ==, MR_OK);
    MR_CHECK(removed);
    MR_CHECK_INT(stored_records(&fx, fx.server_id), ==, 0);

    MR_CHECK_INT(remove_client(&fx, "x", "https://as.example", &removed), ==,
                 MR_EINVALID_ID);
    MR_CHECK_INT(remove_client(&fx, fx.server_id, "", &removed), ==,
                 MR_EMISSING_FIELD);
    teardown(&fx);
}

static void
clients_removed_with_server(void)
{
    bool deleted = false;
    fixture fx;

    setup(&fx);
    MR_CHECK_INT(
        add(&fx, fx.server_id, "https://a.example", "a", SECRET, NULL, NULL),
        ==, MR_OK);
    MR_CHECK_INT(
        add(&fx, fx.server_id, "https://b.example", "b", NULL, NULL, NULL), ==,
        MR_OK);
    MR_CHECK_INT(
        add(&fx, fx.other_id, "https://a.example", "kept", NULL, NULL, NULL),
        ==, MR_OK);

    MR_CHECK_INT(reg_servers_delete(&fx.service, WS, fx.server_id, &deleted),
                 ==, MR_OK);
    MR_CHECK(deleted);
    MR_CHECK_INT(stored_records(&fx, fx.server_id), ==, 0);
    MR_CHECK_INT(stored_records(&fx, fx.other_id), ==, 1);
    MR_CHECK_INT(
        add(&fx, fx.server_id, "https://a.example", "a", NULL, NULL, NULL), ==,
        MR_ESERVER_NOT_FOUND);
    teardown(&fx);
}

static void
clients_add_limit(void)
{
    char issuer[64];
    bool replaced = false;
    fixture fx;

    setup(&fx);
    for (int i = 0; i < REG_CLIENTS_MAX; i++) {
        snprintf(issuer, sizeof(issuer), "https://as%d.example", i);
        MR_CHECK_INT(add(&fx, fx.server_id, issuer, "c", NULL, NULL, NULL), ==,
                     MR_OK);
    }
    MR_CHECK_INT(add(&fx, fx.server_id, "https://one-more.example", "c", NULL,
                     NULL, NULL),
                 ==, MR_EINVALID_FIELD);
    MR_CHECK_INT(add(&fx, fx.server_id, "https://as0.example/", "c2", NULL,
                     &replaced, NULL),
                 ==, MR_OK);
    MR_CHECK(replaced);
    MR_CHECK_INT(stored_records(&fx, fx.server_id), ==, REG_CLIENTS_MAX);
    teardown(&fx);
}

static const mr_test_case cases[] = {
    {"clients_issuer_canonical", clients_issuer_canonical},
    {"clients_add_replaces_normalised_issuer",
     clients_add_replaces_normalised_issuer},
    {"clients_add_replaces_slash_record", clients_add_replaces_slash_record},
    {"clients_list_hides_secrets", clients_list_hides_secrets},
    {"clients_remove", clients_remove},
    {"clients_removed_with_server", clients_removed_with_server},
    {"clients_add_limit", clients_add_limit},
};

MR_TEST_MAIN(cases)
