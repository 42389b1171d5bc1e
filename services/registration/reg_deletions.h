/* reg_deletions.h - RFC 7592 deletion, at their authorization servers, of
 * the clients whose provider mappings the store no longer holds. */
#ifndef REG_DELETIONS_H
#define REG_DELETIONS_H

#include <stddef.h>

#include "mcpreg/v1/store.pb-c.h"
#include "reg_service.h"
#include "reg_store.h"

/* reg_deletion is one client to delete: its provider record and the prov/
 * key that sealed its registration access token. */
typedef struct {
    reg_key prov_key;
    Mcpreg__V1__ProviderRecord *rec;
} reg_deletion;

/* reg_deletions is a list of clients to delete once the store write that
 * removed their mappings has committed. Zero-initialise it. */
typedef struct {
    reg_deletion *items;
    size_t count;
    size_t capacity;
} reg_deletions;

/*
 * reg_deletions_take adds the client of *rec, read from prov_key, to list
 * when it has a registration_client_uri and a registration access token,
 * and then takes the record, setting *rec to NULL. A client without them
 * cannot be deleted, and *rec stays with the caller. It returns MR_ENOMEM
 * when memory runs out.
 */
mr_err reg_deletions_take(reg_deletions *list, const reg_key *prov_key,
                          Mcpreg__V1__ProviderRecord **rec);

/*
 * reg_deletions_send sends the DeleteClient RPC to a discovery worker for
 * each client of list and empties list. It does not wait: each outcome
 * is logged when it arrives, and a failure leaves the client at the
 * authorization server. Call it after the store write has committed and
 * without the store lock. request_id may be NULL.
 */
void reg_deletions_send(reg_service *service, reg_deletions *list,
                        const char *request_id);

/* reg_deletions_free frees the records of list and empties it. */
void reg_deletions_free(reg_deletions *list);

#endif
