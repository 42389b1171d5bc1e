/* reg_deletions.h - RFC 7592 deletion, at their authorization servers, of
 * the clients whose provider mappings the store no longer holds, or never
 * held because the result of their discovery job was not stored. Each
 * deletion is a clientdel/ record until it succeeds, so that a failed or
 * interrupted one is retried, also after a restart. */
#ifndef REG_DELETIONS_H
#define REG_DELETIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpreg/v1/store.pb-c.h"
#include "mr_rpc.h"
#include "reg_service.h"
#include "reg_store.h"

/* REG_DELETION_FIRST_DELAY_MS is the delay before the first retry of a
 * failed deletion; each further retry doubles it. */
#define REG_DELETION_FIRST_DELAY_MS 1000

/* REG_DELETION_MAX_DELAY_MS caps the delay between two attempts. */
#define REG_DELETION_MAX_DELAY_MS (5 * 60 * 1000)

/* reg_deletion is one client to delete: its clientdel/ key and record,
 * and whether the record is already in the batch of the store write. */
typedef struct {
    reg_key key;
    Mcpreg__V1__PendingDeletionRecord *rec;
    bool in_batch;
} reg_deletion;

/* reg_deletions is a list of clients to delete once the store write that
 * removed their mappings has committed. Zero-initialise it. */
typedef struct {
    reg_deletion *items;
    size_t count;
    size_t capacity;
} reg_deletions;

/* reg_deletion_config is the settings of reg_deletions_start. */
typedef struct {
    mr_rpc_client *jobs; /* the discovery workers; outlives the queue */
    long max_in_flight;  /* deletions sent at once */
    int64_t max_age_ms;  /* a deletion still failing after this is dropped */
    int64_t first_delay_ms; /* REG_DELETION_FIRST_DELAY_MS in production */
    int64_t max_delay_ms;   /* REG_DELETION_MAX_DELAY_MS in production */
    uint32_t timeout_ms;    /* of one DeleteClient call */
} reg_deletion_config;

/*
 * reg_deletions_take adds the client of *rec, read from prov_key, to list
 * when it has a registration_client_uri and a registration access token,
 * and then frees the record and sets *rec to NULL. A client without them
 * cannot be deleted, and *rec stays with the caller. reg_deletions_send
 * writes the clientdel/ record in a write of its own. It returns MR_ENOMEM
 * when memory runs out. A crash between the caller's write and that one
 * loses the deletion; reg_deletions_take_batch has no such gap.
 */
mr_err reg_deletions_take(reg_deletions *list, const reg_key *prov_key,
                          Mcpreg__V1__ProviderRecord **rec);

/*
 * reg_deletions_take_batch is reg_deletions_take that also adds the put of
 * the clientdel/ record to batch, the batch that deletes or replaces the
 * mapping, so that the deletion is durable exactly when the mapping is
 * gone.
 */
mr_err reg_deletions_take_batch(reg_deletions *list, reg_batch *batch,
                                const reg_key *prov_key,
                                Mcpreg__V1__ProviderRecord **rec);

/*
 * reg_deletions_send writes the clientdel/ records of list that no batch
 * contained, hands every deletion to the queue of reg_deletions_start,
 * and empties list. It does not wait for the deletions. Call it after the
 * store write has committed and without the store lock. Without a running
 * queue, the records wait in the store for the next start. request_id may
 * be NULL.
 */
void reg_deletions_send(reg_service *service, reg_deletions *list,
                        const char *request_id);

/* reg_deletions_free frees the records of list and empties it. */
void reg_deletions_free(reg_deletions *list);

/*
 * reg_deletions_enqueue hands the deletion whose stored record is rec,
 * under key, to the queue of service->deletions, which takes rec and
 * sends it as soon as fewer than max_in_flight deletions are in flight.
 * Without a running queue it frees rec, and the record waits in the store.
 */
void reg_deletions_enqueue(reg_service *service, const reg_key *key,
                           Mcpreg__V1__PendingDeletionRecord *rec);

/*
 * reg_deletions_start sets service->deletions to a queue that sends
 * DeleteClient calls on cfg->jobs, at most cfg->max_in_flight at once,
 * from a thread of its own. It first loads every clientdel/ record of the
 * store, so that deletions left by an earlier run resume. A deletion that
 * fails is retried after a delay that doubles from cfg->first_delay_ms up
 * to cfg->max_delay_ms, with jitter, until it succeeds, fails with an
 * error that reg_deletions_permanent calls permanent, or is older than
 * cfg->max_age_ms. The store and service->seal must be ready. It returns
 * MR_EINTERNAL, logged, when the store or the thread fails, or MR_ENOMEM.
 */
mr_err reg_deletions_start(reg_service *service,
                           const reg_deletion_config *cfg);

/*
 * reg_deletions_stop stops sending deletions and joins the queue's thread;
 * deletions handed over later only wait in the store. Calls in flight go
 * on until cfg->jobs closes. NULL service->deletions is allowed.
 */
void reg_deletions_stop(reg_service *service);

/*
 * reg_deletions_close deletes the clientdel/ records of the deletions that
 * succeeded, or failed for good (reg_deletions_permanent), since
 * reg_deletions_stop, frees the queue and sets
 * service->deletions to NULL. Call it after cfg->jobs has closed, which
 * ends the calls in flight, and before the store closes.
 */
void reg_deletions_close(reg_service *service);

/*
 * reg_deletions_pending returns how many deletions the queue contains,
 * waiting or in flight; 0 without a queue.
 */
size_t reg_deletions_pending(reg_service *service);

/*
 * reg_deletions_backoff returns the delay in milliseconds before the next
 * attempt of a deletion that failed attempts times (1 or more). The delay
 * is cfg->first_delay_ms doubled attempts - 1 times and capped at
 * cfg->max_delay_ms. random, a uniform random number, then places it in
 * the upper half of that range.
 */
int64_t reg_deletions_backoff(const reg_deletion_config *cfg, int attempts,
                              uint32_t random);

/*
 * reg_deletions_finished returns whether a DeleteClient outcome ends the
 * deletion: MR_OK, which the worker returns for 2xx, 404 and 410, or the
 * worker's MR_EREGISTRATION_REJECTED for HTTP 401, which RFC 7592 section
 * 2.3 prescribes for a client that the server no longer has.
 */
bool reg_deletions_finished(mr_err err, const char *detail);

/*
 * reg_deletions_permanent returns whether a DeleteClient outcome that did
 * not finish the deletion can never succeed, so that the deletion is
 * dropped instead of retried: the errors that mr_err_retryable calls
 * permanent, such as an invalid or blocked registration_client_uri. Three
 * of them are retried all the same. MR_EREGISTRATION_REJECTED is an HTTP
 * 4xx response of the authorization server, which may be 429 or a
 * rejection that the server lifts later. MR_EINTERNAL also stands for memory
 * that ran out. MR_EUNIMPLEMENTED is a worker older than DeleteClient, which
 * an upgrade replaces.
 */
bool reg_deletions_permanent(mr_err err);

#endif
