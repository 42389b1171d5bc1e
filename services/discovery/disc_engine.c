/* disc_engine.c - the engine thread: a queue of submitted jobs, one curl
 * multi handle for every transfer, deadlines and shutdown. The thread
 * waits in disc_engine_events.c and finds deadlines through the heap in
 * disc_engine_running.c. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "disc_engine.h"
#include "disc_fetch.h"
#include "disc_engine_internal.h"
#include "mr_log.h"
#include "mr_util.h"

static void
job_free(job *j)
{
    if (j == NULL) {
        return;
    }
    disc_fetch_free(j->fetch);
    disc_flow_free(j->flow);
    free(j->share_url);
    free(j->job_id);
    free(j->request_id);
    free(j->host);
    free(j);
}

/* add_operator_clients hands the job's operator clients to its flow. The
 * registration service validated them when they were added, so one the
 * flow rejects is logged and skipped; only MR_ENOMEM fails the job. */
static mr_err
add_operator_clients(job *j, const disc_job *spec)
{
    for (size_t i = 0; i < spec->noperator_clients; i++) {
        mr_err err =
            disc_flow_add_operator_client(j->flow, &spec->operator_clients[i]);

        if (err == MR_ENOMEM) {
            return err;
        }
        if (err != MR_OK) {
            MR_WARN("disc.job.operator_client", spec->request_id,
                    "skipped operator client %zu of job %s: %s", i,
                    spec->job_id != NULL ? spec->job_id : "",
                    mr_err_code(err));
        }
    }
    return MR_OK;
}

/* job_url returns the URL a job starts from: the client URI of a
 * deletion, else the MCP server URL. */
static const char *
job_url(const disc_job *spec)
{
    if (spec->delete_client_uri != NULL) {
        return spec->delete_client_uri;
    }
    return spec->mcp_server_url != NULL ? spec->mcp_server_url : "";
}

static mr_err
new_flow(const disc_flow_config *cfg, const disc_job *spec, const char *url,
         disc_flow **out)
{
    if (spec->delete_client_uri != NULL) {
        return disc_flow_new_delete(cfg, url, spec->delete_access_token, out);
    }
    return disc_flow_new(cfg, url, out);
}

static job *
job_new(const disc_engine *engine, const disc_job *spec)
{
    disc_flow_config cfg = {
        .allow = engine->cfg.allow,
        .redirect_uri = engine->cfg.redirect_uri,
        .client_metadata_url = engine->cfg.client_metadata_url,
    };
    const char *mcp_url = job_url(spec);
    job *j = calloc(1, sizeof(*j));
    disc_url url;
    const char *why = NULL;

    if (j == NULL) {
        return NULL;
    }
    if (new_flow(&cfg, spec, mcp_url, &j->flow) != MR_OK) {
        free(j);
        return NULL;
    }
    if (add_operator_clients(j, spec) != MR_OK) {
        disc_flow_free(j->flow);
        free(j);
        return NULL;
    }
    j->job_id = strdup(spec->job_id != NULL ? spec->job_id : "");
    j->request_id = strdup(spec->request_id != NULL ? spec->request_id : "");
    if (disc_url_parse(mcp_url, &url, &why) == MR_OK) {
        j->host = strdup(url.host);
        disc_url_free(&url);
    } else {
        j->host = strdup("");
    }
    j->deadline_ms = spec->deadline_ms;
    j->refresh = spec->refresh_metadata;
    j->done = spec->done;
    j->waiting = spec->waiting;
    j->arg = spec->arg;
    if (spec->delete_client_uri == NULL) {
        j->share_url = strdup(mcp_url);
    }

    if (j->job_id == NULL || j->request_id == NULL || j->host == NULL ||
        (spec->delete_client_uri == NULL && j->share_url == NULL)) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* log_job writes the one line per job, with its outcome; the job id makes
 * a job that the registration service sent twice recognisable. The line
 * of a job that registered a client names the client, so that an orphan
 * whose reply never reached the registration service can be found. */
static void
log_job(const job *j, mr_err err, const char *detail,
        const disc_result *result)
{
    mr_log_field fields[] = {
        MR_FSTR("job_id", j->job_id),
        MR_FSTR("host", j->host),
        MR_FSTR("error", mr_err_code(err)),
        MR_FSTR("stage", disc_flow_stage(j->flow)),
        MR_FINT("duration_ms", mr_mono_ms() - j->started_ms),
        MR_FSTR("issuer", NULL),
        MR_FSTR("client_id", NULL),
    };
    size_t n = sizeof(fields) / sizeof(fields[0]) - 2;

    if (result != NULL && result->client != NULL) {
        fields[n++] = MR_FSTR("issuer", result->issuer);
        fields[n++] = MR_FSTR("client_id", result->client->client_id);
    }

    if (err == MR_OK) {
        mr_log_fields(MR_LOG_INFO, "disc.job.done", j->request_id, fields, n,
                      "discovery job succeeded");
    } else {
        mr_log_fields(MR_LOG_WARN, "disc.job.done", j->request_id, fields, n,
                      "discovery job failed: %s", detail);
    }
}

/* finish ends a running job: it logs the outcome, reports it and frees
 * the job. */
void
disc_engine__finish(disc_engine *engine, job *j, mr_err err,
                    const char *detail)
{
    disc_result result;

    if (j->parked) {
        disc_share_forget(engine->share, j->share_url, j);
        j->parked = false;
    }
    if (j->leader) {
        j->leader = false;
        disc_engine__release_parked(engine, j, err,
                                    detail != NULL ? detail : "");
    }
    /* Metadata that a failed job used or found may be the cause, such as
     * a registration endpoint that moved, so the next job discovers
     * again. A deadline, a stop or a caller that left (MR_EUNAVAILABLE)
     * is no sign of bad metadata. */
    if (err != MR_OK && err != MR_ETIMEDOUT && err != MR_ESHUTTING_DOWN &&
        err != MR_EUNAVAILABLE && j->share_url != NULL) {
        disc_share_evict(engine->share, j->share_url);
    }
    if (j->fetch != NULL) {
        curl_multi_remove_handle(engine->multi, disc_fetch_handle(j->fetch));
    }
    if (err == MR_OK) {
        disc_flow_result(j->flow, &result);
    }

    /* Logged before the reply, so that the line of a failed job is in the
     * log by the time its caller sees the failure. */
    log_job(j, err, detail != NULL ? detail : "",
            err == MR_OK ? &result : NULL);
    j->done(j->arg, err, detail != NULL ? detail : "",
            err == MR_OK ? 0 : j->retry_after_s,
            err == MR_OK ? &result : NULL);

    disc_engine__running_remove(engine, j);
    job_free(j);
    pthread_mutex_lock(&engine->mutex);
    engine->jobs--;
    pthread_mutex_unlock(&engine->mutex);
}

static void
finish_timed_out(disc_engine *engine, job *j)
{
    char detail[160];

    snprintf(detail, sizeof(detail),
             "the job did not finish before its deadline; it was "
             "in step %s",
             disc_flow_stage(j->flow));
    disc_engine__finish(engine, j, MR_ETIMEDOUT, detail);
}

/* abandoned returns whether the job's next request would register a
 * client that its caller no longer waits for. No service would store that
 * client, so it would stay at the authorization server unused. */
static bool
abandoned(const job *j)
{
    return j->waiting != NULL && disc_flow_registers(j->flow) &&
           !j->waiting(j->arg);
}

/* start_fetch starts the transfer of the flow's next request, with a total
 * timeout that also ends before the job's deadline. */
static void
start_fetch(disc_engine *engine, job *j)
{
    const disc_request *req = disc_flow_request(j->flow);
    int64_t left = j->deadline_ms - mr_mono_ms();
    long timeout_ms = engine->cfg.fetch_timeout_ms;
    mr_err err;

    if (left <= 0) {
        finish_timed_out(engine, j);
        return;
    }
    if (abandoned(j)) {
        disc_engine__finish(engine, j, MR_EUNAVAILABLE,
                            "the caller disconnected before the client was "
                            "registered, so none was");
        return;
    }
    j->deadline_cut_fetch = left < timeout_ms;
    if (j->deadline_cut_fetch) {
        timeout_ms = (long)left;
    }

    err = disc_fetch_new(&engine->fetch_cfg, req, timeout_ms, j, &j->fetch);
    if (err == MR_EBLOCKED_ADDRESS) {
        disc_response blocked = {
            .net = DISC_NET_BLOCKED,
            .net_detail = "the URL is not https, and --dev-allow-hosts "
                          "lists neither its host nor a CIDR range with its "
                          "IP address",
        };

        disc_engine__advance(engine, j, &blocked);
        return;
    }
    if (err != MR_OK) {
        disc_engine__finish(engine, j, err,
                            "failed to prepare an HTTP request");
        return;
    }

    if (curl_multi_add_handle(engine->multi, disc_fetch_handle(j->fetch)) !=
        CURLM_OK) {
        disc_fetch_free(j->fetch);
        j->fetch = NULL;
        disc_engine__finish(engine, j, MR_EINTERNAL,
                            "failed to start an HTTP request");
    }
}

/* advance feeds resp (NULL at the start) to the job's flow and acts on
 * what the flow returns. */
void
disc_engine__advance(disc_engine *engine, job *j, const disc_response *resp)
{
    disc_flow_state state = disc_flow_step(j->flow, resp);

    disc_engine__share_progress(engine, j);
    switch (state) {
    case DISC_FLOW_FETCH:
        start_fetch(engine, j);
        break;
    case DISC_FLOW_DONE:
        disc_engine__finish(engine, j, MR_OK, NULL);
        break;
    case DISC_FLOW_FAILED:
        j->retry_after_s = disc_flow_retry_after(j->flow);
        disc_engine__finish(engine, j, disc_flow_error(j->flow),
                            disc_flow_detail(j->flow));
        break;
    }
}

/* log_failed_fetch logs a transport error or an error status at debug
 * level. The probe's 401 is the expected response and is not logged. */
static void
log_failed_fetch(const job *j, const disc_request *req,
                 const disc_response *resp)
{
    const char *method = req->method == DISC_GET ? "GET" : "POST";
    bool probe = strcmp(disc_flow_stage(j->flow), "probe") == 0;
    char url[DISC_URL_MAX / 8];
    char *redacted;

    if (resp->net == DISC_NET_OK &&
        (resp->status < 300 || (probe && resp->status == 401))) {
        return;
    }

    redacted = disc_url_redact(req->url);
    mr_sanitize(url, sizeof(url), redacted != NULL ? redacted : "");
    free(redacted);
    if (resp->net != DISC_NET_OK) {
        MR_DEBUG("disc.fetch.failed", j->request_id,
                 "job %s: %s %s failed: %s", j->job_id, method, url,
                 resp->net_detail);
    } else {
        MR_DEBUG("disc.fetch.failed", j->request_id,
                 "job %s: %s %s returned HTTP %ld", j->job_id, method, url,
                 resp->status);
    }
}

/* finish_transfer hands a finished transfer's response to its job. */
static void
finish_transfer(disc_engine *engine, CURL *easy, CURLcode result)
{
    char *owner = NULL;
    job *j;
    disc_fetch *fetch;
    disc_response resp;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &owner);
    j = (job *)owner;
    curl_multi_remove_handle(engine->multi, easy);
    fetch = j->fetch;
    j->fetch = NULL;

    disc_fetch_response(fetch, result, &resp);
    log_failed_fetch(j, disc_flow_request(j->flow), &resp);

    /* curl's timer may fire a little before the deadline on our clock, so
     * a timeout that the deadline set counts as the job's timeout. */
    if (mr_mono_ms() >= j->deadline_ms ||
        (resp.net == DISC_NET_TIMEOUT && j->deadline_cut_fetch)) {
        finish_timed_out(engine, j);
    } else {
        disc_engine__advance(engine, j, &resp);
    }
    disc_fetch_free(fetch); /* resp pointed into it until now */
}

/* start_queued moves the submitted jobs to the running heap, oldest
 * first, and starts each. */
static void
start_queued(disc_engine *engine)
{
    job *queued;
    job *oldest_first = NULL;

    pthread_mutex_lock(&engine->mutex);
    queued = engine->queue;
    engine->queue = NULL;
    pthread_mutex_unlock(&engine->mutex);

    while (queued != NULL) {
        job *next = queued->next;

        queued->next = oldest_first;
        oldest_first = queued;
        queued = next;
    }

    while (oldest_first != NULL) {
        job *j = oldest_first;

        oldest_first = j->next;
        j->next = NULL;
        j->started_ms = mr_mono_ms();
        if (disc_engine__running_add(engine, j) != MR_OK) {
            disc_engine__finish(engine, j, MR_EINTERNAL,
                                "the discovery engine has no free job slot");
            continue;
        }
        disc_engine__begin_job(engine, j);
    }
}

static void
finish_transfers(disc_engine *engine)
{
    CURLMsg *msg;
    int left = 0;

    while ((msg = curl_multi_info_read(engine->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            finish_transfer(engine, msg->easy_handle, msg->data.result);
        }
    }
}

/* expire_jobs cancels the running jobs whose deadline has passed,
 * earliest first. Finishing a leader can finish the jobs parked behind it
 * too, so the earliest job is looked up again after each one. */
static void
expire_jobs(disc_engine *engine)
{
    int64_t now = mr_mono_ms();
    job *j = disc_engine__running_first(engine);

    while (j != NULL && now >= j->deadline_ms) {
        finish_timed_out(engine, j);
        j = disc_engine__running_first(engine);
    }
}

/* next_due_ms returns when the thread must wake up at the latest: at the
 * earliest job deadline or at the end of a stop's grace period. curl's
 * timer is disc_engine__wait's to add. */
static int64_t
next_due_ms(disc_engine *engine)
{
    const job *first = disc_engine__running_first(engine);
    int64_t due = first != NULL ? first->deadline_ms : INT64_MAX;

    pthread_mutex_lock(&engine->mutex);
    if (engine->stopping && engine->stop_deadline_ms < due) {
        due = engine->stop_deadline_ms;
    }
    pthread_mutex_unlock(&engine->mutex);
    return due;
}

/* should_exit returns whether a stop was requested and either no job is
 * left or the grace period is over. */
static bool
should_exit(disc_engine *engine)
{
    bool exit_now;

    pthread_mutex_lock(&engine->mutex);
    exit_now = engine->stopping &&
               (engine->jobs == 0 || mr_mono_ms() >= engine->stop_deadline_ms);
    pthread_mutex_unlock(&engine->mutex);
    return exit_now;
}

static void
fail_remaining(disc_engine *engine)
{
    start_queued(engine);
    while (engine->nrunning > 0) {
        disc_engine__finish(engine, disc_engine__running_first(engine),
                            MR_ESHUTTING_DOWN,
                            "the discovery worker is shutting down");
    }
}

/* run is the engine thread. Each turn costs O(ready sockets + finished
 * transfers + expired jobs), whatever the number of running jobs. */
static void *
run(void *arg)
{
    disc_engine *engine = arg;

    for (;;) {
        start_queued(engine);
        disc_engine__run_curl_timer(engine);
        finish_transfers(engine);
        expire_jobs(engine);
        if (should_exit(engine)) {
            break;
        }
        disc_engine__wait(engine, next_due_ms(engine));
        finish_transfers(engine);
    }

    fail_remaining(engine);
    return NULL;
}

/* free_resources frees an engine and what open_resources opened. It skips
 * members that are still NULL or -1. */
static void
free_resources(disc_engine *engine)
{
    /* curl_multi_cleanup may still report sockets to the socket callback,
     * so the epoll instance is closed after it. */
    if (engine->multi != NULL) {
        curl_multi_cleanup(engine->multi);
    }
    disc_engine__events_close(engine);
    disc_share_free(engine->share);
    free(engine->running);
    free(engine);
}

static mr_err
open_resources(disc_engine *engine)
{
    long max_jobs = engine->cfg.max_jobs;

    engine->epoll_fd = -1;
    engine->wake_fd = -1;
    engine->multi = curl_multi_init();
    engine->share = disc_share_new(DISC_ENGINE_SHARE_MAX);
    engine->running_max = max_jobs > 0 ? (size_t)max_jobs : 1;
    engine->running = calloc(engine->running_max, sizeof(*engine->running));
    if (engine->multi == NULL || engine->share == NULL ||
        engine->running == NULL) {
        return MR_ENOMEM;
    }
    return disc_engine__events_open(engine);
}

mr_err
disc_engine_start(const disc_engine_config *cfg, disc_engine **out)
{
    disc_engine *engine = calloc(1, sizeof(*engine));
    mr_err err;

    *out = NULL;
    if (engine == NULL) {
        return MR_ENOMEM;
    }
    engine->cfg = *cfg;
    engine->fetch_cfg = (disc_fetch_config){
        .allow = cfg->allow,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .max_response_bytes = cfg->max_response_bytes,
        .user_agent = "mcpreg-discovery/" DISC_VERSION,
    };

    err = open_resources(engine);
    if (err != MR_OK) {
        goto out;
    }
    pthread_mutex_init(&engine->mutex, NULL);
    if (pthread_create(&engine->thread, NULL, run, engine) != 0) {
        pthread_mutex_destroy(&engine->mutex);
        err = MR_EINTERNAL;
        goto out;
    }

    *out = engine;
    engine = NULL;
out:
    if (engine != NULL) {
        free_resources(engine);
    }
    return err;
}

mr_err
disc_engine_submit(disc_engine *engine, const disc_job *spec)
{
    job *j = job_new(engine, spec);
    mr_err err = MR_OK;

    if (j == NULL) {
        return MR_ENOMEM;
    }

    pthread_mutex_lock(&engine->mutex);
    if (engine->stopping) {
        err = MR_ESHUTTING_DOWN;
    } else if (engine->jobs >= engine->cfg.max_jobs) {
        err = MR_EBUSY;
    } else {
        j->next = engine->queue;
        engine->queue = j;
        engine->jobs++;
    }
    pthread_mutex_unlock(&engine->mutex);

    if (err != MR_OK) {
        job_free(j);
        return err;
    }
    disc_engine__wake(engine);
    return MR_OK;
}

void
disc_engine_stop(disc_engine *engine, int grace_ms)
{
    if (engine == NULL) {
        return;
    }

    pthread_mutex_lock(&engine->mutex);
    engine->stopping = true;
    engine->stop_deadline_ms = mr_mono_ms() + grace_ms;
    pthread_mutex_unlock(&engine->mutex);
    disc_engine__wake(engine);

    pthread_join(engine->thread, NULL);
}

void
disc_engine_free(disc_engine *engine)
{
    if (engine == NULL) {
        return;
    }
    pthread_mutex_destroy(&engine->mutex);
    free_resources(engine);
}
