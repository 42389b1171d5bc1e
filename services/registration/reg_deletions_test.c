/* reg_deletions_test.c - durable RFC 7592 deletions: the clientdel/
 * records, the bounded sending, the retries with backoff, the maximum age
 * and the resumption at start. A fake discovery worker replies to
 * DeleteClient over ipc:// sockets in a temporary folder, as scripted. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_test.h"
#include "mr_util.h"
#include "reg_deletions.h"
#include "reg_test_dir.h"

#define WS        "11111111-1111-4111-8111-111111111111"
#define SERVER_ID "22222222-2222-4222-8222-222222222222"
#define URI_BASE  "https://as.example/register/"
#define WAIT_MS   10000

/* The fake worker's script: the first fail_first attempts of each client
 * fail with fail_err and fail_detail; later ones succeed. */
static atomic_int fail_first;
static atomic_int fail_err;
static const char *fail_detail = "";
static atomic_int reply_delay_ms;

/* What the fake worker saw. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen_uris[64][128];
static int seen_attempts[64];
static int seen_tokens_ok[64];
static int seen_count;
static atomic_int active;
static atomic_int max_active;
static atomic_int outstanding;

typedef struct {
    char dir[256];
    char jobs_url[320];
    reg_service service;
    mr_rpc_client *jobs;
    mr_rpc_server *worker;
    reg_deletion_config cfg;
} fixture;

/* record_attempt counts an attempt for uri and returns its number. */
static int
record_attempt(const char *uri, const char *token)
{
    char expected[160];
    int i;
    int attempt;

    pthread_mutex_lock(&seen_lock);
    for (i = 0; i < seen_count && strcmp(seen_uris[i], uri) != 0; i++) {
    }
    if (i == seen_count && seen_count < 64) {
        snprintf(seen_uris[i], sizeof(seen_uris[i]), "%s", uri);
        seen_count++;
    }
    snprintf(expected, sizeof(expected), "rat-%s", uri + strlen(URI_BASE));
    attempt = ++seen_attempts[i];
    seen_tokens_ok[i] += strcmp(token, expected) == 0;
    pthread_mutex_unlock(&seen_lock);
    return attempt;
}

static void *
reply_later(void *arg)
{
    mr_rpc_call *call = arg;
    const Mcpreg__V1__DeleteClientRequest *req =
        (const Mcpreg__V1__DeleteClientRequest *)mr_rpc_request(call);
    Mcpreg__V1__DeleteClientResponse resp =
        MCPREG__V1__DELETE_CLIENT_RESPONSE__INIT;
    int now = atomic_fetch_add(&active, 1) + 1;
    int attempt;

    for (int seen = atomic_load(&max_active); now > seen;
         seen = atomic_load(&max_active)) {
        atomic_compare_exchange_weak(&max_active, &seen, now);
    }
    attempt = record_attempt(req->registration_client_uri,
                             req->registration_access_token);
    usleep((useconds_t)atomic_load(&reply_delay_ms) * 1000);
    atomic_fetch_sub(&active, 1);
    if (attempt <= atomic_load(&fail_first)) {
        mr_rpc_fail(call, (mr_err)atomic_load(&fail_err), fail_detail, 0);
    } else {
        mr_rpc_reply(call, &resp.base);
    }
    atomic_fetch_sub(&outstanding, 1);
    return NULL;
}

static void
worker_handle(mr_rpc_call *call, void *arg)
{
    pthread_t thread;

    (void)arg;
    atomic_fetch_add(&outstanding, 1);
    pthread_create(&thread, NULL, reply_later, call);
    pthread_detach(thread);
}

static const mr_rpc_method worker_methods[] = {
    {MR_M_DELETE_CLIENT, &mcpreg__v1__delete_client_request__descriptor,
     worker_handle},
};

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
    for (int i = 0; i < 500 && mr_rpc_client_peers(fx->jobs) == 0; i++) {
        usleep(10000);
    }
    MR_CHECK(mr_rpc_client_peers(fx->jobs) > 0);
}

static void
setup(fixture *fx)
{
    uint8_t key[REG_SEAL_KEY_LEN] = {9, 8, 7};
    char why[512] = "";

    memset(fx, 0, sizeof(*fx));
    mr_util_init();
    mr_log_init("test", MR_LOG_ERROR, 2);
    pthread_mutex_lock(&seen_lock);
    memset(seen_uris, 0, sizeof(seen_uris));
    memset(seen_attempts, 0, sizeof(seen_attempts));
    memset(seen_tokens_ok, 0, sizeof(seen_tokens_ok));
    seen_count = 0;
    pthread_mutex_unlock(&seen_lock);
    atomic_store(&fail_first, 0);
    atomic_store(&fail_err, MR_OK);
    atomic_store(&reply_delay_ms, 20);
    atomic_store(&max_active, 0);
    fail_detail = "";

    reg_test_dir_make(fx->dir);
    snprintf(fx->jobs_url, sizeof(fx->jobs_url), "ipc://%s/jobs.sock",
             fx->dir);
    MR_CHECK_INT(
        reg_store_open(&fx->service.store, fx->dir, 8, why, sizeof(why)), ==,
        MR_OK);
    reg_seal_init(&fx->service.seal, key, 1);
    MR_CHECK_INT(mr_rpc_client_open(&fx->jobs, fx->jobs_url, true), ==, MR_OK);
    fx->cfg = (reg_deletion_config){
        .jobs = fx->jobs,
        .max_in_flight = 2,
        .max_age_ms = 60000,
        .first_delay_ms = 20,
        .max_delay_ms = 100,
        .timeout_ms = 5000,
    };
}

/* stop_queue stops the queue as main.c does: the thread, then the jobs
 * socket, then the rest. */
static void
stop_queue(fixture *fx)
{
    reg_deletions_stop(&fx->service);
    mr_rpc_client_close(fx->jobs);
    fx->jobs = NULL;
    reg_deletions_close(&fx->service);
}

static void
teardown(fixture *fx)
{
    for (int i = 0; i < 500 && atomic_load(&outstanding) > 0; i++) {
        usleep(10000);
    }
    stop_queue(fx);
    if (fx->worker != NULL) {
        mr_rpc_server_stop(fx->worker, 2000);
    }
    reg_store_close(fx->service.store);
    reg_test_dir_remove(fx->dir);
}

/* take_client adds client name's deletion to list, through a batch when
 * batch is not NULL, as the deletion of its mapping for user name does.
 * The provider record is built with malloc, as unpack builds it, because
 * reg_deletions_take frees it with free_unpacked. */
static void
take_client(fixture *fx, reg_deletions *list, reg_batch *batch,
            const char *name)
{
    Mcpreg__V1__ProviderRecord *rec = calloc(1, sizeof(*rec));
    Mcpreg__V1__Sealed *token = calloc(1, sizeof(*token));
    char uri[128], rat[64], provider_id[MR_UUID_LEN + 1];
    reg_key prov_key;

    mcpreg__v1__provider_record__init(rec);
    mcpreg__v1__sealed__init(token);
    snprintf(uri, sizeof(uri), "%s%s", URI_BASE, name);
    snprintf(rat, sizeof(rat), "rat-%s", name);
    mr_uuid_v4(provider_id);
    reg_key_build(&prov_key, REG_T_PROV, WS, SERVER_ID, name, NULL);
    MR_CHECK_INT(reg_seal_encrypt(&fx->service.seal, rat, strlen(rat),
                                  prov_key.text, prov_key.len, token),
                 ==, MR_OK);
    rec->oauth_provider_id = strdup(provider_id);
    rec->workspace_id = strdup(WS);
    rec->mcp_server_id = strdup(SERVER_ID);
    rec->user_id = strdup(name);
    rec->client_id = strdup(name);
    rec->registration_client_uri = strdup(uri);
    rec->registration_access_token = token;

    if (batch != NULL) {
        MR_CHECK_INT(reg_deletions_take_batch(list, batch, &prov_key, &rec),
                     ==, MR_OK);
    } else {
        MR_CHECK_INT(reg_deletions_take(list, &prov_key, &rec), ==, MR_OK);
    }
    MR_CHECK(rec == NULL);
}

/* delete_clients takes n clients "c0".."c<n-1>" into one batch, writes
 * it and sends the deletions, as DeleteMcpServer does. */
static void
delete_clients(fixture *fx, int n)
{
    reg_deletions list = {0};
    reg_batch *batch = reg_batch_new();
    char name[16];

    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        take_client(fx, &list, batch, name);
    }
    MR_CHECK_INT(reg_store_write(fx->service.store, batch), ==, MR_OK);
    reg_batch_free(batch);
    reg_deletions_send(&fx->service, &list, NULL);
    MR_CHECK_INT(list.count, ==, 0);
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

static int
stored_deletions(fixture *fx)
{
    reg_key prefix;
    int n = 0;

    reg_key_build(&prefix, REG_T_CLIENTDEL, WS, "", NULL);
    MR_CHECK_INT(reg_store_scan(fx->service.store, &prefix, count_key, &n), ==,
                 MR_OK);
    return n;
}

/* wait_drained waits until the queue contains no deletion. */
static void
wait_drained(fixture *fx)
{
    for (int i = 0; i < WAIT_MS / 10 && reg_deletions_pending(&fx->service);
         i++) {
        usleep(10000);
    }
    MR_CHECK_INT(reg_deletions_pending(&fx->service), ==, 0);
}

/* attempts_of returns the attempts the worker saw for client name. */
static int
attempts_of(const char *name)
{
    char uri[128];
    int attempts = 0;

    snprintf(uri, sizeof(uri), "%s%s", URI_BASE, name);
    pthread_mutex_lock(&seen_lock);
    for (int i = 0; i < seen_count; i++) {
        if (strcmp(seen_uris[i], uri) == 0) {
            attempts = seen_attempts[i];
            MR_CHECK_INT(seen_tokens_ok[i], ==, attempts);
        }
    }
    pthread_mutex_unlock(&seen_lock);
    return attempts;
}

static void
deletions_backoff(void)
{
    reg_deletion_config cfg = {
        .first_delay_ms = REG_DELETION_FIRST_DELAY_MS,
        .max_delay_ms = REG_DELETION_MAX_DELAY_MS,
    };

    MR_CHECK_INT(reg_deletions_backoff(&cfg, 1, 0), ==, 500);
    MR_CHECK_INT(reg_deletions_backoff(&cfg, 1, 500), ==, 1000);
    MR_CHECK_INT(reg_deletions_backoff(&cfg, 1, 501), ==, 500);
    MR_CHECK_INT(reg_deletions_backoff(&cfg, 2, 0), ==, 1000);
    MR_CHECK_INT(reg_deletions_backoff(&cfg, 2, 1000), ==, 2000);
    MR_CHECK_INT(reg_deletions_backoff(&cfg, 9, 128000), ==, 256000);
    MR_CHECK_INT(reg_deletions_backoff(&cfg, 10, 0), ==, 150000);
    MR_CHECK_INT(reg_deletions_backoff(&cfg, 10, 150000), ==, 300000);
    MR_CHECK_INT(reg_deletions_backoff(&cfg, 1000000, UINT32_MAX), <=, 300000);
    MR_CHECK_INT(reg_deletions_backoff(&cfg, 1000000, UINT32_MAX), >=, 150000);
}

static void
deletions_finished(void)
{
    MR_CHECK(reg_deletions_finished(MR_OK, ""));
    MR_CHECK(reg_deletions_finished(
        MR_EREGISTRATION_REJECTED,
        "Check the policy: client deletion at https://as/register/x "
        "returned HTTP 401"));
    MR_CHECK(!reg_deletions_finished(
        MR_EREGISTRATION_REJECTED,
        "Check the policy: client deletion at https://as/x returned HTTP "
        "403"));
    MR_CHECK(!reg_deletions_finished(
        MR_EREGISTRATION_REJECTED,
        "client deletion at https://as/returned HTTP 401/x returned HTTP "
        "4010"));
    MR_CHECK(!reg_deletions_finished(MR_EREGISTRATION_REJECTED, NULL));
    MR_CHECK(!reg_deletions_finished(MR_EBUSY, "returned HTTP 401"));
    MR_CHECK(!reg_deletions_finished(MR_EUNAVAILABLE, ""));
    MR_CHECK(!reg_deletions_finished(MR_EREMOTE_UNAVAILABLE, ""));
}

static void
deletions_permanent_errors(void)
{
    static const mr_err permanent[] = {MR_EBLOCKED_ADDRESS, MR_EINVALID_FIELD,
                                       MR_EMISSING_FIELD,
                                       MR_EREMOTE_TOO_LARGE};
    static const mr_err transient[] = {MR_OK,
                                       MR_EREGISTRATION_REJECTED,
                                       MR_EINTERNAL,
                                       MR_ENOMEM,
                                       MR_EUNIMPLEMENTED,
                                       MR_EBUSY,
                                       MR_EUNAVAILABLE,
                                       MR_ETIMEDOUT,
                                       MR_EREMOTE_UNAVAILABLE,
                                       MR_EREMOTE_TIMEDOUT,
                                       MR_ESHUTTING_DOWN};

    for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++) {
        if (!reg_deletions_permanent(permanent[i])) {
            fprintf(stderr, "    %s is not permanent\n",
                    mr_err_code(permanent[i]));
        }
        MR_CHECK(reg_deletions_permanent(permanent[i]));
    }
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        if (reg_deletions_permanent(transient[i])) {
            fprintf(stderr, "    %s is permanent\n",
                    mr_err_code(transient[i]));
        }
        MR_CHECK(!reg_deletions_permanent(transient[i]));
    }
}

/* Both ways of taking a client write its record, with the token sealed
 * under the prov/ key that the record names. */
static void
deletions_records_written(void)
{
    reg_deletions list = {0};
    reg_batch *batch = reg_batch_new();
    fixture fx;

    setup(&fx);
    take_client(&fx, &list, batch, "in-batch");
    MR_CHECK_INT(stored_deletions(&fx), ==, 0);
    MR_CHECK_INT(reg_store_write(fx.service.store, batch), ==, MR_OK);
    MR_CHECK_INT(stored_deletions(&fx), ==, 1);
    reg_batch_free(batch);

    take_client(&fx, &list, NULL, "own-write");
    MR_CHECK_INT(list.count, ==, 2);
    if (list.count == 2) {
        const Mcpreg__V1__PendingDeletionRecord *rec = list.items[1].rec;
        char *token = NULL;
        size_t len = 0;

        MR_CHECK_STR(rec->workspace_id, WS);
        MR_CHECK_STR(rec->mcp_server_id, SERVER_ID);
        MR_CHECK_STR(rec->client_id, "own-write");
        MR_CHECK_STR(rec->registration_client_uri, URI_BASE "own-write");
        MR_CHECK(rec->created_at_ms > 0);
        MR_CHECK_INT(
            reg_seal_decrypt(&fx.service.seal, rec->registration_access_token,
                             rec->sealed_with_key,
                             strlen(rec->sealed_with_key), &token, &len),
            ==, MR_OK);
        MR_CHECK_STR(token, "rat-own-write");
        reg_seal_free(token, len);
    }

    /* Without a queue, the records wait in the store. */
    reg_deletions_send(&fx.service, &list, NULL);
    MR_CHECK_INT(stored_deletions(&fx), ==, 2);
    teardown(&fx);
}

/* More deletions than the worker takes at once: each is retried until it
 * succeeds, and no more than max_in_flight are in flight at once. */
static void
deletions_retried_until_done(void)
{
    fixture fx;

    setup(&fx);
    start_worker(&fx);
    atomic_store(&fail_first, 2);
    atomic_store(&fail_err, MR_EBUSY);
    fail_detail = "Retry later: too many registrations";
    MR_CHECK_INT(reg_deletions_start(&fx.service, &fx.cfg), ==, MR_OK);

    delete_clients(&fx, 6);
    wait_drained(&fx);
    for (int i = 0; i < 6; i++) {
        char name[16];

        snprintf(name, sizeof(name), "c%d", i);
        MR_CHECK_INT(attempts_of(name), ==, 3);
    }
    MR_CHECK_INT(atomic_load(&max_active), <=, fx.cfg.max_in_flight);
    MR_CHECK_INT(atomic_load(&max_active), >=, 1);
    MR_CHECK_INT(stored_deletions(&fx), ==, 0);
    teardown(&fx);
}

/* HTTP 401 means the server has no such client (RFC 7592), so the
 * deletion ends; HTTP 403 is retried. */
static void
deletions_401_ends_403_retried(void)
{
    fixture fx;

    setup(&fx);
    start_worker(&fx);
    atomic_store(&fail_first, 1);
    atomic_store(&fail_err, MR_EREGISTRATION_REJECTED);
    fail_detail = "Check the policy: client deletion at " URI_BASE
                  "c0 returned HTTP 401";
    MR_CHECK_INT(reg_deletions_start(&fx.service, &fx.cfg), ==, MR_OK);
    delete_clients(&fx, 1);
    wait_drained(&fx);
    MR_CHECK_INT(attempts_of("c0"), ==, 1);
    teardown(&fx);

    setup(&fx);
    start_worker(&fx);
    atomic_store(&fail_first, 1);
    atomic_store(&fail_err, MR_EREGISTRATION_REJECTED);
    fail_detail = "Check the policy: client deletion at " URI_BASE
                  "c0 returned HTTP 403";
    MR_CHECK_INT(reg_deletions_start(&fx.service, &fx.cfg), ==, MR_OK);
    delete_clients(&fx, 1);
    wait_drained(&fx);
    MR_CHECK_INT(attempts_of("c0"), ==, 2);
    teardown(&fx);
}

/* A deletion whose registration_client_uri the worker rejects can never
 * succeed, so it is attempted once and dropped with its record. */
static void
deletions_blocked_uri_dropped(void)
{
    fixture fx;

    setup(&fx);
    start_worker(&fx);
    atomic_store(&fail_first, 1);
    atomic_store(&fail_err, MR_EBLOCKED_ADDRESS);
    fail_detail = "Add the host to the development allow-list: "
                  "registration_client_uri \"" URI_BASE "c0\" resolves to a "
                  "loopback address";
    MR_CHECK_INT(reg_deletions_start(&fx.service, &fx.cfg), ==, MR_OK);
    delete_clients(&fx, 1);
    wait_drained(&fx);
    /* A retry would come after at most max_delay_ms (100 ms). */
    usleep(300000);
    MR_CHECK_INT(attempts_of("c0"), ==, 1);
    MR_CHECK_INT(stored_deletions(&fx), ==, 0);
    teardown(&fx);
}

/* A deletion that keeps failing is dropped, with its record, once it is
 * older than max_age_ms. */
static void
deletions_dropped_when_too_old(void)
{
    fixture fx;

    setup(&fx);
    start_worker(&fx);
    atomic_store(&fail_first, 1000);
    atomic_store(&fail_err, MR_EREMOTE_UNAVAILABLE);
    fail_detail = "the authorization server returned HTTP 503";
    fx.cfg.max_age_ms = 400;
    MR_CHECK_INT(reg_deletions_start(&fx.service, &fx.cfg), ==, MR_OK);
    delete_clients(&fx, 2);
    wait_drained(&fx);
    MR_CHECK_INT(attempts_of("c0"), >=, 2);
    MR_CHECK_INT(attempts_of("c1"), >=, 2);
    MR_CHECK_INT(stored_deletions(&fx), ==, 0);
    teardown(&fx);
}

/* Deletions that did not end before the queue stopped, because no worker
 * was connected, resume from the store when the next queue starts. */
static void
deletions_resume_at_start(void)
{
    fixture fx;

    setup(&fx);
    MR_CHECK_INT(reg_deletions_start(&fx.service, &fx.cfg), ==, MR_OK);
    delete_clients(&fx, 3);
    usleep(200000);
    MR_CHECK_INT(reg_deletions_pending(&fx.service), ==, 3);
    stop_queue(&fx);
    MR_CHECK_INT(stored_deletions(&fx), ==, 3);
    MR_CHECK_INT(attempts_of("c0"), ==, 0);

    MR_CHECK_INT(mr_rpc_client_open(&fx.jobs, fx.jobs_url, true), ==, MR_OK);
    fx.cfg.jobs = fx.jobs;
    MR_CHECK_INT(reg_deletions_start(&fx.service, &fx.cfg), ==, MR_OK);
    MR_CHECK_INT(reg_deletions_pending(&fx.service), ==, 3);
    start_worker(&fx);
    wait_drained(&fx);
    MR_CHECK_INT(attempts_of("c0"), ==, 1);
    MR_CHECK_INT(attempts_of("c1"), ==, 1);
    MR_CHECK_INT(attempts_of("c2"), ==, 1);
    MR_CHECK_INT(stored_deletions(&fx), ==, 0);
    teardown(&fx);
}

static const mr_test_case cases[] = {
    {"deletions_backoff", deletions_backoff},
    {"deletions_finished", deletions_finished},
    {"deletions_permanent_errors", deletions_permanent_errors},
    {"deletions_records_written", deletions_records_written},
    {"deletions_retried_until_done", deletions_retried_until_done},
    {"deletions_401_ends_403_retried", deletions_401_ends_403_retried},
    {"deletions_blocked_uri_dropped", deletions_blocked_uri_dropped},
    {"deletions_dropped_when_too_old", deletions_dropped_when_too_old},
    {"deletions_resume_at_start", deletions_resume_at_start},
};

MR_TEST_MAIN(cases)
