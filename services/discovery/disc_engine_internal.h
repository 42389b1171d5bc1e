/* disc_engine_internal.h - the engine's state, shared by its files and
 * not part of its interface. */
#ifndef DISC_ENGINE_INTERNAL_H
#define DISC_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "disc_engine.h"
#include "disc_fetch.h"
#include "disc_share.h"

/* DISC_ENGINE_SHARE_MAX bounds the MCP server URLs whose metadata is
 * cached. */
#define DISC_ENGINE_SHARE_MAX 1024

typedef struct job job;

/* job is one submitted job; it is in the queue until the engine thread
 * takes it, then in the running list until it finishes. */
struct job {
    job *next;
    char *job_id;
    char *request_id;
    char *host; /* of the MCP server URL, for logs; "" when invalid */
    int64_t deadline_ms;
    int64_t started_ms;
    disc_job_done done;
    void *arg;
    disc_flow *flow;
    disc_fetch *fetch;       /* the transfer in progress, or NULL */
    bool deadline_cut_fetch; /* its timeout is the job's deadline */
    char *share_url;         /* the MCP server URL; NULL for deletions */
    bool leader;             /* discovering for the jobs parked behind it */
    bool parked;             /* waiting for another job's discovery */
    bool refresh;            /* drop the cached metadata before starting */
};

struct disc_engine {
    disc_engine_config cfg;
    disc_fetch_config fetch_cfg;
    CURLM *multi;
    pthread_t thread;
    job *running;      /* engine thread only, parked jobs included */
    disc_share *share; /* engine thread only */

    pthread_mutex_t mutex; /* guards the members below */
    job *queue;            /* submitted, newest first */
    long jobs;             /* queued or running */
    bool stopping;
    int64_t stop_deadline_ms;
};

/* disc_engine__advance feeds resp (NULL at the start) to the job's flow
 * and acts on what the flow returns. */
void disc_engine__advance(disc_engine *engine, job *j,
                          const disc_response *resp);

/* disc_engine__finish ends a job: it reports the outcome, logs it and
 * frees the job. */
void disc_engine__finish(disc_engine *engine, job *j, mr_err err,
                         const char *detail);

/* disc_engine__begin_job starts a job's flow: from cached metadata when
 * another job discovered it for the same MCP server, parked while another
 * job is discovering it, or as the one that discovers. */
void disc_engine__begin_job(disc_engine *engine, job *j);

/* disc_engine__share_progress publishes a leading job's metadata once its
 * flow has checked it and resumes the jobs parked behind it. */
void disc_engine__share_progress(disc_engine *engine, job *j);

/* disc_engine__release_parked hands a leader's failure to the jobs
 * parked behind it. */
void disc_engine__release_parked(disc_engine *engine, const job *leader,
                                 mr_err err, const char *detail);

#endif
