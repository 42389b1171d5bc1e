/* disc_worker_test.c - DiscoverAndRegister calls through the RPC layer,
 * from a client that listens on an inproc address to a worker that dials
 * it, with the test HTTP server on 127.0.0.1 behind. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "disc_test_server.h"
#include "disc_worker.h"
#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_rpc.h"
#include "mr_test.h"
#include "mr_util.h"

#define REDIRECT_URI "http://127.0.0.1:8080/v1/deepagents/oauth/callback"

/* fixture is a test server, an RPC client and a worker that dials it. */
typedef struct {
    disc_test_server *server;
    mr_allow_list allow;
    mr_rpc_client *client;
    disc_worker *worker;
    char mcp_url[128];
} fixture;

/* call_result is the outcome of an asynchronous call. */
typedef struct {
    atomic_bool done; /* set after err, on an nng thread */
    mr_err err;
} call_result;

static bool
setup(fixture *f, const char *address, long max_jobs)
{
    disc_worker_config cfg = {
        .jobs_url = address,
        .engine =
            {
                .allow = &f->allow,
                .redirect_uri = REDIRECT_URI,
                .max_jobs = max_jobs,
                .connect_timeout_ms = 2000,
                .fetch_timeout_ms = 5000,
                .max_response_bytes = 256 * 1024,
            },
    };
    const char *bad = NULL;

    memset(f, 0, sizeof(*f));
    f->server = disc_test_server_start();
    MR_CHECK(f->server != NULL);
    if (f->server == NULL) {
        return false;
    }
    snprintf(f->mcp_url, sizeof(f->mcp_url), "http://127.0.0.1:%d/mcp",
             disc_test_server_port(f->server));
    MR_CHECK_INT(mr_allow_parse("127.0.0.1", &f->allow, &bad), ==, MR_OK);
    MR_CHECK_INT(mr_rpc_client_open(&f->client, address, true), ==, MR_OK);
    MR_CHECK_INT(disc_worker_start(&cfg, &f->worker), ==, MR_OK);

    for (int i = 0; i < 200 && mr_rpc_client_peers(f->client) == 0; i++) {
        usleep(10 * 1000);
    }
    MR_CHECK_INT(mr_rpc_client_peers(f->client), ==, 1);
    return f->worker != NULL && mr_rpc_client_peers(f->client) == 1;
}

static void
teardown(fixture *f)
{
    disc_worker_stop(f->worker, 0);
    mr_rpc_client_close(f->client);
    disc_test_server_stop(f->server);
    mr_allow_free(&f->allow);
}

/* call_job sends one job for url and waits for the reply. */
static mr_err
call_job(fixture *f, const char *url, Mcpreg__V1__DiscoveryResult **result,
         char **detail, uint32_t *retry_after)
{
    Mcpreg__V1__DiscoveryJob job = MCPREG__V1__DISCOVERY_JOB__INIT;
    ProtobufCMessage *response = NULL;
    mr_err err;

    job.job_id = "job-rpc";
    job.mcp_server_url = (char *)url;
    job.workspace_id = "ws-1";
    err = mr_rpc_call_sync(f->client, MR_M_DISCOVER_AND_REGISTER, &job.base,
                           &mcpreg__v1__discovery_result__descriptor,
                           "req-rpc", 10000, &response, detail, retry_after);
    *result = (Mcpreg__V1__DiscoveryResult *)response;
    return err;
}

static void
on_reply(void *arg, const mr_rpc_status *status, ProtobufCMessage *response)
{
    call_result *result = arg;

    if (response != NULL) {
        protobuf_c_message_free_unpacked(response, NULL);
    }
    result->err = status->err;
    atomic_store(&result->done, true);
}

/* call_job_async sends one job for the fixture's URL without waiting. */
static void
call_job_async(fixture *f, call_result *result)
{
    Mcpreg__V1__DiscoveryJob job = MCPREG__V1__DISCOVERY_JOB__INIT;

    job.job_id = "job-async";
    job.mcp_server_url = f->mcp_url;
    MR_CHECK_INT(mr_rpc_call_async(f->client, MR_M_DISCOVER_AND_REGISTER,
                                   &job.base,
                                   &mcpreg__v1__discovery_result__descriptor,
                                   "req-async", 10000, on_reply, result),
                 ==, MR_OK);
}

static void
wait_done(const call_result *result, int timeout_ms)
{
    for (int i = 0; i < timeout_ms / 10 && !atomic_load(&result->done); i++) {
        usleep(10 * 1000);
    }
    MR_CHECK(atomic_load(&result->done));
}

static void
test_result_over_rpc(void)
{
    fixture f;
    Mcpreg__V1__DiscoveryResult *result = NULL;
    char *detail = NULL;
    uint32_t retry_after = 0;
    char base[64];
    char expected[128];

    if (!setup(&f, "inproc://disc_worker_test_result", 4)) {
        return;
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d",
             disc_test_server_port(f.server));

    MR_CHECK_INT(call_job(&f, f.mcp_url, &result, &detail, &retry_after), ==,
                 MR_OK);
    MR_CHECK(result != NULL);
    if (result != NULL) {
        snprintf(expected, sizeof(expected), "%s/mcp", base);
        MR_CHECK_STR(result->resource, expected);
        snprintf(expected, sizeof(expected), "%s/as", base);
        MR_CHECK_STR(result->issuer, expected);
        snprintf(expected, sizeof(expected), "%s/as/auth", base);
        MR_CHECK_STR(result->authorization_endpoint, expected);
        snprintf(expected, sizeof(expected), "%s/as/token", base);
        MR_CHECK_STR(result->token_endpoint, expected);
        snprintf(expected, sizeof(expected), "%s/as/register", base);
        MR_CHECK_STR(result->registration_endpoint, expected);
        MR_CHECK_STR(result->revocation_endpoint, "");
        MR_CHECK_STR(result->scope, "mcp:tools");
        MR_CHECK_STR(result->redirect_uri, REDIRECT_URI);
        MR_CHECK_STR(result->client_id, "test-client");
        MR_CHECK_STR(result->client_secret, "test-secret");
        MR_CHECK_STR(result->token_endpoint_auth_method,
                     "client_secret_basic");
        MR_CHECK_INT(result->client_id_issued_at, ==, 1700000000);
        MR_CHECK_INT(result->client_secret_expires_at, ==, 0);
        MR_CHECK_STR(result->registration_access_token, "");
        MR_CHECK_STR(result->registration_client_uri, "");
        protobuf_c_message_free_unpacked(&result->base, NULL);
    }
    free(detail);
    teardown(&f);
}

/* closed_port returns a loopback port that nothing listens on now. */
static int
closed_port(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

static void
test_error_detail_over_rpc(void)
{
    static const char advice[] =
        "Check that the MCP server is running and reachable: MCP initialize "
        "POST http://127.0.0.1:";
    fixture f;
    Mcpreg__V1__DiscoveryResult *result = NULL;
    char *detail = NULL;
    uint32_t retry_after = 0;
    char url[64];

    if (!setup(&f, "inproc://disc_worker_test_error", 4)) {
        return;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/mcp", closed_port());

    MR_CHECK_INT(call_job(&f, url, &result, &detail, &retry_after), ==,
                 MR_EMCP_UNREACHABLE);
    MR_CHECK(result == NULL);
    MR_CHECK(detail != NULL);
    if (detail != NULL) {
        if (strncmp(detail, advice, sizeof(advice) - 1) != 0) {
            fprintf(stderr, "    detail: %s\n", detail);
        }
        MR_CHECK(strncmp(detail, advice, sizeof(advice) - 1) == 0);
    }
    MR_CHECK_INT(retry_after, ==, 1);
    free(detail);
    teardown(&f);
}

static void
test_busy_over_rpc(void)
{
    fixture f;
    call_result first = {0};
    Mcpreg__V1__DiscoveryResult *result = NULL;
    char *detail = NULL;
    uint32_t retry_after = 0;

    if (!setup(&f, "inproc://disc_worker_test_busy", 1)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_SLOW_METADATA);
    call_job_async(&f, &first);
    usleep(200 * 1000);

    MR_CHECK_INT(call_job(&f, f.mcp_url, &result, &detail, &retry_after), ==,
                 MR_EBUSY);
    MR_CHECK(detail != NULL && strstr(detail, "(--max-jobs 1)") != NULL);
    MR_CHECK_INT(retry_after, ==, 1);
    free(detail);

    wait_done(&first, 10000);
    MR_CHECK_INT(first.err, ==, MR_OK);
    teardown(&f);
}

static void
test_stop_replies_shutting_down(void)
{
    fixture f;
    call_result running = {0};

    if (!setup(&f, "inproc://disc_worker_test_stop", 4)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_SLOW_METADATA);
    call_job_async(&f, &running);
    usleep(200 * 1000);

    disc_worker_stop(f.worker, 50);
    f.worker = NULL;
    wait_done(&running, 5000);
    MR_CHECK_INT(running.err, ==, MR_ESHUTTING_DOWN);
    teardown(&f);
}

static const mr_test_case cases[] = {
    {"result_over_rpc", test_result_over_rpc},
    {"error_detail_over_rpc", test_error_detail_over_rpc},
    {"busy_over_rpc", test_busy_over_rpc},
    {"stop_replies_shutting_down", test_stop_replies_shutting_down},
};

int
main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mr_util_init();
    mr_log_init("discovery-test", MR_LOG_WARN, 2);
    return mr_test_run(cases, (int)(sizeof(cases) / sizeof(cases[0])), argc,
                       argv);
}
