/* reg_deletions.c - the clientdel/ records of clients whose provider
 * mappings were deleted or replaced, or whose job results were not stored,
 * and their hand-over to the queue of reg_deletions_retry.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mr_log.h"
#include "mr_util.h"
#include "reg_deletions.h"

/* CLIENT_GONE_SUFFIX ends the worker's detail for a DELETE that returned
 * HTTP 401 (disc_flow_finish_delete: "... returned HTTP %ld"). */
#define CLIENT_GONE_SUFFIX " returned HTTP 401"

/* grow makes room for one more item in list. */
static mr_err
grow(reg_deletions *list)
{
    size_t capacity = list->capacity ? 2 * list->capacity : 4;
    reg_deletion *items;

    if (list->count < list->capacity) {
        return MR_OK;
    }
    items = realloc(list->items, capacity * sizeof(*items));
    if (items == NULL) {
        return MR_ENOMEM;
    }
    list->items = items;
    list->capacity = capacity;
    return MR_OK;
}

/* new_record returns the pending deletion of prov, whose token was sealed
 * with prov_key, with a new deletion id; NULL when memory runs out. The
 * caller frees it with protobuf_c_message_free_unpacked. */
static Mcpreg__V1__PendingDeletionRecord *
new_record(const Mcpreg__V1__ProviderRecord *prov, const reg_key *prov_key)
{
    Mcpreg__V1__PendingDeletionRecord rec =
        MCPREG__V1__PENDING_DELETION_RECORD__INIT;
    char deletion_id[MR_UUID_LEN + 1];

    mr_uuid_v4(deletion_id);
    rec.deletion_id = deletion_id;
    rec.workspace_id = prov->workspace_id;
    rec.mcp_server_id = prov->mcp_server_id;
    rec.oauth_provider_id = prov->oauth_provider_id;
    rec.client_id = prov->client_id;
    rec.registration_client_uri = prov->registration_client_uri;
    rec.registration_access_token = prov->registration_access_token;
    rec.sealed_with_key = (char *)prov_key->text;
    rec.created_at_ms = mr_now_ms();
    return (Mcpreg__V1__PendingDeletionRecord *)reg_msg_copy(&rec.base);
}

/* add_item appends the pending deletion of *rec to list and frees *rec. */
static mr_err
add_item(reg_deletions *list, const reg_key *prov_key,
         Mcpreg__V1__ProviderRecord **rec, reg_deletion **added)
{
    reg_deletion *item;
    mr_err err = grow(list);

    *added = NULL;
    if (err != MR_OK) {
        return err;
    }
    item = &list->items[list->count];
    item->in_batch = false;
    item->rec = new_record(*rec, prov_key);
    if (item->rec == NULL) {
        return MR_ENOMEM;
    }
    err = reg_key_build(&item->key, REG_T_CLIENTDEL, item->rec->workspace_id,
                        item->rec->deletion_id, NULL);
    if (err != MR_OK) {
        protobuf_c_message_free_unpacked(&item->rec->base, NULL);
        return err;
    }

    list->count++;
    mcpreg__v1__provider_record__free_unpacked(*rec, NULL);
    *rec = NULL;
    *added = item;
    return MR_OK;
}

static bool
deletable(const Mcpreg__V1__ProviderRecord *rec)
{
    return rec->registration_client_uri[0] != '\0' &&
           rec->registration_access_token != NULL;
}

mr_err
reg_deletions_take(reg_deletions *list, const reg_key *prov_key,
                   Mcpreg__V1__ProviderRecord **rec)
{
    reg_deletion *added;

    if (!deletable(*rec)) {
        return MR_OK;
    }
    return add_item(list, prov_key, rec, &added);
}

mr_err
reg_deletions_take_batch(reg_deletions *list, reg_batch *batch,
                         const reg_key *prov_key,
                         Mcpreg__V1__ProviderRecord **rec)
{
    reg_deletion *added = NULL;
    mr_err err;

    if (!deletable(*rec)) {
        return MR_OK;
    }
    err = add_item(list, prov_key, rec, &added);
    if (err == MR_OK) {
        err = reg_batch_put_msg(batch, &added->key, &added->rec->base);
    }
    if (added != NULL) {
        added->in_batch = err == MR_OK;
    }
    return err;
}

/* store_records writes the records of list that no batch contained. A
 * failure is logged: the deletions are still sent, but not retried after a
 * restart. */
static void
store_records(reg_service *service, const reg_deletions *list,
              const char *request_id)
{
    reg_batch *batch = reg_batch_new();
    size_t added = 0;
    mr_err err = batch != NULL ? MR_OK : MR_ENOMEM;

    for (size_t i = 0; i < list->count && err == MR_OK; i++) {
        if (!list->items[i].in_batch) {
            err = reg_batch_put_msg(batch, &list->items[i].key,
                                    &list->items[i].rec->base);
            added++;
        }
    }
    if (err == MR_OK && added > 0) {
        err = reg_store_write(service->store, batch);
    }
    if (err != MR_OK) {
        MR_ERROR("reg.client.delete_unrecorded", request_id,
                 "%zu client deletions were not recorded (%s); they are "
                 "attempted now but not after a restart",
                 added, mr_err_code(err));
    }
    reg_batch_free(batch);
}

void
reg_deletions_send(reg_service *service, reg_deletions *list,
                   const char *request_id)
{
    if (list->count == 0) {
        return;
    }
    store_records(service, list, request_id);
    for (size_t i = 0; i < list->count; i++) {
        reg_deletions_enqueue(service, &list->items[i].key,
                              list->items[i].rec);
        list->items[i].rec = NULL;
    }
    reg_deletions_free(list);
}

void
reg_deletions_free(reg_deletions *list)
{
    for (size_t i = 0; i < list->count; i++) {
        if (list->items[i].rec != NULL) {
            protobuf_c_message_free_unpacked(&list->items[i].rec->base, NULL);
        }
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

bool
reg_deletions_finished(mr_err err, const char *detail)
{
    size_t len = detail != NULL ? strlen(detail) : 0;
    size_t suffix_len = strlen(CLIENT_GONE_SUFFIX);

    if (err == MR_OK) {
        return true;
    }
    return err == MR_EREGISTRATION_REJECTED && len >= suffix_len &&
           strcmp(detail + len - suffix_len, CLIENT_GONE_SUFFIX) == 0;
}

bool
reg_deletions_permanent(mr_err err)
{
    if (err == MR_OK || mr_err_retryable(err)) {
        return false;
    }
    return err != MR_EREGISTRATION_REJECTED && err != MR_EINTERNAL &&
           err != MR_ENOMEM && err != MR_EUNIMPLEMENTED;
}

int64_t
reg_deletions_backoff(const reg_deletion_config *cfg, int attempts,
                      uint32_t random)
{
    int64_t delay = cfg->first_delay_ms;
    int64_t half;

    for (int i = 1; i < attempts && delay < cfg->max_delay_ms; i++) {
        delay *= 2;
    }
    if (delay > cfg->max_delay_ms) {
        delay = cfg->max_delay_ms;
    }
    half = delay / 2;
    return delay - half + (half > 0 ? (int64_t)(random % (half + 1)) : 0);
}
