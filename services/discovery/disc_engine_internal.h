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
 * takes it, then in the running heap until it finishes. */
struct job {
    job *next;         /* in the queue */
    size_t heap_index; /* in the running heap */
    char *job_id;
    char *request_id;
    char *host; /* of the MCP server URL, for logs; "" when invalid */
    int64_t deadline_ms;
    int64_t started_ms;
    disc_job_done done;
    disc_job_waiting waiting;
    void *arg;
    disc_flow *flow;
    disc_fetch *fetch;       /* the transfer in progress, or NULL */
    bool deadline_cut_fetch; /* its timeout is the job's deadline */
    char *share_url;         /* the MCP server URL; NULL for deletions */
    bool leader;             /* discovering for the jobs parked behind it */
    bool parked;             /* waiting for another job's discovery */
    bool refresh;            /* drop the cached metadata before starting */
    uint32_t retry_after_s;  /* of the remote response that failed it */
};

struct disc_engine {
    disc_engine_config cfg;
    disc_fetch_config fetch_cfg;
    CURLM *multi;
    pthread_t thread;
    disc_share *share; /* engine thread only */

    /* The running jobs, parked ones included: a binary min-heap by
     * deadline_ms, with max_jobs slots. Engine thread only. */
    job **running;
    size_t nrunning;
    size_t running_max;

    /* See disc_engine_events.c. epoll_fd and curl_due_ms are for the
     * engine thread only, but any thread may write to wake_fd. */
    int epoll_fd;        /* curl's sockets and wake_fd */
    int wake_fd;         /* an eventfd */
    int64_t curl_due_ms; /* when curl's timer expires; -1 when unset */

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

/* disc_engine__running_add puts a job in the running heap. It returns
 * MR_EINTERNAL when all max_jobs slots are taken, which the max_jobs check
 * of disc_engine_submit rules out. */
mr_err disc_engine__running_add(disc_engine *engine, job *j);

/* disc_engine__running_remove takes a job out of the running heap. It
 * ignores a job that is not in the heap. */
void disc_engine__running_remove(disc_engine *engine, job *j);

/* disc_engine__running_first returns the running job with the earliest
 * deadline, or NULL when no job runs. */
job *disc_engine__running_first(const disc_engine *engine);

/* disc_engine__events_open creates the epoll instance and the eventfd
 * and sets curl's socket and timer callbacks. It returns MR_EINTERNAL
 * when a descriptor cannot be had, and disc_engine__events_close then
 * closes those that were opened. */
mr_err disc_engine__events_open(disc_engine *engine);

/* disc_engine__events_close closes the epoll instance and the eventfd.
 * Call it after curl_multi_cleanup, which may still remove sockets. */
void disc_engine__events_close(disc_engine *engine);

/* disc_engine__wake makes the engine thread return from its wait. Any
 * thread may call it. */
void disc_engine__wake(disc_engine *engine);

/* disc_engine__run_curl_timer runs curl_multi_socket_action for curl's
 * timeout once it has expired; otherwise it does nothing. */
void disc_engine__run_curl_timer(disc_engine *engine);

/* disc_engine__wait waits until one of curl's sockets is ready, the
 * thread is woken, curl's timer expires or until_ms (on mr_mono_ms's
 * clock) passes, and runs curl_multi_socket_action for each ready
 * socket. Finished transfers are left for curl_multi_info_read. */
void disc_engine__wait(disc_engine *engine, int64_t until_ms);

#endif
