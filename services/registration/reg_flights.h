/* reg_flights.h - single-flight discovery jobs of RegisterOAuthProvider,
 * shared between reg_providers.c and reg_flights.c. */
#ifndef REG_FLIGHTS_H
#define REG_FLIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_rpc.h"
#include "mr_util.h"
#include "reg_providers.h"
#include "reg_service.h"

/* reg_target is the (workspace, server, user) a registration is for, with
 * the server's URL and the prov/ key of the mapping. */
typedef struct {
    char ws[MR_UUID_LEN + 1];
    char server_id[MR_UUID_LEN + 1];
    char user_id[REG_TEXT_MAX + 1];
    char url[REG_URL_MAX + 1];
    reg_key prov_key;
    bool replacing; /* the mapping exists, but its client must be replaced */
} reg_target;

/*
 * reg_flights_join finishes call later with the outcome of the discovery
 * job for target: it joins the job in flight for the same prov/ key, or
 * starts one. It replies at once when the mapping appeared meanwhile, and
 * fails the call with MR_EBUSY when --max-jobs jobs are in flight. A call
 * whose own deadline passes first fails with MR_ETIMEDOUT, and the job
 * goes on for the others and for the store.
 */
void reg_flights_join(reg_providers *providers, mr_rpc_call *call,
                      int64_t started_ms, const reg_target *target);

/*
 * reg_providers_read_mapping reads the mapping at prov_key and copies its
 * oauth_provider_id into provider_id, which is left empty when there is
 * none or when its client must be replaced; *stale (NULL allowed) is set
 * in the latter case.
 */
mr_err reg_providers_read_mapping(reg_store *store, const reg_key *prov_key,
                                  char provider_id[MR_UUID_LEN + 1],
                                  bool *stale);

/*
 * reg_providers_store_result builds the provider record of a successful
 * job, with its secrets sealed, and writes it with its provid/ index in one
 * synced batch, after checking that the server still has the URL and mode
 * that the job ran for. It writes the new id, or that of a mapping stored
 * meanwhile, into provider_id. When it does not store the result, it
 * queues the RFC 7592 deletion of the job's client, if the client has a
 * registration_client_uri and a registration access token.
 */
mr_err reg_providers_store_result(reg_service *service,
                                  const reg_target *target,
                                  const Mcpreg__V1__DiscoveryResult *result,
                                  char provider_id[MR_UUID_LEN + 1],
                                  char *detail, size_t detail_len);

/* reg_providers_jobs returns the RPC client of the discovery workers,
 * owned by providers, for calls other than discovery jobs. */
mr_rpc_client *reg_providers_jobs(reg_providers *providers);

/* reg_providers_reply finishes call with provider_id. */
void reg_providers_reply(mr_rpc_call *call, int64_t started_ms,
                         const char *provider_id, bool created);

#endif
