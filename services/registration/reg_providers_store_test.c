/* reg_providers_store_test.c - reg_providers_store_result: a job's client
 * that is not stored, because its server changed or went away while the
 * job ran or another mapping won, is queued for RFC 7592 deletion. The
 * store is a temporary RocksDB without a deletion queue, so the clientdel/
 * records stay in it for the checks. */
#include <stdio.h>
#include <string.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_log.h"
#include "mr_test.h"
#include "mr_util.h"
#include "reg_flights.h"
#include "reg_servers.h"
#include "reg_test_dir.h"

#define WS       "11111111-1111-4111-8111-111111111111"
#define USER     "alice"
#define URL      "https://mcp.example.com/mcp"
#define URI_BASE "https://as.example.com/register/"

typedef struct {
    char dir[256];
    reg_service service;
    reg_target target;
} fixture;

/* setup opens a store with a per-user OAuth server at URL and fills
 * fx->target for USER, as RegisterOAuthProvider does. */
static void
setup(fixture *fx)
{
    Mcpreg__V1__CreateMcpServerRequest req =
        MCPREG__V1__CREATE_MCP_SERVER_REQUEST__INIT;
    Mcpreg__V1__McpServer *server = NULL;
    uint8_t key[REG_SEAL_KEY_LEN] = {4, 5, 6};
    char detail[REG_DETAIL_MAX] = "";

    memset(fx, 0, sizeof(*fx));
    mr_util_init();
    mr_log_init("test", MR_LOG_ERROR, 2);
    reg_test_dir_make(fx->dir);
    MR_CHECK_INT(
        reg_store_open(&fx->service.store, fx->dir, 8, detail, sizeof(detail)),
        ==, MR_OK);
    reg_seal_init(&fx->service.seal, key, 1);
    reg_url_rules_parse(&fx->service.url_rules, "", NULL, 0);

    req.name = "oauth";
    req.url = URL;
    req.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    req.oauth_mode =
        MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;
    MR_CHECK_INT(reg_servers_create(&fx->service, WS, &req, &server, detail,
                                    sizeof(detail)),
                 ==, MR_OK);
    snprintf(fx->target.ws, sizeof(fx->target.ws), "%s", WS);
    snprintf(fx->target.server_id, sizeof(fx->target.server_id), "%s",
             server != NULL ? server->id : "");
    snprintf(fx->target.user_id, sizeof(fx->target.user_id), "%s", USER);
    snprintf(fx->target.url, sizeof(fx->target.url), "%s", URL);
    reg_key_build(&fx->target.prov_key, REG_T_PROV, WS, fx->target.server_id,
                  USER, NULL);
    if (server != NULL) {
        mcpreg__v1__mcp_server__free_unpacked(server, NULL);
    }
}

static void
teardown(fixture *fx)
{
    reg_store_close(fx->service.store);
    reg_url_rules_free(&fx->service.url_rules);
    reg_test_dir_remove(fx->dir);
}

/* store stores the result of a job that registered client_id, with RFC
 * 7592 management when managed is set, and returns the error. */
static mr_err
store(fixture *fx, const char *client_id, bool managed,
      char provider_id[MR_UUID_LEN + 1])
{
    Mcpreg__V1__DiscoveryResult result = MCPREG__V1__DISCOVERY_RESULT__INIT;
    char uri[128];
    char token[64];
    char detail[REG_DETAIL_MAX] = "";

    snprintf(uri, sizeof(uri), "%s%s", URI_BASE, client_id);
    snprintf(token, sizeof(token), "rat-%s", client_id);
    result.issuer = "https://as.example.com";
    result.token_endpoint = "https://as.example.com/token";
    result.client_id = (char *)client_id;
    result.client_secret = "s3cret";
    result.client_source = "dynamic_registration";
    if (managed) {
        result.registration_client_uri = uri;
        result.registration_access_token = token;
    }
    return reg_providers_store_result(&fx->service, &fx->target, &result,
                                      provider_id, detail, sizeof(detail));
}

/* deletions is what the clientdel/ records of WS contain. */
typedef struct {
    int count;
    char client_id[64];
    char uri[128];
    char token[64];
} deletions;

static mr_err
read_deletion(void *arg, const char *key, size_t keylen, const char *value,
              size_t len)
{
    fixture *fx = ((void **)arg)[0];
    deletions *found = ((void **)arg)[1];
    Mcpreg__V1__PendingDeletionRecord *rec;
    char *token = NULL;
    size_t token_len = 0;

    (void)key;
    (void)keylen;
    rec = mcpreg__v1__pending_deletion_record__unpack(NULL, len,
                                                      (const uint8_t *)value);
    MR_CHECK(rec != NULL);
    if (rec == NULL) {
        return MR_OK;
    }
    found->count++;
    snprintf(found->client_id, sizeof(found->client_id), "%s", rec->client_id);
    snprintf(found->uri, sizeof(found->uri), "%s",
             rec->registration_client_uri);
    if (rec->registration_access_token != NULL &&
        reg_seal_decrypt(&fx->service.seal, rec->registration_access_token,
                         rec->sealed_with_key, strlen(rec->sealed_with_key),
                         &token, &token_len) == MR_OK) {
        snprintf(found->token, sizeof(found->token), "%s", token);
        reg_seal_free(token, token_len);
    }
    mcpreg__v1__pending_deletion_record__free_unpacked(rec, NULL);
    return MR_OK;
}

static deletions
stored_deletions(fixture *fx)
{
    deletions found = {0};
    void *arg[2] = {fx, &found};
    reg_key prefix;

    reg_key_build(&prefix, REG_T_CLIENTDEL, WS, "", NULL);
    MR_CHECK_INT(
        reg_store_scan(fx->service.store, &prefix, read_deletion, arg), ==,
        MR_OK);
    return found;
}

/* check_one_deletion checks that the store contains exactly the deletion
 * of client_id, with its URI and its token sealed for the deletion queue. */
static void
check_one_deletion(fixture *fx, const char *client_id)
{
    deletions found = stored_deletions(fx);
    char uri[128];
    char token[64];

    snprintf(uri, sizeof(uri), "%s%s", URI_BASE, client_id);
    snprintf(token, sizeof(token), "rat-%s", client_id);
    MR_CHECK_INT(found.count, ==, 1);
    MR_CHECK_STR(found.client_id, client_id);
    MR_CHECK_STR(found.uri, uri);
    MR_CHECK_STR(found.token, token);
}

static mr_err
patch_url(fixture *fx, const char *url)
{
    Mcpreg__V1__UpdateMcpServerRequest up =
        MCPREG__V1__UPDATE_MCP_SERVER_REQUEST__INIT;
    Mcpreg__V1__McpServer *out = NULL;
    char detail[REG_DETAIL_MAX] = "";
    mr_err err;

    up.id = fx->target.server_id;
    up.has_url = true;
    up.url = (char *)url;
    err = reg_servers_update(&fx->service, WS, &up, &out, detail,
                             sizeof(detail));
    if (out != NULL) {
        mcpreg__v1__mcp_server__free_unpacked(out, NULL);
    }
    return err;
}

static void
store_deleted_server_deletes_client(void)
{
    char provider_id[MR_UUID_LEN + 1];
    bool deleted = false;
    fixture fx;

    setup(&fx);
    MR_CHECK_INT(
        reg_servers_delete(&fx.service, WS, fx.target.server_id, &deleted), ==,
        MR_OK);
    MR_CHECK(deleted);
    MR_CHECK_INT(store(&fx, "c-deleted", true, provider_id), ==,
                 MR_ESERVER_NOT_FOUND);
    check_one_deletion(&fx, "c-deleted");
    teardown(&fx);
}

static void
store_changed_url_deletes_client(void)
{
    char provider_id[MR_UUID_LEN + 1];
    fixture fx;

    setup(&fx);
    MR_CHECK_INT(patch_url(&fx, "https://mcp.example.com/other"), ==, MR_OK);
    MR_CHECK_INT(store(&fx, "c-moved", true, provider_id), ==,
                 MR_EUNAVAILABLE);
    check_one_deletion(&fx, "c-moved");
    teardown(&fx);
}

/* The same URL in another case of its scheme and host is no change, so
 * the job's client is stored and kept. */
static void
store_recased_url_keeps_client(void)
{
    char provider_id[MR_UUID_LEN + 1];
    fixture fx;

    setup(&fx);
    MR_CHECK_INT(patch_url(&fx, "HTTPS://MCP.EXAMPLE.COM/mcp"), ==, MR_OK);
    MR_CHECK_INT(store(&fx, "c-recased", true, provider_id), ==, MR_OK);
    MR_CHECK_INT(stored_deletions(&fx).count, ==, 0);
    teardown(&fx);
}

/* A usable mapping written while the job ran wins; the job's client is
 * deleted, unless it is the stored client itself. */
static void
store_superseded_deletes_client(void)
{
    char first[MR_UUID_LEN + 1] = "";
    char second[MR_UUID_LEN + 1] = "";
    char third[MR_UUID_LEN + 1] = "";
    fixture fx;

    setup(&fx);
    MR_CHECK_INT(store(&fx, "c-first", true, first), ==, MR_OK);
    MR_CHECK_INT(stored_deletions(&fx).count, ==, 0);

    MR_CHECK_INT(store(&fx, "c-second", true, second), ==, MR_OK);
    MR_CHECK_STR(second, first);
    check_one_deletion(&fx, "c-second");

    MR_CHECK_INT(store(&fx, "c-first", true, third), ==, MR_OK);
    MR_CHECK_STR(third, first);
    check_one_deletion(&fx, "c-second");
    teardown(&fx);
}

/* A client without registration_client_uri cannot be deleted. */
static void
store_unmanaged_client_not_queued(void)
{
    char provider_id[MR_UUID_LEN + 1];
    bool deleted = false;
    fixture fx;

    setup(&fx);
    reg_servers_delete(&fx.service, WS, fx.target.server_id, &deleted);
    MR_CHECK_INT(store(&fx, "c-unmanaged", false, provider_id), ==,
                 MR_ESERVER_NOT_FOUND);
    MR_CHECK_INT(stored_deletions(&fx).count, ==, 0);
    teardown(&fx);
}

static const mr_test_case cases[] = {
    {"store_deleted_server_deletes_client",
     store_deleted_server_deletes_client},
    {"store_changed_url_deletes_client", store_changed_url_deletes_client},
    {"store_recased_url_keeps_client", store_recased_url_keeps_client},
    {"store_superseded_deletes_client", store_superseded_deletes_client},
    {"store_unmanaged_client_not_queued", store_unmanaged_client_not_queued},
};

MR_TEST_MAIN(cases)
