/* reg_providers_test.c - RegisterOAuthProvider through the real RPC layer:
 * the registration server and a fake discovery worker talk over ipc://
 * sockets in a temporary folder, and the store is a temporary RocksDB. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_test.h"
#include "mr_util.h"
#include "reg_keys.h"
#include "reg_flights.h"
#include "reg_providers.h"
#include "reg_servers.h"
#include "reg_test_dir.h"

#define CALL_TIMEOUT_MS 10000

/* The fake worker's behaviour, set by each case. */
static atomic_int jobs_seen;
static atomic_int worker_delay_ms;
static atomic_int worker_error; /* an mr_err; MR_OK replies a result */

typedef struct {
    char dir[256];
    char reg_url[320];
    char jobs_url[320];
    reg_service service;
    mr_rpc_server *server;
    mr_rpc_server *worker;
    mr_rpc_client *client;
    reg_new_key personal;    /* user "alice" */
    reg_new_key service_key; /* no user */
    char oauth_id[MR_UUID_LEN + 1];
    char headers_id[MR_UUID_LEN + 1];
} fixture;

typedef struct calls calls;

/* outcome is what one RegisterOAuthProvider call returned. */
typedef struct {
    mr_err err;
    char detail[256];
    uint32_t retry_after;
    char provider_id[MR_UUID_LEN + 1];
    bool created;
    calls *set; /* the set the call belongs to */
} outcome;

static void *
worker_reply_later(void *arg)
{
    mr_rpc_call *call = arg;
    Mcpreg__V1__DiscoveryResult result = MCPREG__V1__DISCOVERY_RESULT__INIT;
    mr_err err = (mr_err)atomic_load(&worker_error);
    char client_id[32];

    usleep((useconds_t)atomic_load(&worker_delay_ms) * 1000);
    if (err != MR_OK) {
        mr_rpc_fail(call, err, "Enable PKCE: the test server lacks it", 0);
        return NULL;
    }
    result.issuer = "https://as.example.com";
    result.token_endpoint = "https://as.example.com/token";
    /* Each job registers a client of its own: client-1, client-2, ... */
    snprintf(client_id, sizeof(client_id), "client-%d",
             atomic_load(&jobs_seen));
    result.client_id = client_id;
    result.client_secret = "s3cret";
    result.registration_access_token = "rat-1";
    mr_rpc_reply(call, &result.base);
    return NULL;
}

/* Replies from another thread, as a real worker would, so that the calls
 * of one case overlap. */
static void
worker_handle(mr_rpc_call *call, void *arg)
{
    pthread_t thread;

    (void)arg;
    atomic_fetch_add(&jobs_seen, 1);
    pthread_create(&thread, NULL, worker_reply_later, call);
    pthread_detach(thread);
}

static const mr_rpc_method worker_methods[] = {
    {MR_M_DISCOVER_AND_REGISTER, &mcpreg__v1__discovery_job__descriptor,
     worker_handle},
};

static void
wait_until(bool (*ready)(fixture *), fixture *fx)
{
    for (int i = 0; i < 500 && !ready(fx); i++) {
        usleep(10000);
    }
    MR_CHECK(ready(fx));
}

static bool
client_connected(fixture *fx)
{
    return mr_rpc_client_peers(fx->client) > 0;
}

static bool
worker_connected(fixture *fx)
{
    return reg_providers_workers(fx->service.providers) > 0;
}

static void
start_worker(fixture *fx)
{
    mr_rpc_server_config cfg = {
        .url = fx->jobs_url,
        .dial = true,
        .contexts = 16,
        .default_timeout_ms = 5000,
        .methods = worker_methods,
        .nmethods = 1,
        .name = "fake-worker",
    };

    MR_CHECK_INT(mr_rpc_server_start(&fx->worker, &cfg), ==, MR_OK);
    wait_until(worker_connected, fx);
}

static void
create_fixture_data(fixture *fx)
{
    Mcpreg__V1__CreateApiKeyRequest key_req =
        MCPREG__V1__CREATE_API_KEY_REQUEST__INIT;
    Mcpreg__V1__CreateMcpServerRequest srv_req =
        MCPREG__V1__CREATE_MCP_SERVER_REQUEST__INIT;
    Mcpreg__V1__McpServer *server = NULL;
    char detail[512] = "";

    key_req.user_id = "alice";
    MR_CHECK_INT(reg_keys_create(fx->service.store, &key_req, &fx->personal,
                                 detail, sizeof(detail)),
                 ==, MR_OK);
    key_req.user_id = "";
    key_req.workspace_id = fx->personal.workspace_id;
    MR_CHECK_INT(reg_keys_create(fx->service.store, &key_req, &fx->service_key,
                                 detail, sizeof(detail)),
                 ==, MR_OK);

    srv_req.name = "oauth";
    srv_req.url = "https://mcp.example.com/mcp";
    srv_req.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    srv_req.oauth_mode =
        MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;
    reg_servers_create(&fx->service, fx->personal.workspace_id, &srv_req,
                       &server, detail, sizeof(detail));
    snprintf(fx->oauth_id, sizeof(fx->oauth_id), "%s", server->id);
    mcpreg__v1__mcp_server__free_unpacked(server, NULL);

    srv_req.name = "headers";
    srv_req.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS;
    srv_req.oauth_mode = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED;
    reg_servers_create(&fx->service, fx->personal.workspace_id, &srv_req,
                       &server, detail, sizeof(detail));
    snprintf(fx->headers_id, sizeof(fx->headers_id), "%s", server->id);
    mcpreg__v1__mcp_server__free_unpacked(server, NULL);
}

static void
setup(fixture *fx, long max_jobs, bool with_worker)
{
    reg_providers_config jobs = {fx->jobs_url, max_jobs, 5000};
    reg_providers *providers = NULL;
    uint8_t key[REG_SEAL_KEY_LEN] = {1, 2, 3};
    char why[512] = "";

    memset(fx, 0, sizeof(*fx));
    mr_util_init();
    mr_log_init("test", MR_LOG_ERROR, 2);
    atomic_store(&jobs_seen, 0);
    atomic_store(&worker_delay_ms, 200);
    atomic_store(&worker_error, MR_OK);

    reg_test_dir_make(fx->dir);
    snprintf(fx->reg_url, sizeof(fx->reg_url), "ipc://%s/reg.sock", fx->dir);
    snprintf(fx->jobs_url, sizeof(fx->jobs_url), "ipc://%s/jobs.sock",
             fx->dir);
    MR_CHECK_INT(
        reg_store_open(&fx->service.store, fx->dir, 8, why, sizeof(why)), ==,
        MR_OK);
    reg_seal_init(&fx->service.seal, key, 1);
    reg_url_rules_parse(&fx->service.url_rules, "", NULL, 0);
    create_fixture_data(fx);

    MR_CHECK_INT(reg_providers_open(&providers, &fx->service, &jobs), ==,
                 MR_OK);
    MR_CHECK_INT(reg_service_start(&fx->server, &fx->service, fx->reg_url, 32),
                 ==, MR_OK);
    MR_CHECK_INT(mr_rpc_client_open(&fx->client, fx->reg_url, false), ==,
                 MR_OK);
    wait_until(client_connected, fx);
    if (with_worker) {
        start_worker(fx);
    }
}

static void
teardown(fixture *fx)
{
    reg_providers_drain(fx->service.providers, 0);
    mr_rpc_server_stop(fx->server, 2000);
    mr_rpc_server_stop(fx->worker, 2000);
    reg_providers_close(fx->service.providers);
    mr_rpc_client_close(fx->client);
    reg_store_close(fx->service.store);
    reg_url_rules_free(&fx->service.url_rules);
    reg_test_dir_remove(fx->dir);
}

/* calls is a set of async calls in flight and their outcomes. */
struct calls {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int left;
    outcome outs[16];
};

static void
call_done(void *arg, const mr_rpc_status *status, ProtobufCMessage *response)
{
    outcome *out = arg;
    calls *set = out->set;

    out->err = status->err;
    out->retry_after = status->retry_after;
    snprintf(out->detail, sizeof(out->detail), "%s", status->detail);
    if (response != NULL) {
        Mcpreg__V1__RegisterOAuthProviderResponse *resp =
            (Mcpreg__V1__RegisterOAuthProviderResponse *)response;

        snprintf(out->provider_id, sizeof(out->provider_id), "%s",
                 resp->oauth_provider_id);
        out->created = resp->created;
        protobuf_c_message_free_unpacked(response, NULL);
    }

    pthread_mutex_lock(&set->lock);
    set->left--;
    pthread_cond_signal(&set->cond);
    pthread_mutex_unlock(&set->lock);
}

/* Sends n RegisterOAuthProvider calls at once; users may be NULL. */
static void
start_calls(fixture *fx, calls *set, const char *api_key,
            const char *server_id, const char *const *users, int n)
{
    uint8_t hash[MR_SHA256_LEN];

    pthread_mutex_init(&set->lock, NULL);
    pthread_cond_init(&set->cond, NULL);
    set->left = n;
    mr_sha256(api_key, strlen(api_key), hash);
    for (int i = 0; i < n; i++) {
        Mcpreg__V1__RegisterOAuthProviderRequest req =
            MCPREG__V1__REGISTER_OAUTH_PROVIDER_REQUEST__INIT;
        Mcpreg__V1__Caller caller = MCPREG__V1__CALLER__INIT;

        caller.api_key_sha256.data = hash;
        caller.api_key_sha256.len = sizeof(hash);
        req.caller = &caller;
        req.mcp_server_id = (char *)server_id;
        req.ls_user_id = (char *)(users ? users[i] : "");
        memset(&set->outs[i], 0, sizeof(set->outs[i]));
        set->outs[i].set = set;
        MR_CHECK_INT(
            mr_rpc_call_async(
                fx->client, MR_M_REGISTER_OAUTH_PROVIDER, &req.base,
                &mcpreg__v1__register_oauth_provider_response__descriptor,
                NULL, CALL_TIMEOUT_MS, call_done, &set->outs[i]),
            ==, MR_OK);
    }
}

static void
wait_calls(calls *set)
{
    pthread_mutex_lock(&set->lock);
    while (set->left > 0) {
        pthread_cond_wait(&set->cond, &set->lock);
    }
    pthread_mutex_unlock(&set->lock);
    pthread_cond_destroy(&set->cond);
    pthread_mutex_destroy(&set->lock);
}

static outcome
call_one(fixture *fx, const char *api_key, const char *server_id,
         const char *user)
{
    const char *users[] = {user};
    calls set;

    start_calls(fx, &set, api_key, server_id, users, 1);
    wait_calls(&set);
    return set.outs[0];
}

static void
register_without_worker(void)
{
    fixture fx;
    outcome out;

    setup(&fx, 8, false);
    out = call_one(&fx, fx.personal.key, fx.oauth_id, "");
    MR_CHECK_INT(out.err, ==, MR_EUNAVAILABLE);
    MR_CHECK_STR(out.detail, "Retry later: no discovery worker is connected");
    MR_CHECK_INT(out.retry_after, >, 0);
    teardown(&fx);
}

static void
register_single_flight(void)
{
    fixture fx;
    calls set;
    outcome *outs = set.outs;
    outcome repeat;
    int created = 0;

    setup(&fx, 8, true);
    start_calls(&fx, &set, fx.personal.key, fx.oauth_id, NULL, 8);
    wait_calls(&set);

    MR_CHECK_INT(atomic_load(&jobs_seen), ==, 1);
    for (int i = 0; i < 8; i++) {
        MR_CHECK_INT(outs[i].err, ==, MR_OK);
        MR_CHECK_STR(outs[i].provider_id, outs[0].provider_id);
        created += outs[i].created;
    }
    MR_CHECK_INT(created, ==, 1);

    /* The repeat call reads the mapping and sends no job. */
    repeat = call_one(&fx, fx.personal.key, fx.oauth_id, "alice");
    MR_CHECK_INT(repeat.err, ==, MR_OK);
    MR_CHECK_STR(repeat.provider_id, outs[0].provider_id);
    MR_CHECK(!repeat.created);
    MR_CHECK_INT(atomic_load(&jobs_seen), ==, 1);
    teardown(&fx);
}

static void
register_stores_sealed_record(void)
{
    fixture fx;
    outcome out;
    reg_key key;
    ProtobufCMessage *msg = NULL;
    Mcpreg__V1__ProviderRecord *rec;
    char *secret = NULL;
    char *prov_key = NULL;
    size_t len = 0;

    setup(&fx, 8, true);
    out = call_one(&fx, fx.personal.key, fx.oauth_id, "");
    MR_CHECK_INT(out.err, ==, MR_OK);

    reg_key_build(&key, REG_T_PROV, fx.personal.workspace_id, fx.oauth_id,
                  "alice", NULL);
    reg_store_get_msg(fx.service.store, &key,
                      &mcpreg__v1__provider_record__descriptor, &msg);
    MR_CHECK(msg != NULL);
    rec = (Mcpreg__V1__ProviderRecord *)msg;
    if (rec != NULL) {
        MR_CHECK_STR(rec->oauth_provider_id, out.provider_id);
        MR_CHECK_STR(rec->client_id, "client-1");
        MR_CHECK_STR(rec->issuer, "https://as.example.com");
        MR_CHECK(rec->client_secret != NULL);
        MR_CHECK(rec->registration_access_token != NULL);
        MR_CHECK_INT(reg_seal_decrypt(&fx.service.seal, rec->client_secret,
                                      key.text, key.len, &secret, &len),
                     ==, MR_OK);
        MR_CHECK_STR(secret, "s3cret");
        reg_seal_free(secret, len);
        protobuf_c_message_free_unpacked(msg, NULL);
    }

    reg_key_build(&key, REG_T_PROVID, out.provider_id, NULL);
    reg_store_get(fx.service.store, &key, &prov_key, &len);
    MR_CHECK(prov_key != NULL);
    reg_store_free(prov_key);
    teardown(&fx);
}

static void
register_checks_user(void)
{
    fixture fx;
    outcome out;

    setup(&fx, 8, true);
    out = call_one(&fx, fx.service_key.key, fx.oauth_id, "");
    MR_CHECK_INT(out.err, ==, MR_EMISSING_FIELD);
    MR_CHECK(strstr(out.detail, "'ls_user_id'") != NULL);

    out = call_one(&fx, fx.personal.key, fx.oauth_id, "bob");
    MR_CHECK_INT(out.err, ==, MR_EFORBIDDEN);

    out = call_one(&fx, fx.service_key.key, fx.oauth_id, "bob");
    MR_CHECK_INT(out.err, ==, MR_OK);
    MR_CHECK(out.created);

    out = call_one(&fx, "mcpreg_not-a-key", fx.oauth_id, "");
    MR_CHECK_INT(out.err, ==, MR_EFORBIDDEN);
    teardown(&fx);
}

static void
register_checks_server(void)
{
    fixture fx;
    outcome out;

    setup(&fx, 8, true);
    out = call_one(&fx, fx.personal.key, fx.headers_id, "");
    MR_CHECK_INT(out.err, ==, MR_ENOT_PER_USER);

    out = call_one(&fx, fx.personal.key,
                   "99999999-9999-4999-8999-999999999999", "");
    MR_CHECK_INT(out.err, ==, MR_ESERVER_NOT_FOUND);

    out = call_one(&fx, fx.personal.key, "not-a-uuid", "");
    MR_CHECK_INT(out.err, ==, MR_EINVALID_ID);
    MR_CHECK_INT(atomic_load(&jobs_seen), ==, 0);
    teardown(&fx);
}

static void
register_passes_worker_error(void)
{
    fixture fx;
    outcome out;
    char provider_id[MR_UUID_LEN + 1];
    reg_key key;

    setup(&fx, 8, true);
    atomic_store(&worker_error, MR_EPKCE);
    out = call_one(&fx, fx.personal.key, fx.oauth_id, "");
    MR_CHECK_INT(out.err, ==, MR_EPKCE);
    MR_CHECK_STR(out.detail, "Enable PKCE: the test server lacks it");

    reg_key_build(&key, REG_T_PROV, fx.personal.workspace_id, fx.oauth_id,
                  "alice", NULL);
    reg_providers_read_mapping(fx.service.store, &key, provider_id, NULL);
    MR_CHECK_STR(provider_id, "");
    teardown(&fx);
}

static void
register_busy_keeps_repeats(void)
{
    static const char *const users[] = {"u1", "u2"};
    fixture fx;
    calls set;
    outcome first, busy, repeat;

    setup(&fx, 2, true);
    first = call_one(&fx, fx.service_key.key, fx.oauth_id, "early");
    MR_CHECK_INT(first.err, ==, MR_OK);

    /* Two slow jobs fill --max-jobs 2. */
    atomic_store(&worker_delay_ms, 1000);
    start_calls(&fx, &set, fx.service_key.key, fx.oauth_id, users, 2);
    usleep(300000);

    busy = call_one(&fx, fx.service_key.key, fx.oauth_id, "u3");
    MR_CHECK_INT(busy.err, ==, MR_EBUSY);
    MR_CHECK_INT(busy.retry_after, ==, 1);

    repeat = call_one(&fx, fx.service_key.key, fx.oauth_id, "early");
    MR_CHECK_INT(repeat.err, ==, MR_OK);
    MR_CHECK_STR(repeat.provider_id, first.provider_id);

    wait_calls(&set);
    MR_CHECK_INT(set.outs[0].err, ==, MR_OK);
    MR_CHECK_INT(set.outs[1].err, ==, MR_OK);
    MR_CHECK_INT(atomic_load(&jobs_seen), ==, 3);
    teardown(&fx);
}

static void
register_drain_fails_waiters(void)
{
    fixture fx;
    calls set;

    setup(&fx, 8, true);
    atomic_store(&worker_delay_ms, 3000);
    start_calls(&fx, &set, fx.personal.key, fx.oauth_id, NULL, 1);
    usleep(300000); /* the job is now with the worker */

    reg_providers_drain(fx.service.providers, 100);
    wait_calls(&set);
    MR_CHECK_INT(set.outs[0].err, ==, MR_ESHUTTING_DOWN);
    MR_CHECK_INT(set.outs[0].retry_after, ==, 1);

    /* New jobs are rejected from now on. */
    set.outs[0] = call_one(&fx, fx.service_key.key, fx.oauth_id, "late");
    MR_CHECK_INT(set.outs[0].err, ==, MR_ESHUTTING_DOWN);
    teardown(&fx);
}

/* get_provider returns provider id of workspace ws through GetOAuthProvider
 * (NULL on failure, with the error in *err), freed by the caller. */
static Mcpreg__V1__OAuthProvider *
get_provider(fixture *fx, const char *ws, const char *id, mr_err *err)
{
    Mcpreg__V1__GetOAuthProviderRequest req =
        MCPREG__V1__GET_OAUTH_PROVIDER_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;

    req.workspace_id = (char *)ws;
    req.oauth_provider_id = (char *)id;
    *err = mr_rpc_call_sync(fx->client, MR_M_GET_OAUTH_PROVIDER, &req.base,
                            &mcpreg__v1__oauth_provider__descriptor, "test",
                            CALL_TIMEOUT_MS, &resp, NULL, NULL);
    return (Mcpreg__V1__OAuthProvider *)resp;
}

/* report sends ReportInvalidClient and returns its error; *marked gets
 * the reply's flag. */
static mr_err
report(fixture *fx, const char *ws, const char *id, const char *client_id,
       bool *marked)
{
    Mcpreg__V1__ReportInvalidClientRequest req =
        MCPREG__V1__REPORT_INVALID_CLIENT_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    mr_err err;

    req.workspace_id = (char *)ws;
    req.oauth_provider_id = (char *)id;
    req.client_id = (char *)client_id;
    err = mr_rpc_call_sync(
        fx->client, MR_M_REPORT_INVALID_CLIENT, &req.base,
        &mcpreg__v1__report_invalid_client_response__descriptor, "test",
        CALL_TIMEOUT_MS, &resp, NULL, NULL);
    *marked = false;
    if (resp != NULL) {
        *marked = ((Mcpreg__V1__ReportInvalidClientResponse *)resp)->marked;
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return err;
}

static void
invalid_client_registers_once(void)
{
    const char *other_ws = "99999999-9999-4999-8999-999999999999";
    Mcpreg__V1__OAuthProvider *p;
    fixture fx;
    outcome first, again, repeat;
    bool marked = true;
    mr_err err;

    setup(&fx, 8, true);
    first = call_one(&fx, fx.personal.key, fx.oauth_id, "");
    MR_CHECK_INT(first.err, ==, MR_OK);
    p = get_provider(&fx, fx.personal.workspace_id, first.provider_id, &err);
    MR_CHECK_INT(err, ==, MR_OK);
    MR_CHECK_STR(p->client_id, "client-1");
    MR_CHECK(p->has_client_secret);
    mcpreg__v1__oauth_provider__free_unpacked(p, NULL);

    /* Another workspace, and a client that is not the current one, change
     * nothing. */
    MR_CHECK_INT(report(&fx, other_ws, first.provider_id, "client-1", &marked),
                 ==, MR_EPROVIDER_NOT_FOUND);
    MR_CHECK_INT(report(&fx, fx.personal.workspace_id, first.provider_id,
                        "client-0", &marked),
                 ==, MR_OK);
    MR_CHECK(!marked);

    MR_CHECK_INT(report(&fx, fx.personal.workspace_id, first.provider_id,
                        "client-1", &marked),
                 ==, MR_OK);
    MR_CHECK(marked);
    MR_CHECK_INT(report(&fx, fx.personal.workspace_id, first.provider_id,
                        "client-1", &marked),
                 ==, MR_OK);
    MR_CHECK(!marked);

    again = call_one(&fx, fx.personal.key, fx.oauth_id, "");
    repeat = call_one(&fx, fx.personal.key, fx.oauth_id, "");
    MR_CHECK_INT(again.err, ==, MR_OK);
    MR_CHECK_STR(again.provider_id, first.provider_id);
    MR_CHECK_STR(repeat.provider_id, first.provider_id);
    MR_CHECK_INT(atomic_load(&jobs_seen), ==, 2);

    p = get_provider(&fx, fx.personal.workspace_id, first.provider_id, &err);
    MR_CHECK_STR(p->client_id, "client-2");
    MR_CHECK_INT(p->invalid_client_at_ms, ==, 0);
    mcpreg__v1__oauth_provider__free_unpacked(p, NULL);
    teardown(&fx);
}

static const mr_test_case cases[] = {
    {"register_without_worker", register_without_worker},
    {"register_single_flight", register_single_flight},
    {"register_stores_sealed_record", register_stores_sealed_record},
    {"register_checks_user", register_checks_user},
    {"register_checks_server", register_checks_server},
    {"register_passes_worker_error", register_passes_worker_error},
    {"register_busy_keeps_repeats", register_busy_keeps_repeats},
    {"register_drain_fails_waiters", register_drain_fails_waiters},
    {"invalid_client_registers_once", invalid_client_registers_once},
};

MR_TEST_MAIN(cases)
