/* reg_flights.c - single-flight discovery jobs: one job per prov/ key in
 * flight, however many calls wait for it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mr_api.h"
#include "mr_log.h"
#include "mr_util.h"
#include "reg_clients.h"
#include "reg_flights.h"
#include "reg_flights_internal.h"

#define NO_WORKER_DETAIL "Retry later: no discovery worker is connected"

typedef enum {
    JOIN_ATTACHED, /* the waiter joined a job in flight */
    JOIN_STARTED,  /* the waiter leads a new job, to be sent */
    JOIN_FOUND,    /* the mapping exists now */
    JOIN_FAILED,
} join_outcome;

/* Logs each discovery worker that connects or leaves, and warns when none
 * is left, because calls that start a job fail until one connects. */
static void
log_worker_change(void *arg, bool connected, int workers, int connection,
                  const char *address)
{
    mr_log_field fields[] = {
        MR_FINT("connection", connection),
        MR_FINT("workers", workers),
        MR_FSTR("worker_address", address),
    };
    size_t nfields = sizeof(fields) / sizeof(fields[0]);

    (void)arg;
    if (!connected) {
        nfields--; /* the address is gone once nng reports the leave */
    }
    if (connected) {
        mr_log_fields(MR_LOG_INFO, "reg.jobs.worker_connected", NULL, fields,
                      nfields,
                      "discovery worker connected from %s (connection %d); "
                      "%d connected",
                      address, connection, workers);
    } else if (workers > 0) {
        mr_log_fields(MR_LOG_INFO, "reg.jobs.worker_left", NULL, fields,
                      nfields,
                      "discovery worker disconnected (connection %d); %d "
                      "still connected",
                      connection, workers);
    } else {
        mr_log_fields(MR_LOG_WARN, "reg.jobs.no_worker", NULL, fields, nfields,
                      "the last discovery worker disconnected (connection "
                      "%d); oauth-provider calls that need discovery fail "
                      "with %s until a worker connects",
                      connection, mr_err_code(MR_EUNAVAILABLE));
    }
}

mr_err
reg_providers_open(reg_providers **out, reg_service *service,
                   const reg_providers_config *cfg)
{
    reg_providers *p = calloc(1, sizeof(*p));
    mr_err err;

    *out = NULL;
    if (p == NULL) {
        return MR_ENOMEM;
    }
    p->service = service;
    p->max_jobs = cfg->max_jobs;
    p->next_wake_ms = INT64_MIN;
    p->job_timeout_ms = cfg->job_timeout_ms;
    pthread_mutex_init(&p->lock, NULL);
    mr_cond_init_mono(&p->idle);
    mr_cond_init_mono(&p->wake);

    err = mr_rpc_client_open_watched(&p->jobs, cfg->jobs_url, true,
                                     log_worker_change, NULL);
    if (err == MR_OK && pthread_create(&p->deadline_thread, NULL,
                                       reg_flights__expire_waiters, p) != 0) {
        err = MR_ENOMEM;
    }
    if (err != MR_OK) {
        reg_providers_close(p);
        return err;
    }
    p->deadline_thread_started = true;
    MR_INFO("reg.jobs.listen", NULL,
            "listening for discovery workers on %s; at most %ld jobs, %u ms "
            "each",
            cfg->jobs_url, cfg->max_jobs, cfg->job_timeout_ms);
    service->providers = p;
    *out = p;
    return MR_OK;
}

/* key_hash returns the FNV-1a hash of key. */
static uint32_t
key_hash(const reg_key *key)
{
    uint32_t hash = 2166136261u;

    for (size_t i = 0; i < key->len; i++) {
        hash = (hash ^ (uint8_t)key->text[i]) * 16777619u;
    }
    return hash;
}

static flight *
find_flight(reg_providers *p, const reg_key *key)
{
    uint32_t hash = key_hash(key);
    flight *f = p->buckets[hash & (FLIGHT_BUCKETS - 1)];

    for (; f != NULL; f = f->bucket_next) {
        if (f->hash == hash && f->target.prov_key.len == key->len &&
            memcmp(f->target.prov_key.text, key->text, key->len) == 0) {
            return f;
        }
    }
    return NULL;
}

/* link_flight adds f to the list and the table. */
static void
link_flight(reg_providers *p, flight *f)
{
    flight **bucket = &p->buckets[f->hash & (FLIGHT_BUCKETS - 1)];

    f->next = p->flights;
    if (p->flights != NULL) {
        p->flights->prev = f;
    }
    p->flights = f;

    f->bucket_next = *bucket;
    *bucket = f;
    p->nflights++;
}

/* unlink_flight removes f from the list and the table. */
static void
unlink_flight(reg_providers *p, flight *f)
{
    flight **link = &p->buckets[f->hash & (FLIGHT_BUCKETS - 1)];

    if (f->prev != NULL) {
        f->prev->next = f->next;
    } else {
        p->flights = f->next;
    }
    if (f->next != NULL) {
        f->next->prev = f->prev;
    }

    while (*link != f) {
        link = &(*link)->bucket_next;
    }
    *link = f->bucket_next;
    p->nflights--;
}

static flight *
new_flight(reg_providers *p, waiter *leader, const reg_target *target)
{
    flight *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return NULL;
    }
    f->owner = p;
    f->target = *target;
    f->hash = key_hash(&target->prov_key);
    mr_uuid_v4(f->job_id);
    snprintf(f->request_id, sizeof(f->request_id), "%s",
             mr_rpc_request_id(leader->call));
    f->started_ms = mr_mono_ms();
    leader->leader = true;
    f->waiters = leader;
    f->nwaiters = 1;
    link_flight(p, f);
    return f;
}

/* Attaches w to the job for target, or starts one. The caller holds
 * p->lock. */
static join_outcome
attach_or_start(reg_providers *p, waiter *w, const reg_target *target,
                char provider_id[MR_UUID_LEN + 1], flight **started,
                mr_err *err)
{
    bool stale = false;
    flight *f;

    if (p->closed) {
        *err = MR_ESHUTTING_DOWN;
        return JOIN_FAILED;
    }
    f = find_flight(p, &target->prov_key);
    if (f != NULL) {
        w->next = f->waiters;
        f->waiters = w;
        f->nwaiters++;
        reg_flights__wake_for(p, w);
        return JOIN_ATTACHED;
    }

    /* A job that ended after the caller's first read has stored its
     * mapping. job_done writes before it takes this lock, so reading
     * again here keeps the same job from running twice. */
    *err = reg_providers_read_mapping(p->service->store, &target->prov_key,
                                      provider_id, &stale);
    if (*err != MR_OK) {
        return JOIN_FAILED;
    }
    if (provider_id[0] != '\0') {
        return JOIN_FOUND;
    }

    if (p->draining) {
        *err = MR_ESHUTTING_DOWN;
        return JOIN_FAILED;
    }
    if (p->nflights >= p->max_jobs) {
        *err = MR_EBUSY;
        return JOIN_FAILED;
    }
    if (mr_rpc_client_peers(p->jobs) == 0) {
        /* The RPC layer would fail the job at once; failing here saves the
         * job's two log lines on every call while no worker runs. */
        *err = MR_EUNAVAILABLE;
        return JOIN_FAILED;
    }
    *started = new_flight(p, w, target);
    if (*started != NULL) {
        (*started)->target.replacing = stale;
        reg_flights__wake_for(p, w);
    }
    *err = *started ? MR_OK : MR_ENOMEM;
    return *started ? JOIN_STARTED : JOIN_FAILED;
}

static void
log_job(mr_log_level level, const char *msg_id, const flight *f, mr_err err,
        const char *outcome)
{
    mr_log_field fields[] = {
        MR_FSTR("job_id", f->job_id),
        MR_FSTR("workspace_id", f->target.ws),
        MR_FSTR("mcp_server_id", f->target.server_id),
        MR_FSTR("user_id", f->target.user_id),
        MR_FSTR("error", mr_err_code(err)),
        MR_FINT("duration_ms", mr_mono_ms() - f->started_ms),
        MR_FINT("waiters", f->nwaiters),
    };

    mr_log_fields(level, msg_id, f->request_id, fields,
                  sizeof(fields) / sizeof(fields[0]), "discovery job %s: %s",
                  f->job_id, outcome);
}

/* Removes f from the table, finishes every waiting call and frees f. */
static void
finish_flight(flight *f, mr_err err, const char *detail, uint32_t retry,
              const char *provider_id)
{
    reg_providers *p = f->owner;
    waiter *w;

    pthread_mutex_lock(&p->lock);
    unlink_flight(p, f);
    w = f->waiters;
    f->waiters = NULL;
    if (p->nflights == 0) {
        pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);

    log_job(err == MR_OK ? MR_LOG_INFO : MR_LOG_WARN, "reg.job.done", f, err,
            detail && *detail ? detail : mr_strerror(err));

    while (w != NULL) {
        waiter *next = w->next;

        if (err == MR_OK) {
            reg_providers_reply(w->call, w->started_ms, provider_id,
                                w->leader);
        } else {
            reg_rpc_fail(w->call, w->started_ms, err, detail, retry);
        }
        free(w);
        w = next;
    }
    free(f);
}

/* Receives the worker's reply, or the RPC layer's failure, of a job. */
static void
job_done(void *arg, const mr_rpc_status *status, ProtobufCMessage *response)
{
    flight *f = arg;
    reg_providers *p = f->owner;
    char provider_id[MR_UUID_LEN + 1] = "";
    char detail[REG_DETAIL_MAX] = "";
    mr_err err = status->err;
    uint32_t retry = status->retry_after;

    if (err == MR_OK) {
        err = reg_providers_store_result(
            p->service, &f->target,
            (const Mcpreg__V1__DiscoveryResult *)response, provider_id, detail,
            sizeof(detail));
        retry = mr_err_retryable(err) ? 1 : 0;
    } else if (err == MR_EUNAVAILABLE && mr_rpc_client_peers(p->jobs) == 0) {
        snprintf(detail, sizeof(detail), "%s", NO_WORKER_DETAIL);
    } else if (err == MR_ETIMEDOUT &&
               strcmp(status->detail, mr_strerror(err)) == 0) {
        /* NOTE: the worker may still register a client after this, and the
         * next call then registers another one. The worker gets the same
         * deadline, so this needs a worker that overruns it. */
        snprintf(detail, sizeof(detail),
                 "Retry later: the discovery job did not finish within %u ms",
                 f->timeout_ms);
    } else {
        snprintf(detail, sizeof(detail), "%s", status->detail);
    }
    if (err != MR_OK && mr_err_retryable(err) && retry == 0) {
        retry = 1;
    }

    if (response != NULL) {
        protobuf_c_message_free_unpacked(response, NULL);
    }
    finish_flight(f, err, detail, retry, provider_id);
}

/* Sends the job of f, which the caller leads, to a worker. f may be freed
 * by the time this returns. */
static void
start_job(reg_providers *p, flight *f)
{
    Mcpreg__V1__DiscoveryJob job = MCPREG__V1__DISCOVERY_JOB__INIT;
    reg_job_clients clients;
    mr_err err;

    /* The job runs for --job-timeout-ms whatever its callers' deadlines:
     * each waiter fails at its own deadline (expire_waiters), and a job
     * that outlives every waiter still stores its mapping, which the next
     * call returns instead of registering another client. */
    f->timeout_ms = p->job_timeout_ms;
    job.job_id = f->job_id;
    job.mcp_server_url = f->target.url;
    job.workspace_id = f->target.ws;
    job.mcp_server_id = f->target.server_id;
    job.user_id = f->target.user_id;
    job.refresh_metadata = f->target.replacing;
    log_job(MR_LOG_INFO, "reg.job.start", f, MR_OK, "started");

    err = reg_clients_load(p->service, f->target.ws, f->target.server_id,
                           &clients);
    job.operator_clients = clients.items;
    job.n_operator_clients = clients.count;
    if (err == MR_OK) {
        err = mr_rpc_call_async(p->jobs, MR_M_DISCOVER_AND_REGISTER, &job.base,
                                &mcpreg__v1__discovery_result__descriptor,
                                f->request_id, f->timeout_ms, job_done, f);
    }
    reg_clients_free(&clients);
    if (err != MR_OK) {
        finish_flight(f, err, NULL, 1, NULL);
    }
}

void
reg_flights_join(reg_providers *p, mr_rpc_call *call, int64_t started_ms,
                 const reg_target *target)
{
    char provider_id[MR_UUID_LEN + 1] = "";
    waiter *w = calloc(1, sizeof(*w));
    flight *f = NULL;
    join_outcome outcome;
    mr_err err = MR_ENOMEM;

    if (w == NULL) {
        reg_rpc_fail(call, started_ms, err, NULL, 1);
        return;
    }
    w->call = call;
    w->started_ms = started_ms;
    w->deadline_ms = mr_rpc_deadline(call);

    pthread_mutex_lock(&p->lock);
    outcome = attach_or_start(p, w, target, provider_id, &f, &err);
    pthread_mutex_unlock(&p->lock);

    if (outcome == JOIN_STARTED) {
        start_job(p, f);
        return;
    }
    if (outcome == JOIN_FOUND) {
        reg_providers_reply(call, started_ms, provider_id, false);
    } else if (outcome == JOIN_FAILED) {
        reg_rpc_fail(call, started_ms, err,
                     err == MR_EUNAVAILABLE ? NO_WORKER_DETAIL : NULL,
                     mr_err_retryable(err) ? 1 : 0);
    }
    if (outcome != JOIN_ATTACHED) {
        free(w);
    }
}

/* Detaches the waiters of every flight. The caller holds p->lock. */
static waiter *
detach_waiters(reg_providers *p)
{
    waiter *all = NULL;

    for (flight *f = p->flights; f != NULL; f = f->next) {
        while (f->waiters != NULL) {
            waiter *w = f->waiters;

            f->waiters = w->next;
            w->next = all;
            all = w;
        }
    }
    return all;
}

void
reg_providers_drain(reg_providers *p, int grace_ms)
{
    struct timespec until = mr_mono_timespec(mr_mono_ms() + grace_ms);
    waiter *w;
    long running;

    pthread_mutex_lock(&p->lock);
    p->draining = true;
    while (p->nflights > 0) {
        if (pthread_cond_timedwait(&p->idle, &p->lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    p->closed = true;
    running = p->nflights;
    w = detach_waiters(p);
    pthread_mutex_unlock(&p->lock);

    if (running > 0) {
        MR_WARN("reg.jobs.abandoned", NULL,
                "%ld discovery jobs still running after %d ms; failing "
                "their calls with %s",
                running, grace_ms, mr_err_code(MR_ESHUTTING_DOWN));
    }
    while (w != NULL) {
        waiter *next = w->next;

        reg_rpc_fail(w->call, w->started_ms, MR_ESHUTTING_DOWN, NULL, 1);
        free(w);
        w = next;
    }
}

int
reg_providers_workers(const reg_providers *p)
{
    return mr_rpc_client_peers(p->jobs);
}

mr_rpc_client *
reg_providers_jobs(reg_providers *p)
{
    return p->jobs;
}

void
reg_providers_close(reg_providers *p)
{
    if (p == NULL) {
        return;
    }

    if (p->deadline_thread_started) {
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->deadline_thread, NULL);
    }

    /* Closing fails the jobs in flight, and their job_done frees them. */
    mr_rpc_client_close(p->jobs);
    p->jobs = NULL;
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    if (p->service != NULL && p->service->providers == p) {
        p->service->providers = NULL;
    }
    free(p);
}
