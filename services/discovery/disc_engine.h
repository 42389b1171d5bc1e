/* disc_engine.h - runs discovery jobs on one thread with curl's multi
 * interface: jobs come in from any thread and finish on the engine
 * thread. */
#ifndef DISC_ENGINE_H
#define DISC_ENGINE_H

#include <stdint.h>

#include "disc_flow.h"
#include "disc_url.h"
#include "mr_err.h"

/* disc_engine_config contains the settings of an engine; the pointers
 * must outlive it. */
typedef struct {
    const mr_allow_list *allow;
    const char *redirect_uri; /* the public base URL + MR_CALLBACK_PATH */
    const char *client_metadata_url; /* see disc_flow_config; may be NULL */
    long max_jobs;                   /* jobs queued or running at once */
    long connect_timeout_ms;         /* per fetch */
    long fetch_timeout_ms;           /* per fetch, redirects included */
    long max_response_bytes;         /* per response body */
    /* The maximum time that discovered metadata is reused, whatever its
     * responses allow. 0 turns reuse off. */
    int64_t metadata_cache_max_ms;
} disc_engine_config;

/*
 * disc_job_done receives the outcome of a job on the engine thread: on
 * success err is MR_OK and result is set, otherwise result is NULL and
 * detail (never NULL) describes what failed, without secrets.
 * retry_after_s is the Retry-After of the remote server whose response
 * failed the job, 0 when none. result and detail are valid during the
 * call only. It must not block for long, because every job of the engine
 * waits for it.
 */
typedef void (*disc_job_done)(void *arg, mr_err err, const char *detail,
                              uint32_t retry_after_s,
                              const disc_result *result);

/*
 * disc_job_waiting returns whether the job's caller still waits for its
 * outcome. The engine calls it on its thread before each request that
 * registers a client, so that a job whose caller left registers none.
 */
typedef bool (*disc_job_waiting)(void *arg);

/* disc_job is what disc_engine_submit needs to run one job. The strings
 * are copied. */
typedef struct {
    const char *job_id;
    const char *mcp_server_url;
    const char *request_id; /* for logs; may be NULL */
    int64_t deadline_ms;    /* on mr_mono_ms's clock */
    const disc_operator_client *operator_clients;
    size_t noperator_clients;
    bool refresh_metadata; /* discover anew, ignoring cached metadata */
    /* Set both to run an RFC 7592 client deletion instead of a discovery;
     * see disc_flow_new_delete. mcp_server_url is then ignored. */
    const char *delete_client_uri;
    const char *delete_access_token;
    disc_job_done done;
    disc_job_waiting waiting; /* NULL: the caller always waits */
    void *arg;                /* for done and waiting */
} disc_job;

typedef struct disc_engine disc_engine;

/*
 * disc_engine_start creates the curl multi handle, the epoll instance and
 * eventfd that the engine thread waits on, and the thread.
 * curl_global_init must have run. It returns MR_ENOMEM or MR_EINTERNAL
 * when a resource cannot be had. Stop the engine with disc_engine_stop,
 * then free it with disc_engine_free.
 */
mr_err disc_engine_start(const disc_engine_config *cfg, disc_engine **out);

/*
 * disc_engine_submit queues job for the engine thread and wakes it; the
 * engine then calls job->done exactly once. It may be called from any
 * thread. It returns MR_EBUSY when max_jobs jobs are queued or running,
 * MR_ESHUTTING_DOWN once disc_engine_stop has begun, or MR_ENOMEM; done
 * is not called then.
 */
mr_err disc_engine_submit(disc_engine *engine, const disc_job *job);

/*
 * disc_engine_stop rejects new jobs, lets queued and running ones finish
 * for up to grace_ms, fails the rest with MR_ESHUTTING_DOWN, and joins
 * the thread. disc_engine_submit keeps returning MR_ESHUTTING_DOWN until
 * disc_engine_free. Call it once; NULL is allowed.
 */
void disc_engine_stop(disc_engine *engine, int grace_ms);

/* disc_engine_free frees an engine after disc_engine_stop; NULL is
 * allowed. */
void disc_engine_free(disc_engine *engine);

#endif
