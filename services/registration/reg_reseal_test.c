/* reg_reseal_test.c - key rotation: records sealed under key 1 open after
 * key 2 becomes current with key 1 retired, reg_reseal_run moves them all to
 * key 2, and they then open without key 1. The records come from the
 * service's own write paths, except the operator client, which is written
 * as reg_clients.c writes it, and are read back through its read paths. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_log.h"
#include "mr_test.h"
#include "mr_util.h"
#include "reg_clients.h"
#include "reg_flights.h"
#include "reg_reseal.h"
#include "reg_servers.h"
#include "reg_test_dir.h"

#define WS     "11111111-1111-4111-8111-111111111111"
#define USER   "alice"
#define URL    "https://mcp.example.com/mcp"
#define ISSUER "https://as.example.com"

/* Indexes of the tables in reg_reseal_summary. */
enum { PROV, OPCLIENT, SRV, CLIENTDEL };

typedef struct {
    char dir[256];
    reg_service service;
    char server_id[MR_UUID_LEN + 1];
    char header_value[64]; /* random, so finding it proves the read */
    char client_secret[64];
    uint8_t key1[REG_SEAL_KEY_LEN];
    uint8_t key2[REG_SEAL_KEY_LEN];
} fixture;

static void
create_server(fixture *fx, const char *name)
{
    Mcpreg__V1__CreateMcpServerRequest req =
        MCPREG__V1__CREATE_MCP_SERVER_REQUEST__INIT;
    Mcpreg__V1__Header header = MCPREG__V1__HEADER__INIT;
    Mcpreg__V1__Header *headers[] = {&header};
    Mcpreg__V1__McpServer *server = NULL;
    char detail[REG_DETAIL_MAX] = "";

    header.key = "Authorization";
    header.value = fx->header_value;
    req.name = (char *)name;
    req.url = URL;
    req.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    req.oauth_mode =
        MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;
    req.n_headers = 1;
    req.headers = headers;
    MR_CHECK_INT(reg_servers_create(&fx->service, WS, &req, &server, detail,
                                    sizeof(detail)),
                 ==, MR_OK);
    snprintf(fx->server_id, sizeof(fx->server_id), "%s",
             server != NULL ? server->id : "");
    if (server != NULL) {
        mcpreg__v1__mcp_server__free_unpacked(server, NULL);
    }
}

/* Stores the result of a discovery job that registered client_id with RFC
 * 7592 management. The second such result for USER is not stored, so its
 * client goes to the clientdel/ table. */
static void
store_provider(fixture *fx, const char *client_id)
{
    Mcpreg__V1__DiscoveryResult result = MCPREG__V1__DISCOVERY_RESULT__INIT;
    char provider_id[MR_UUID_LEN + 1];
    char detail[REG_DETAIL_MAX] = "";
    reg_target target = {0};

    snprintf(target.ws, sizeof(target.ws), "%s", WS);
    snprintf(target.server_id, sizeof(target.server_id), "%s", fx->server_id);
    snprintf(target.user_id, sizeof(target.user_id), "%s", USER);
    snprintf(target.url, sizeof(target.url), "%s", URL);
    reg_key_build(&target.prov_key, REG_T_PROV, WS, fx->server_id, USER, NULL);
    result.issuer = ISSUER;
    result.token_endpoint = ISSUER "/token";
    result.client_id = (char *)client_id;
    result.client_secret = "prov-secret";
    result.client_source = "dynamic_registration";
    result.registration_client_uri = ISSUER "/register/c";
    result.registration_access_token = "rat";
    MR_CHECK_INT(reg_providers_store_result(&fx->service, &target, &result,
                                            provider_id, detail,
                                            sizeof(detail)),
                 ==, MR_OK);
}

/* Writes an operator client record as reg_clients.c does: the secret is
 * sealed with the record's opclient/ key as associated data. */
static void
store_operator_client(fixture *fx)
{
    Mcpreg__V1__OperatorClientRecord rec =
        MCPREG__V1__OPERATOR_CLIENT_RECORD__INIT;
    Mcpreg__V1__Sealed secret = MCPREG__V1__SEALED__INIT;
    reg_batch *batch = reg_batch_new();
    reg_key key, slash_key;

    MR_CHECK_INT(
        reg_clients_issuer_keys(WS, fx->server_id, ISSUER, &key, &slash_key),
        ==, MR_OK);
    rec.workspace_id = WS;
    rec.mcp_server_id = fx->server_id;
    rec.issuer = ISSUER;
    rec.client_id = "operator-client";
    MR_CHECK_INT(reg_seal_encrypt(&fx->service.seal, fx->client_secret,
                                  strlen(fx->client_secret), key.text, key.len,
                                  &secret),
                 ==, MR_OK);
    rec.client_secret = &secret;
    MR_CHECK_INT(reg_batch_put_msg(batch, &key, &rec.base), ==, MR_OK);
    MR_CHECK_INT(reg_store_write(fx->service.store, batch), ==, MR_OK);
    reg_batch_free(batch);
    reg_seal_clear(&secret);
}

/* Opens a store sealed under key 1 with one record in each table. */
static void
setup(fixture *fx)
{
    char uuid[MR_UUID_LEN + 1];
    char why[512] = "";

    memset(fx, 0, sizeof(*fx));
    mr_util_init();
    mr_log_init("test", MR_LOG_ERROR, 2);
    randombytes_buf(fx->key1, sizeof(fx->key1));
    randombytes_buf(fx->key2, sizeof(fx->key2));
    mr_uuid_v4(uuid);
    snprintf(fx->header_value, sizeof(fx->header_value), "Bearer %s", uuid);
    mr_uuid_v4(uuid);
    snprintf(fx->client_secret, sizeof(fx->client_secret), "op-%s", uuid);

    reg_test_dir_make(fx->dir);
    MR_CHECK_INT(
        reg_store_open(&fx->service.store, fx->dir, 8, why, sizeof(why)), ==,
        MR_OK);
    reg_url_rules_parse(&fx->service.url_rules, "", NULL, 0);
    reg_seal_init(&fx->service.seal, fx->key1, 1);

    create_server(fx, "docs");
    store_provider(fx, "client-1");
    store_provider(fx, "client-2");
    store_operator_client(fx);
}

static void
teardown(fixture *fx)
{
    reg_store_close(fx->service.store);
    reg_url_rules_free(&fx->service.url_rules);
    reg_seal_wipe(&fx->service.seal);
    reg_test_dir_remove(fx->dir);
}

/* Replaces the keys of the service, as a restart with other key options
 * does: key 2 current, and key 1 retired when retire_key1 is set. */
static void
restart_with_key2(fixture *fx, bool retire_key1)
{
    char why[256] = "";

    reg_seal_wipe(&fx->service.seal);
    reg_seal_init(&fx->service.seal, fx->key2, 2);
    if (retire_key1) {
        MR_CHECK_INT(reg_seal_add_retired(&fx->service.seal, fx->key1, 1, why,
                                          sizeof(why)),
                     ==, MR_OK);
    }
}

/* Checks that GetMcpServer's read path opens the headers. */
static void
check_server_opens(fixture *fx)
{
    Mcpreg__V1__McpServerRecord *rec = NULL;

    MR_CHECK_INT(
        reg_servers_get(&fx->service, WS, fx->server_id, &rec, NULL, 0), ==,
        MR_OK);
    MR_CHECK(rec != NULL && rec->server->n_headers == 1);
    if (rec != NULL && rec->server->n_headers == 1) {
        MR_CHECK_STR(rec->server->headers[0]->value, fx->header_value);
    }
    if (rec != NULL) {
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }
}

/* Checks that the discovery job's read path opens the operator client. */
static void
check_operator_client_opens(fixture *fx)
{
    reg_job_clients list = {0};

    MR_CHECK_INT(reg_clients_load(&fx->service, WS, fx->server_id, &list), ==,
                 MR_OK);
    MR_CHECK_INT(list.count, ==, 1);
    if (list.count == 1) {
        MR_CHECK_STR(list.items[0]->client_secret, fx->client_secret);
    }
    reg_clients_free(&list);
}

/* key_ids collects the key ids of every sealed value in a table and
 * whether each opened with the service's keys. */
typedef struct {
    fixture *fx;
    int values;
    int opened;
    uint32_t key_ids_seen; /* bit n set for key id n, for ids below 32 */
} key_ids;

static void
note_value(key_ids *ids, const Mcpreg__V1__Sealed *sealed, const char *ad,
           size_t adlen)
{
    char *plain = NULL;
    size_t len = 0;

    if (sealed == NULL) {
        return;
    }
    ids->values++;
    ids->key_ids_seen |= 1u << (sealed->key_id & 31);
    if (reg_seal_decrypt(&ids->fx->service.seal, sealed, ad, adlen, &plain,
                         &len) == MR_OK) {
        ids->opened++;
    }
    reg_seal_free(plain, len);
}

static mr_err
visit_prov(void *arg, const char *key, size_t keylen, const char *value,
           size_t len)
{
    Mcpreg__V1__ProviderRecord *rec =
        mcpreg__v1__provider_record__unpack(NULL, len, (const uint8_t *)value);

    MR_CHECK(rec != NULL);
    if (rec != NULL) {
        note_value(arg, rec->client_secret, key, keylen);
        note_value(arg, rec->registration_access_token, key, keylen);
        mcpreg__v1__provider_record__free_unpacked(rec, NULL);
    }
    return MR_OK;
}

static mr_err
visit_clientdel(void *arg, const char *key, size_t keylen, const char *value,
                size_t len)
{
    Mcpreg__V1__PendingDeletionRecord *rec =
        mcpreg__v1__pending_deletion_record__unpack(NULL, len,
                                                    (const uint8_t *)value);

    (void)key;
    (void)keylen;
    MR_CHECK(rec != NULL);
    if (rec != NULL) {
        note_value(arg, rec->registration_access_token, rec->sealed_with_key,
                   strlen(rec->sealed_with_key));
        mcpreg__v1__pending_deletion_record__free_unpacked(rec, NULL);
    }
    return MR_OK;
}

/* Scans table with visit and returns what it found. */
static key_ids
scan_table(fixture *fx, const char *table, reg_store_visit visit)
{
    key_ids ids = {.fx = fx};
    reg_key prefix;

    reg_key_build(&prefix, table, "", NULL);
    MR_CHECK_INT(reg_store_scan(fx->service.store, &prefix, visit, &ids), ==,
                 MR_OK);
    return ids;
}

/* Checks that the provider mapping's two values and the pending deletion's
 * token all open and are sealed under key_id only. */
static void
check_provider_tables(fixture *fx, uint32_t key_id)
{
    key_ids prov = scan_table(fx, REG_T_PROV, visit_prov);
    key_ids del = scan_table(fx, REG_T_CLIENTDEL, visit_clientdel);

    MR_CHECK_INT(prov.values, ==, 2);
    MR_CHECK_INT(prov.opened, ==, 2);
    MR_CHECK_INT(prov.key_ids_seen, ==, 1u << key_id);
    MR_CHECK_INT(del.values, ==, 1);
    MR_CHECK_INT(del.opened, ==, 1);
    MR_CHECK_INT(del.key_ids_seen, ==, 1u << key_id);
}

static void
check_all_open(fixture *fx)
{
    check_server_opens(fx);
    check_operator_client_opens(fx);
}

/* Checks the counts of one table of summary. */
static void
check_count(const reg_reseal_summary *summary, int table, long rewritten,
            long current, long failed)
{
    const reg_reseal_count *c = &summary->tables[table];

    MR_CHECK_INT(c->rewritten, ==, rewritten);
    MR_CHECK_INT(c->current, ==, current);
    MR_CHECK_INT(c->failed, ==, failed);
}

static void
retired_key_opens_and_new_writes_use_current(void)
{
    fixture fx;
    Mcpreg__V1__McpServerRecord *rec = NULL;

    setup(&fx);
    restart_with_key2(&fx, true);

    check_all_open(&fx);
    check_provider_tables(&fx, 1);

    /* A new server is sealed under key 2. */
    snprintf(fx.header_value, sizeof(fx.header_value), "Bearer new");
    create_server(&fx, "docs-2");
    MR_CHECK_INT(reg_servers_read(fx.service.store, WS, fx.server_id, &rec),
                 ==, MR_OK);
    MR_CHECK(rec != NULL && rec->sealed_headers != NULL);
    if (rec != NULL && rec->sealed_headers != NULL) {
        MR_CHECK_INT(rec->sealed_headers->key_id, ==, 2);
    }
    if (rec != NULL) {
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }
    teardown(&fx);
}

static void
reseal_moves_every_table_to_current(void)
{
    reg_reseal_summary summary;
    fixture fx;

    setup(&fx);
    restart_with_key2(&fx, true);

    /* A batch of one record makes every record its own write. */
    MR_CHECK_INT(
        reg_reseal_run(fx.service.store, &fx.service.seal, 1, &summary), ==,
        MR_OK);
    check_count(&summary, PROV, 1, 0, 0);
    check_count(&summary, OPCLIENT, 1, 0, 0);
    check_count(&summary, SRV, 1, 0, 0);
    check_count(&summary, CLIENTDEL, 1, 0, 0);
    MR_CHECK_INT(reg_reseal_failed(&summary), ==, 0);

    /* Without key 1, everything still opens, under key 2. */
    restart_with_key2(&fx, false);
    check_all_open(&fx);
    check_provider_tables(&fx, 2);
    teardown(&fx);
}

static void
reseal_twice_rewrites_nothing(void)
{
    reg_reseal_summary summary;
    fixture fx;

    setup(&fx);
    restart_with_key2(&fx, true);
    MR_CHECK_INT(reg_reseal_run(fx.service.store, &fx.service.seal,
                                REG_RESEAL_BATCH, &summary),
                 ==, MR_OK);
    MR_CHECK_INT(reg_reseal_run(fx.service.store, &fx.service.seal,
                                REG_RESEAL_BATCH, &summary),
                 ==, MR_OK);
    check_count(&summary, PROV, 0, 1, 0);
    check_count(&summary, OPCLIENT, 0, 1, 0);
    check_count(&summary, SRV, 0, 1, 0);
    check_count(&summary, CLIENTDEL, 0, 1, 0);
    teardown(&fx);
}

static void
reseal_unknown_key_id_fails_cleanly(void)
{
    reg_reseal_summary summary;
    char detail[REG_DETAIL_MAX] = "";
    Mcpreg__V1__McpServerRecord *rec = NULL;
    fixture fx;

    setup(&fx);

    /* Key 1 is neither current nor retired. */
    restart_with_key2(&fx, false);
    MR_CHECK_INT(reg_servers_get(&fx.service, WS, fx.server_id, &rec, detail,
                                 sizeof(detail)),
                 ==, MR_EINTERNAL);
    MR_CHECK(rec == NULL);
    MR_CHECK(strstr(detail, fx.header_value) == NULL);

    MR_CHECK_INT(reg_reseal_run(fx.service.store, &fx.service.seal,
                                REG_RESEAL_BATCH, &summary),
                 ==, MR_OK);
    check_count(&summary, PROV, 0, 0, 1);
    check_count(&summary, OPCLIENT, 0, 0, 1);
    check_count(&summary, SRV, 0, 0, 1);
    check_count(&summary, CLIENTDEL, 0, 0, 1);
    MR_CHECK_INT(reg_reseal_failed(&summary), ==, 4);

    /* The failed records are left as they were, so key 1 still opens them. */
    restart_with_key2(&fx, true);
    check_all_open(&fx);
    check_provider_tables(&fx, 1);
    teardown(&fx);
}

static void
reseal_summary_json(void)
{
    reg_reseal_summary summary;
    char text[512] = "";
    FILE *f = fmemopen(text, sizeof(text) - 1, "w");

    memset(&summary, 0, sizeof(summary));
    summary.tables[PROV] = (reg_reseal_count){REG_T_PROV, 3, 1, 0};
    summary.tables[OPCLIENT] = (reg_reseal_count){REG_T_OPCLIENT, 0, 2, 1};
    summary.tables[SRV] = (reg_reseal_count){REG_T_SRV, 5, 0, 0};
    summary.tables[CLIENTDEL] = (reg_reseal_count){REG_T_CLIENTDEL, 0, 0, 2};
    MR_CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    reg_reseal_print_json(&summary, f);
    fclose(f);
    MR_CHECK_STR(text,
                 "{\"tables\":{"
                 "\"prov\":{\"rewritten\":3,\"current\":1,\"failed\":0},"
                 "\"opclient\":{\"rewritten\":0,\"current\":2,\"failed\":1},"
                 "\"srv\":{\"rewritten\":5,\"current\":0,\"failed\":0},"
                 "\"clientdel\":{\"rewritten\":0,\"current\":0,\"failed\":2}"
                 "},\"rewritten\":8,\"current\":3,\"failed\":3}\n");
}

static const mr_test_case cases[] = {
    {"retired_key_opens_and_new_writes_use_current",
     retired_key_opens_and_new_writes_use_current},
    {"reseal_moves_every_table_to_current",
     reseal_moves_every_table_to_current},
    {"reseal_twice_rewrites_nothing", reseal_twice_rewrites_nothing},
    {"reseal_unknown_key_id_fails_cleanly",
     reseal_unknown_key_id_fails_cleanly},
    {"reseal_summary_json", reseal_summary_json},
};

MR_TEST_MAIN(cases)
