/* reg_flights_internal.h - the state of the single-flight table, shared by
 * reg_flights.c and its deadline thread in reg_flights_deadline.c. */
#ifndef REG_FLIGHTS_INTERNAL_H
#define REG_FLIGHTS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "reg_flights.h"

/* waiter is one RegisterOAuthProvider call that waits for a job. */
typedef struct waiter {
    struct waiter *next;
    mr_rpc_call *call;
    int64_t started_ms;
    int64_t deadline_ms; /* the caller's own deadline, on mr_mono_ms */
    bool leader;         /* the call that started the job */
} waiter;

/* FLIGHT_BUCKETS is the size of the table that finds a flight by its prov/
 * key; a power of two. */
#define FLIGHT_BUCKETS 4096

/* flight is one discovery job in flight and the calls that wait for it.
 * It is on the list of all flights and in one bucket of the table. */
typedef struct flight {
    struct flight *next;
    struct flight *prev;
    struct flight *bucket_next;
    uint32_t hash;
    reg_providers *owner;
    reg_target target;
    char job_id[MR_UUID_LEN + 1];
    char request_id[MR_RPC_ID_MAX + 1]; /* of the leader, for the worker */
    int64_t started_ms;
    uint32_t timeout_ms;
    waiter *waiters;
    size_t nwaiters; /* every call that joined, for the log */
} flight;

struct reg_providers {
    reg_service *service;
    mr_rpc_client *jobs;
    long max_jobs;
    uint32_t job_timeout_ms;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t idle;  /* signalled when nflights drops to 0 */
    pthread_cond_t wake;  /* signalled for an earlier deadline, or at close */
    /* When the deadline thread sleeps, the deadline it wakes up for
     * (INT64_MAX: none); INT64_MIN while it runs, because it scans every
     * waiter before it sleeps again. A joining waiter signals wake only
     * when its deadline comes earlier. */
    int64_t next_wake_ms;
    pthread_t deadline_thread;
    bool deadline_thread_started;
    bool stopping; /* the deadline thread exits */
    flight *flights;
    flight *buckets[FLIGHT_BUCKETS];
    long nflights;
    bool draining; /* no new jobs */
    bool closed;   /* no new waiters either */
};

/* reg_flights__wake_for wakes the deadline thread when w's deadline comes
 * before the one it sleeps until. The caller holds p->lock. */
void reg_flights__wake_for(reg_providers *p, const waiter *w);

/* reg_flights__expire_waiters is the deadline thread (arg is p): it fails
 * each waiting call at its own deadline until p->stopping is set. */
void *reg_flights__expire_waiters(void *arg);

#endif
