/* reg_providers.h - RegisterOAuthProvider: per-user OAuth provider mappings
 * and the single-flight discovery jobs that create them. */
#ifndef REG_PROVIDERS_H
#define REG_PROVIDERS_H

#include <stdint.h>

#include "mr_rpc.h"
#include "reg_service.h"

/* reg_providers_config is the settings of reg_providers_open. */
typedef struct {
    const char *jobs_url;    /* nng URL the discovery workers dial */
    long max_jobs;           /* discovery jobs in flight at once */
    uint32_t job_timeout_ms; /* upper bound of one job */
} reg_providers_config;

/*
 * reg_providers_open listens for discovery workers on cfg->jobs_url and
 * sets service->providers. It returns MR_EUNAVAILABLE, logged, when the URL
 * cannot be used, or MR_ENOMEM.
 */
mr_err reg_providers_open(reg_providers **out, reg_service *service,
                          const reg_providers_config *cfg);

/*
 * reg_providers_drain stops starting discovery jobs, waits up to grace_ms
 * for the jobs in flight, then fails the calls still waiting with
 * MR_ESHUTTING_DOWN. Calls that find an existing mapping keep working. Call
 * it while the RPC server still runs, so that the failures are delivered.
 */
void reg_providers_drain(reg_providers *providers, int grace_ms);

/*
 * reg_providers_close closes the jobs socket, which ends the jobs still in
 * flight, and frees providers. Call it after the RPC server has stopped and
 * before the store closes, because a job that ends may still be stored.
 * NULL is allowed.
 */
void reg_providers_close(reg_providers *providers);

/* reg_providers_workers returns how many discovery workers are connected
 * now. */
int reg_providers_workers(const reg_providers *providers);

/*
 * reg_providers_handle_register handles RegisterOAuthProvider; arg is the
 * reg_service. A call that needs a discovery job finishes later, from the
 * job's reply, so no nng thread waits for the job.
 */
void reg_providers_handle_register(mr_rpc_call *call, void *arg);

/*
 * reg_providers_handle_get handles GetOAuthProvider; arg is the
 * reg_service. The reply contains no secret, and has_client_secret tells
 * whether the client has one.
 */
void reg_providers_handle_get(mr_rpc_call *call, void *arg);

/*
 * reg_providers_handle_report handles ReportInvalidClient; arg is the
 * reg_service. It marks the mapping when the reported client_id is still
 * its client, so that the next RegisterOAuthProvider call registers a new
 * client under the same oauth_provider_id.
 */
void reg_providers_handle_report(mr_rpc_call *call, void *arg);

#endif
