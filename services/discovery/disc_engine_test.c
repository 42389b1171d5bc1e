/* disc_engine_test.c - the engine against a real HTTP server on
 * 127.0.0.1: the whole flow, limits, timeouts, deadlines, the address
 * policy, the job bound, wake-ups and shutdown. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "disc_engine.h"
#include "disc_test_server.h"
#include "mr_log.h"
#include "mr_test.h"
#include "mr_util.h"

#define REDIRECT_URI "http://127.0.0.1:8080/v1/deepagents/oauth/callback"

/* outcome is what a job's done callback received. */
typedef struct {
    pthread_mutex_t mutex;
    bool done;
    mr_err err;
    char detail[2048];
    char resource[256];
    char issuer[256];
    char token_endpoint[256];
    char scope[128];
    char redirect_uri[256];
    char client_id[64];
    char auth_method[64];
    int64_t finished_ms;
} outcome;

/* fixture is one engine and one test server. */
typedef struct {
    disc_test_server *server;
    mr_allow_list allow;
    disc_engine *engine;
    char mcp_url[128];
} fixture;

static void
outcome_init(outcome *o)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->mutex, NULL);
}

static void
on_done(void *arg, mr_err err, const char *detail, uint32_t retry_after_s,
        const disc_result *result)
{
    outcome *o = arg;

    /* disc_flow_test and the integration tests cover Retry-After. */
    (void)retry_after_s;
    pthread_mutex_lock(&o->mutex);
    o->err = err;
    snprintf(o->detail, sizeof(o->detail), "%s", detail);
    if (result != NULL) {
        snprintf(o->resource, sizeof(o->resource), "%s", result->resource);
        snprintf(o->issuer, sizeof(o->issuer), "%s", result->issuer);
        snprintf(o->token_endpoint, sizeof(o->token_endpoint), "%s",
                 result->token_endpoint);
        snprintf(o->scope, sizeof(o->scope), "%s", result->scope);
        snprintf(o->redirect_uri, sizeof(o->redirect_uri), "%s",
                 result->redirect_uri);
        snprintf(o->client_id, sizeof(o->client_id), "%s",
                 result->client->client_id);
        snprintf(o->auth_method, sizeof(o->auth_method), "%s",
                 result->client->token_endpoint_auth_method);
    }
    o->finished_ms = mr_mono_ms();
    o->done = true;
    pthread_mutex_unlock(&o->mutex);
}

/* wait_outcome waits up to timeout_ms for the job to finish and returns
 * whether it did. */
static bool
wait_outcome(outcome *o, int timeout_ms)
{
    int64_t until = mr_mono_ms() + timeout_ms;
    bool done;

    pthread_mutex_lock(&o->mutex);
    while (!o->done && mr_mono_ms() < until) {
        pthread_mutex_unlock(&o->mutex);
        usleep(5000);
        pthread_mutex_lock(&o->mutex);
    }
    done = o->done;
    pthread_mutex_unlock(&o->mutex);
    return done;
}

static bool
setup(fixture *f, const char *allow_hosts, long max_jobs,
      long fetch_timeout_ms)
{
    disc_engine_config cfg = {
        .allow = &f->allow,
        .redirect_uri = REDIRECT_URI,
        .max_jobs = max_jobs,
        .connect_timeout_ms = 2000,
        .fetch_timeout_ms = fetch_timeout_ms,
        .max_response_bytes = 256 * 1024,
        .metadata_cache_max_ms = DISC_CACHE_DEFAULT_TTL_MS,
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
    MR_CHECK_INT(mr_allow_parse(allow_hosts, &f->allow, &bad), ==, MR_OK);
    MR_CHECK_INT(disc_engine_start(&cfg, &f->engine), ==, MR_OK);
    return f->engine != NULL;
}

static void
teardown(fixture *f)
{
    disc_engine_stop(f->engine, 0);
    disc_engine_free(f->engine);
    disc_test_server_stop(f->server);
    mr_allow_free(&f->allow);
}

static mr_err
submit(fixture *f, const char *url, int timeout_ms, outcome *o)
{
    disc_job job = {
        .job_id = "job-1",
        .mcp_server_url = url,
        .request_id = "req-1",
        .deadline_ms = mr_mono_ms() + timeout_ms,
        .done = on_done,
        .arg = o,
    };

    return disc_engine_submit(f->engine, &job);
}

/* run_job submits one job for the fixture's MCP URL, waits for it and
 * checks that it ended with err. */
static void
run_job(fixture *f, mr_err err, outcome *o)
{
    outcome_init(o);
    MR_CHECK_INT(submit(f, f->mcp_url, 10000, o), ==, MR_OK);
    MR_CHECK(wait_outcome(o, 10000));
    if (o->err != err) {
        fprintf(stderr, "    detail: %s\n", o->detail);
    }
    MR_CHECK_INT(o->err, ==, err);
}

static void
test_full_flow_over_http(void)
{
    fixture f;
    outcome o;
    char base[64];
    char expected[256];
    char type[128];
    char body[4096];

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d",
             disc_test_server_port(f.server));

    run_job(&f, MR_OK, &o);
    snprintf(expected, sizeof(expected), "%s/mcp", base);
    MR_CHECK_STR(o.resource, expected);
    snprintf(expected, sizeof(expected), "%s/as", base);
    MR_CHECK_STR(o.issuer, expected);
    snprintf(expected, sizeof(expected), "%s/as/token", base);
    MR_CHECK_STR(o.token_endpoint, expected);
    MR_CHECK_STR(o.scope, "mcp:tools");
    MR_CHECK_STR(o.redirect_uri, REDIRECT_URI);
    MR_CHECK_STR(o.client_id, "test-client");
    MR_CHECK_STR(o.auth_method, "client_secret_basic");
    MR_CHECK_STR(o.detail, "");

    MR_CHECK_INT(disc_test_server_registration(f.server, type, sizeof(type),
                                               body, sizeof(body)),
                 ==, 1);
    MR_CHECK_STR(type, "application/json");
    MR_CHECK(strstr(body, "\"redirect_uris\":[\"" REDIRECT_URI "\"]") != NULL);
    MR_CHECK(strstr(body, "\"scope\":\"mcp:tools\"") != NULL);
    teardown(&f);
}

static void
test_many_jobs_at_once(void)
{
    enum { JOBS = 20 };
    fixture f;
    outcome o[JOBS];
    char type[128];
    char body[4096];

    if (!setup(&f, "127.0.0.1", JOBS, 5000)) {
        return;
    }
    for (int i = 0; i < JOBS; i++) {
        outcome_init(&o[i]);
        MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &o[i]), ==, MR_OK);
    }
    for (int i = 0; i < JOBS; i++) {
        MR_CHECK(wait_outcome(&o[i], 10000));
        MR_CHECK_INT(o[i].err, ==, MR_OK);
    }
    MR_CHECK_INT(disc_test_server_registration(f.server, type, sizeof(type),
                                               body, sizeof(body)),
                 ==, JOBS);
    teardown(&f);
}

/* Jobs for one MCP server share one discovery, and later jobs reuse its
 * metadata from the cache: only registrations are repeated. */
static void
test_jobs_share_discovery(void)
{
    enum { JOBS = 20 };
    fixture f;
    outcome o[JOBS + 1];
    char type[128];
    char body[4096];
    int together;

    if (!setup(&f, "127.0.0.1", JOBS + 1, 5000)) {
        return;
    }
    for (int i = 0; i < JOBS; i++) {
        outcome_init(&o[i]);
        MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &o[i]), ==, MR_OK);
    }
    for (int i = 0; i < JOBS; i++) {
        MR_CHECK(wait_outcome(&o[i], 10000));
        MR_CHECK_INT(o[i].err, ==, MR_OK);
    }
    together = disc_test_server_requests(f.server);
    MR_CHECK_INT(disc_test_server_registration(f.server, type, sizeof(type),
                                               body, sizeof(body)),
                 ==, JOBS);
    /* One probe and at most three metadata GETs, then one POST a job. */
    MR_CHECK_INT(together, <=, JOBS + 4);

    outcome_init(&o[JOBS]);
    MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &o[JOBS]), ==, MR_OK);
    MR_CHECK(wait_outcome(&o[JOBS], 10000));
    MR_CHECK_INT(o[JOBS].err, ==, MR_OK);
    MR_CHECK_INT(disc_test_server_requests(f.server), ==, together + 1);
    teardown(&f);
}

/* waiting_answer is what waiting_stub returns, and waiting_calls counts
 * its calls. */
static bool waiting_answer;
static int waiting_calls;

static bool
waiting_stub(void *arg)
{
    (void)arg;
    waiting_calls++;
    return waiting_answer;
}

/* run_waiting_job runs one job whose caller waits when waiting_answer is
 * set, and checks that it ended with err. */
static void
run_waiting_job(fixture *f, mr_err err, outcome *o)
{
    disc_job job = {
        .job_id = "job-1",
        .mcp_server_url = f->mcp_url,
        .request_id = "req-1",
        .deadline_ms = mr_mono_ms() + 10000,
        .done = on_done,
        .waiting = waiting_stub,
        .arg = o,
    };

    outcome_init(o);
    MR_CHECK_INT(disc_engine_submit(f->engine, &job), ==, MR_OK);
    MR_CHECK(wait_outcome(o, 10000));
    MR_CHECK_INT(o->err, ==, err);
}

/* A job whose caller has left discovers but registers no client, because
 * no service would store it. One whose caller waits registers as usual. */
static void
test_left_caller_registers_nothing(void)
{
    fixture f;
    outcome o;
    char type[128];
    char body[4096];

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }

    waiting_answer = false;
    waiting_calls = 0;
    run_waiting_job(&f, MR_EUNAVAILABLE, &o);
    MR_CHECK_INT(waiting_calls, ==, 1);
    MR_CHECK(strstr(o.detail, "caller disconnected") != NULL);
    MR_CHECK_INT(disc_test_server_requests(f.server), >, 0);
    MR_CHECK_INT(disc_test_server_registration(f.server, type, sizeof(type),
                                               body, sizeof(body)),
                 ==, 0);

    waiting_answer = true;
    run_waiting_job(&f, MR_OK, &o);
    MR_CHECK_INT(waiting_calls, ==, 2);
    MR_CHECK_INT(disc_test_server_registration(f.server, type, sizeof(type),
                                               body, sizeof(body)),
                 ==, 1);
    teardown(&f);
}

static void
test_probe_body_not_read(void)
{
    fixture f;
    outcome o;
    int64_t started = mr_mono_ms();

    if (!setup(&f, "127.0.0.1", 8, 4000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_ENDLESS_PROBE);

    /* The probe gets 200 and an endless event stream; the engine stops
     * reading at the headers, well before the 4 s fetch timeout. */
    run_job(&f, MR_OK, &o);
    MR_CHECK_INT(o.finished_ms - started, <, 3000);
    teardown(&f);
}

static void
test_redirects_followed(void)
{
    fixture f;
    outcome o;

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_REDIRECT);
    run_job(&f, MR_OK, &o);
    MR_CHECK_STR(o.client_id, "test-client");
    teardown(&f);
}

/* A redirect loop at the challenge's metadata URL fails that URL only, so
 * the path-inserted URL after it gives the document. */
static void
test_redirect_loop_skipped(void)
{
    fixture f;
    outcome o;

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_REDIRECT_LOOP);
    run_job(&f, MR_OK, &o);
    MR_CHECK(o.client_id[0] != '\0');
    teardown(&f);
}

static void
test_big_response_rejected(void)
{
    fixture f;
    outcome o;

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_BIG_METADATA);
    run_job(&f, MR_EREMOTE_TOO_LARGE, &o);
    MR_CHECK(strstr(o.detail, "oauth-protected-resource/mcp") != NULL);
    teardown(&f);
}

static void
test_big_chunked_response_rejected(void)
{
    fixture f;
    outcome o;

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_BIG_CHUNKED);
    run_job(&f, MR_EREMOTE_TOO_LARGE, &o);
    teardown(&f);
}

static void
test_fetch_timeout(void)
{
    fixture f;
    outcome o;

    if (!setup(&f, "127.0.0.1", 8, 300)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_SLOW_METADATA);
    run_job(&f, MR_EREMOTE_TIMEDOUT, &o);
    MR_CHECK(strstr(o.detail, "timed out") != NULL);
    teardown(&f);
}

static void
test_job_deadline(void)
{
    fixture f;
    outcome o;
    int64_t started = mr_mono_ms();

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_SLOW_METADATA);
    outcome_init(&o);
    MR_CHECK_INT(submit(&f, f.mcp_url, 400, &o), ==, MR_OK);
    MR_CHECK(wait_outcome(&o, 5000));
    MR_CHECK_INT(o.err, ==, MR_ETIMEDOUT);
    MR_CHECK(strstr(o.detail, "resource_metadata") != NULL);
    MR_CHECK_INT(o.finished_ms - started, <, DISC_TEST_SLOW_MS);
    teardown(&f);
}

/* Jobs parked behind a slow leader have no transfer of their own, so
 * only the engine's deadline tracking ends them. Their deadlines are
 * submitted out of order, and each must end near its own. */
static void
test_deadlines_in_any_order(void)
{
    enum { JOBS = 8, SLACK_MS = 300 };
    static const int deadline_ms[JOBS] = {1200, 300, 700, 500,
                                          900,  400, 800, 600};
    fixture f;
    outcome o[JOBS];
    int64_t deadline[JOBS];

    if (!setup(&f, "127.0.0.1", JOBS, 5000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_SLOW_METADATA);
    for (int i = 0; i < JOBS; i++) {
        outcome_init(&o[i]);
        deadline[i] = mr_mono_ms() + deadline_ms[i];
        MR_CHECK_INT(submit(&f, f.mcp_url, deadline_ms[i], &o[i]), ==, MR_OK);
    }
    for (int i = 0; i < JOBS; i++) {
        MR_CHECK(wait_outcome(&o[i], 5000));
        MR_CHECK_INT(o[i].err, ==, MR_ETIMEDOUT);
        MR_CHECK_INT(o[i].finished_ms, >=, deadline[i] - 50);
        MR_CHECK_INT(o[i].finished_ms, <, deadline[i] + SLACK_MS);
    }
    teardown(&f);
}

/* An idle engine waits for up to a second, so a submitted job and a stop
 * must each end that wait at once. */
static void
test_wakes_on_submit_and_stop(void)
{
    fixture f;
    outcome o;
    int64_t started;

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    usleep(100 * 1000);
    outcome_init(&o);
    started = mr_mono_ms();
    MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &o), ==, MR_OK);
    MR_CHECK(wait_outcome(&o, 5000));
    MR_CHECK_INT(o.err, ==, MR_OK);
    MR_CHECK_INT(o.finished_ms - started, <, 500);

    usleep(100 * 1000);
    started = mr_mono_ms();
    disc_engine_stop(f.engine, 5000);
    MR_CHECK_INT(mr_mono_ms() - started, <, 500);
    disc_engine_free(f.engine);
    f.engine = NULL;
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
test_connection_refused(void)
{
    fixture f;
    outcome o;
    char url[64];

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/mcp", closed_port());
    outcome_init(&o);
    MR_CHECK_INT(submit(&f, url, 5000, &o), ==, MR_OK);
    MR_CHECK(wait_outcome(&o, 5000));
    MR_CHECK_INT(o.err, ==, MR_EMCP_UNREACHABLE);
    MR_CHECK(strstr(o.detail, "MCP initialize POST http://127.0.0.1:") !=
             NULL);
    teardown(&f);
}

static void
test_private_address_blocked(void)
{
    fixture f;
    outcome o;
    char url[64];

    /* localhost is not on the allow-list, so its loopback addresses are
     * rejected before any connection is opened. */
    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    snprintf(url, sizeof(url), "https://localhost:%d/mcp",
             disc_test_server_port(f.server));
    outcome_init(&o);
    MR_CHECK_INT(submit(&f, url, 5000, &o), ==, MR_OK);
    MR_CHECK(wait_outcome(&o, 5000));
    MR_CHECK_INT(o.err, ==, MR_EBLOCKED_ADDRESS);
    MR_CHECK(strstr(o.detail, "not public") != NULL);
    teardown(&f);
}

static void
test_http_host_not_allowed(void)
{
    fixture f;
    outcome o;

    if (!setup(&f, "localhost", 8, 5000)) {
        return;
    }
    run_job(&f, MR_EBLOCKED_ADDRESS, &o);
    MR_CHECK(strstr(o.detail, "--dev-allow-hosts") != NULL);
    teardown(&f);
}

static void
test_busy_beyond_max_jobs(void)
{
    fixture f;
    outcome first;
    outcome second;

    if (!setup(&f, "127.0.0.1", 1, 5000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_SLOW_METADATA);
    outcome_init(&first);
    outcome_init(&second);
    MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &first), ==, MR_OK);
    MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &second), ==, MR_EBUSY);

    MR_CHECK(wait_outcome(&first, 10000));
    MR_CHECK_INT(first.err, ==, MR_OK);
    MR_CHECK(!second.done);

    /* The slot is free again once the first job has finished. */
    disc_test_server_set_mode(f.server, DISC_TEST_NORMAL);
    MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &second), ==, MR_OK);
    MR_CHECK(wait_outcome(&second, 10000));
    MR_CHECK_INT(second.err, ==, MR_OK);
    teardown(&f);
}

static void
test_stop_fails_running_jobs(void)
{
    fixture f;
    outcome o;
    outcome late;
    int64_t started;

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_SLOW_METADATA);
    outcome_init(&o);
    outcome_init(&late);
    MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &o), ==, MR_OK);
    usleep(200 * 1000);

    started = mr_mono_ms();
    disc_engine_stop(f.engine, 100);
    MR_CHECK_INT(mr_mono_ms() - started, <, 800);
    MR_CHECK(o.done);
    MR_CHECK_INT(o.err, ==, MR_ESHUTTING_DOWN);
    MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &late), ==, MR_ESHUTTING_DOWN);
    MR_CHECK(!late.done);

    disc_engine_free(f.engine);
    f.engine = NULL;
    teardown(&f);
}

static void
test_stop_waits_within_grace(void)
{
    fixture f;
    outcome o;

    if (!setup(&f, "127.0.0.1", 8, 5000)) {
        return;
    }
    disc_test_server_set_mode(f.server, DISC_TEST_SLOW_METADATA);
    outcome_init(&o);
    MR_CHECK_INT(submit(&f, f.mcp_url, 10000, &o), ==, MR_OK);
    usleep(100 * 1000);

    disc_engine_stop(f.engine, 5000);
    MR_CHECK(o.done);
    MR_CHECK_INT(o.err, ==, MR_OK);
    disc_engine_free(f.engine);
    f.engine = NULL;
    teardown(&f);
}

static void
setup_process(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mr_log_init("discovery-test", MR_LOG_WARN, 2);
}

static const mr_test_case cases[] = {
    {"left_caller_registers_nothing", test_left_caller_registers_nothing},
    {"full_flow_over_http", test_full_flow_over_http},
    {"many_jobs_at_once", test_many_jobs_at_once},
    {"jobs_share_discovery", test_jobs_share_discovery},
    {"probe_body_not_read", test_probe_body_not_read},
    {"redirects_followed", test_redirects_followed},
    {"redirect_loop_skipped", test_redirect_loop_skipped},
    {"big_response_rejected", test_big_response_rejected},
    {"big_chunked_response_rejected", test_big_chunked_response_rejected},
    {"fetch_timeout", test_fetch_timeout},
    {"job_deadline", test_job_deadline},
    {"deadlines_in_any_order", test_deadlines_in_any_order},
    {"wakes_on_submit_and_stop", test_wakes_on_submit_and_stop},
    {"connection_refused", test_connection_refused},
    {"private_address_blocked", test_private_address_blocked},
    {"http_host_not_allowed", test_http_host_not_allowed},
    {"busy_beyond_max_jobs", test_busy_beyond_max_jobs},
    {"stop_fails_running_jobs", test_stop_fails_running_jobs},
    {"stop_waits_within_grace", test_stop_waits_within_grace},
};

int
main(int argc, char **argv)
{
    setup_process();
    return mr_test_run(cases, (int)(sizeof(cases) / sizeof(cases[0])), argc,
                       argv);
}
