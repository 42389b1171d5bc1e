/* disc_worker.h - the RPC side of the discovery worker: it dials the
 * registration service, receives DiscoveryJob calls and replies to each
 * with a DiscoveryResult or an error. */
#ifndef DISC_WORKER_H
#define DISC_WORKER_H

#include "disc_engine.h"
#include "mr_err.h"

/* disc_worker_config contains the settings of a worker; the pointers must
 * outlive it. */
typedef struct {
    const char *jobs_url; /* nng URL that the worker dials */
    disc_engine_config engine;
} disc_worker_config;

typedef struct disc_worker disc_worker;

/*
 * disc_worker_start starts the engine and an RPC server that dials
 * cfg->jobs_url and serves MR_M_DISCOVER_AND_REGISTER. It returns
 * MR_EUNAVAILABLE when the URL cannot be used, MR_ENOMEM or MR_EINTERNAL,
 * with the reason logged. Stop the worker with disc_worker_stop.
 */
mr_err disc_worker_start(const disc_worker_config *cfg, disc_worker **out);

/*
 * disc_worker_stop gives running jobs up to grace_ms to finish, fails the
 * rest with MR_ESHUTTING_DOWN, stops the RPC server and frees the worker.
 * Jobs that arrive meanwhile are failed with MR_ESHUTTING_DOWN. NULL is
 * allowed.
 */
void disc_worker_stop(disc_worker *worker, int grace_ms);

#endif
