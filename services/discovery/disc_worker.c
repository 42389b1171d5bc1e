/* disc_worker.c - the DiscoverAndRegister RPC handler, which hands each
 * job to the engine and replies from the engine thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disc_worker.h"
#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_rpc.h"

/* RETRY_AFTER_S is the Retry-After of retryable failures, in seconds, when
 * no remote server asked for a longer one. */
#define RETRY_AFTER_S 1

/* RETRY_AFTER_MAX_S caps the Retry-After that a remote server passes on to
 * callers, so that one server cannot tell them to wait for days. */
#define RETRY_AFTER_MAX_S 3600

/* SPARE_CONTEXTS is how many RPC contexts the server has beyond max_jobs,
 * so a job over the limit is received and rejected with MR_EBUSY at once
 * instead of waiting in the socket. */
#define SPARE_CONTEXTS 16

/* DEFAULT_TIMEOUT_MS is the deadline of a job whose request carries none. */
#define DEFAULT_TIMEOUT_MS 60000

/* DISC_WORKER_MAX_OPERATOR_CLIENTS bounds the operator clients taken from
 * one job; the flow keeps at most as many. */
#define DISC_WORKER_MAX_OPERATOR_CLIENTS 8

/* STOP_GRACE_MS is how long the RPC server waits for the last replies to
 * go out, once the engine has finished every job. */
#define STOP_GRACE_MS 1000

struct disc_worker {
    disc_engine *engine;
    mr_rpc_server *server;
    long max_jobs;
};

/* str returns text for a protobuf string field, which must not be NULL. */
static char *
str(const char *text)
{
    return (char *)(text != NULL ? text : "");
}

static void
reply_result(mr_rpc_call *call, const disc_result *result)
{
    Mcpreg__V1__DiscoveryResult out = MCPREG__V1__DISCOVERY_RESULT__INIT;
    const disc_client *client = result->client;

    out.resource = str(result->resource);
    out.issuer = str(result->issuer);
    out.authorization_endpoint = str(result->authorization_endpoint);
    out.token_endpoint = str(result->token_endpoint);
    out.registration_endpoint = str(result->registration_endpoint);
    out.revocation_endpoint = str(result->revocation_endpoint);
    out.scope = str(result->scope);
    out.redirect_uri = str(result->redirect_uri);
    out.client_id = str(client->client_id);
    out.client_secret = str(client->client_secret);
    out.token_endpoint_auth_method = str(client->token_endpoint_auth_method);
    out.client_id_issued_at = client->client_id_issued_at;
    out.client_secret_expires_at = client->client_secret_expires_at;
    out.registration_access_token = str(client->registration_access_token);
    out.registration_client_uri = str(client->registration_client_uri);
    out.client_source = str(result->client_source);
    mr_rpc_reply(call, &out.base);
}

/* retry_delay returns the Retry-After, in seconds, for a job that failed
 * with err: the remote server's remote_s within bounds, or 0 when a retry
 * will not help. */
static uint32_t
retry_delay(mr_err err, uint32_t remote_s)
{
    if (!mr_err_retryable(err)) {
        return 0;
    }
    if (remote_s > RETRY_AFTER_MAX_S) {
        return RETRY_AFTER_MAX_S;
    }
    return remote_s > RETRY_AFTER_S ? remote_s : RETRY_AFTER_S;
}

/* fail_job fails call with err. The detail follows the project's
 * "<what to do>: <what was wrong>" form: the advice of err's default
 * detail, then the job's own reason, which names the URL and status. */
static void
fail_job(mr_rpc_call *call, mr_err err, const char *reason,
         uint32_t retry_after_s)
{
    const char *advice = mr_strerror(err);
    const char *colon = strstr(advice, ": ");
    size_t advice_len = colon != NULL ? (size_t)(colon - advice) : 0;
    size_t size = advice_len + strlen(reason) + 3;
    char *detail = NULL;

    if (colon != NULL && reason[0] != '\0') {
        detail = malloc(size);
    }
    if (detail != NULL) {
        snprintf(detail, size, "%.*s: %s", (int)advice_len, advice, reason);
    }

    /* Without a reason or memory, the default detail of err goes out. */
    mr_rpc_fail(call, err, detail, retry_delay(err, retry_after_s));
    free(detail);
}

/* reply_job finishes the RPC call of a job; it runs on the engine thread. */
static void
reply_job(void *arg, mr_err err, const char *detail, uint32_t retry_after_s,
          const disc_result *result)
{
    mr_rpc_call *call = arg;

    if (err != MR_OK) {
        fail_job(call, err, detail, retry_after_s);
        return;
    }
    reply_result(call, result);
}

static void
reject_job(mr_rpc_call *call, const disc_worker *worker,
           const Mcpreg__V1__DiscoveryJob *job, mr_err err)
{
    char detail[128];

    if (err == MR_EBUSY) {
        snprintf(detail, sizeof(detail),
                 "Retry later: this worker has reached its maximum of jobs "
                 "in progress (--max-jobs %ld)",
                 worker->max_jobs);
    } else {
        snprintf(detail, sizeof(detail), "%s", mr_strerror(err));
    }

    mr_log_fields(MR_LOG_WARN, "disc.job.rejected", mr_rpc_request_id(call),
                  (mr_log_field[]){MR_FSTR("job_id", job->job_id),
                                   MR_FSTR("error", mr_err_code(err))},
                  2, "discovery job rejected: %s", detail);
    mr_rpc_fail(call, err, detail, RETRY_AFTER_S);
}

/* copy_operator_clients points clients at the job's operator clients,
 * whose strings the engine copies, and returns how many there are. */
static size_t
copy_operator_clients(const Mcpreg__V1__DiscoveryJob *job,
                      disc_operator_client *clients)
{
    size_t n = job->n_operator_clients;

    if (n > DISC_WORKER_MAX_OPERATOR_CLIENTS) {
        n = DISC_WORKER_MAX_OPERATOR_CLIENTS;
    }
    for (size_t i = 0; i < n; i++) {
        const Mcpreg__V1__OperatorClient *in = job->operator_clients[i];

        clients[i] = (disc_operator_client){
            .issuer = in->issuer,
            .client_id = in->client_id,
            .client_secret = in->client_secret,
            .token_endpoint_auth_method = in->token_endpoint_auth_method,
        };
    }
    return n;
}

/* caller_waits returns whether the registration service that sent the
 * job is still connected. Once it has gone, the job's result
 * cannot reach it, and a client registered for the job would be orphaned.
 */
static bool
caller_waits(void *arg)
{
    return mr_rpc_caller_connected(arg);
}

/* handle_job runs on an nng thread: it queues the job and returns at once.
 * Requests are never resent by the RPC layer, and the job id is logged
 * with the outcome, so a job sent twice by the caller can be recognised
 * in the logs. */
static void
handle_job(mr_rpc_call *call, void *arg)
{
    disc_worker *worker = arg;
    const Mcpreg__V1__DiscoveryJob *job =
        (const Mcpreg__V1__DiscoveryJob *)mr_rpc_request(call);
    disc_operator_client clients[DISC_WORKER_MAX_OPERATOR_CLIENTS];
    disc_job spec = {
        .job_id = job->job_id,
        .mcp_server_url = job->mcp_server_url,
        .request_id = mr_rpc_request_id(call),
        .deadline_ms = mr_rpc_deadline(call),
        .operator_clients = clients,
        .noperator_clients = copy_operator_clients(job, clients),
        .refresh_metadata = job->refresh_metadata,
        .done = reply_job,
        .waiting = caller_waits,
        .arg = call,
    };
    mr_err err = disc_engine_submit(worker->engine, &spec);

    if (err != MR_OK) {
        reject_job(call, worker, job, err);
    }
}

/* reply_delete finishes the RPC call of a client deletion; it runs on
 * the engine thread. */
static void
reply_delete(void *arg, mr_err err, const char *detail, uint32_t retry_after_s,
             const disc_result *result)
{
    mr_rpc_call *call = arg;
    Mcpreg__V1__DeleteClientResponse out =
        MCPREG__V1__DELETE_CLIENT_RESPONSE__INIT;

    if (err != MR_OK) {
        fail_job(call, err, detail, retry_after_s);
        return;
    }
    out.http_status = (int32_t)result->delete_status;
    mr_rpc_reply(call, &out.base);
}

/* handle_delete runs on an nng thread: it queues an RFC 7592 deletion on
 * the engine, which runs it like a discovery job. */
static void
handle_delete(mr_rpc_call *call, void *arg)
{
    disc_worker *worker = arg;
    const Mcpreg__V1__DeleteClientRequest *req =
        (const Mcpreg__V1__DeleteClientRequest *)mr_rpc_request(call);
    disc_job spec = {
        .job_id = req->job_id,
        .request_id = mr_rpc_request_id(call),
        .deadline_ms = mr_rpc_deadline(call),
        .delete_client_uri = req->registration_client_uri,
        .delete_access_token = req->registration_access_token,
        .done = reply_delete,
        .arg = call,
    };
    mr_err err = MR_EMISSING_FIELD;

    if (req->registration_client_uri[0] != '\0' &&
        req->registration_access_token[0] != '\0') {
        err = disc_engine_submit(worker->engine, &spec);
    }
    if (err == MR_EMISSING_FIELD) {
        mr_rpc_fail(call, err,
                    "Set registration_client_uri and "
                    "registration_access_token: one is missing",
                    0);
        return;
    }
    if (err != MR_OK) {
        mr_rpc_fail(call, err, mr_strerror(err),
                    mr_err_retryable(err) ? RETRY_AFTER_S : 0);
    }
}

static const mr_rpc_method methods[] = {
    {MR_M_DISCOVER_AND_REGISTER, &mcpreg__v1__discovery_job__descriptor,
     handle_job},
    {MR_M_DELETE_CLIENT, &mcpreg__v1__delete_client_request__descriptor,
     handle_delete},
};

mr_err
disc_worker_start(const disc_worker_config *cfg, disc_worker **out)
{
    disc_worker *worker = calloc(1, sizeof(*worker));
    mr_rpc_server_config server_cfg = {
        .url = cfg->jobs_url,
        .dial = true,
        .contexts = (int)cfg->engine.max_jobs + SPARE_CONTEXTS,
        .default_timeout_ms = DEFAULT_TIMEOUT_MS,
        .methods = methods,
        .nmethods = (int)(sizeof(methods) / sizeof(methods[0])),
        .name = "discovery",
    };
    mr_err err;

    *out = NULL;
    if (worker == NULL) {
        return MR_ENOMEM;
    }
    worker->max_jobs = cfg->engine.max_jobs;
    server_cfg.arg = worker;

    err = disc_engine_start(&cfg->engine, &worker->engine);
    if (err != MR_OK) {
        MR_ERROR("disc.engine.start", NULL,
                 "failed to start the discovery engine: %s", mr_err_code(err));
        free(worker);
        return err;
    }

    err = mr_rpc_server_start(&worker->server, &server_cfg);
    if (err != MR_OK) {
        disc_engine_stop(worker->engine, 0);
        disc_engine_free(worker->engine);
        free(worker);
        return err;
    }

    *out = worker;
    return MR_OK;
}

void
disc_worker_stop(disc_worker *worker, int grace_ms)
{
    if (worker == NULL) {
        return;
    }

    /* The engine stops first, so the MR_ESHUTTING_DOWN replies of the jobs
     * it fails still go out on the open socket. Calls that arrive
     * meanwhile are rejected by disc_engine_submit. */
    disc_engine_stop(worker->engine, grace_ms);
    mr_rpc_server_stop(worker->server, STOP_GRACE_MS);
    disc_engine_free(worker->engine);
    free(worker);
}
