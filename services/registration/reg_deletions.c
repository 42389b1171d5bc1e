/* reg_deletions.c - sends the DeleteClient RPC for clients whose provider
 * mappings were deleted or replaced, and logs each outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_util.h"
#include "reg_deletions.h"
#include "reg_flights.h"
#include "reg_seal.h"

/* DELETE_TIMEOUT_MS bounds one deletion, queueing at the worker included.
 * Nothing waits for it, so it only limits how long a log line may take. */
#define DELETE_TIMEOUT_MS 30000

/* sent_deletion is what the log line of one deletion needs once its reply
 * arrives. */
typedef struct {
    char provider_id[MR_UUID_LEN + 1];
    char request_id[64];
} sent_deletion;

mr_err
reg_deletions_take(reg_deletions *list, const reg_key *prov_key,
                   Mcpreg__V1__ProviderRecord **rec)
{
    reg_deletion *items;

    if ((*rec)->registration_client_uri[0] == '\0' ||
        (*rec)->registration_access_token == NULL) {
        return MR_OK;
    }
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 4;

        items = realloc(list->items, capacity * sizeof(*items));
        if (items == NULL) {
            return MR_ENOMEM;
        }
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count].prov_key = *prov_key;
    list->items[list->count].rec = *rec;
    list->count++;
    *rec = NULL;
    return MR_OK;
}

static void
deletion_done(void *arg, const mr_rpc_status *status,
              ProtobufCMessage *response)
{
    sent_deletion *sent = arg;

    if (status->err == MR_OK) {
        MR_INFO("reg.client.deleted", sent->request_id,
                "deleted the client of provider %s at its authorization "
                "server",
                sent->provider_id);
    } else {
        MR_WARN("reg.client.delete_failed", sent->request_id,
                "the client of provider %s stays at its authorization "
                "server: deletion failed with %s: %s",
                sent->provider_id, mr_err_code(status->err), status->detail);
    }
    if (response != NULL) {
        protobuf_c_message_free_unpacked(response, NULL);
    }
    free(sent);
}

/* send_one unseals the access token of item and sends its DeleteClient. */
static mr_err
send_one(reg_service *service, const reg_deletion *item,
         const char *request_id)
{
    Mcpreg__V1__DeleteClientRequest req =
        MCPREG__V1__DELETE_CLIENT_REQUEST__INIT;
    char job_id[MR_UUID_LEN + 1];
    sent_deletion *sent = calloc(1, sizeof(*sent));
    char *token = NULL;
    size_t token_len = 0;
    mr_err err = sent != NULL ? MR_OK : MR_ENOMEM;

    if (err == MR_OK) {
        err = reg_seal_decrypt(
            &service->seal, item->rec->registration_access_token,
            item->prov_key.text, item->prov_key.len, &token, &token_len);
    }
    if (err == MR_OK) {
        snprintf(sent->provider_id, sizeof(sent->provider_id), "%s",
                 item->rec->oauth_provider_id);
        snprintf(sent->request_id, sizeof(sent->request_id), "%s",
                 request_id != NULL ? request_id : "");
        mr_uuid_v4(job_id);
        req.job_id = job_id;
        req.registration_client_uri = item->rec->registration_client_uri;
        req.registration_access_token = token;
        err = mr_rpc_call_async(
            reg_providers_jobs(service->providers), MR_M_DELETE_CLIENT,
            &req.base, &mcpreg__v1__delete_client_response__descriptor,
            request_id, DELETE_TIMEOUT_MS, deletion_done, sent);
    }
    reg_seal_free(token, token_len);
    if (err != MR_OK) {
        free(sent);
    }
    return err;
}

void
reg_deletions_send(reg_service *service, reg_deletions *list,
                   const char *request_id)
{
    for (size_t i = 0; i < list->count; i++) {
        mr_err err = send_one(service, &list->items[i], request_id);

        if (err != MR_OK) {
            MR_WARN("reg.client.delete_failed", request_id,
                    "the client of provider %s stays at its authorization "
                    "server: the deletion could not be sent: %s",
                    list->items[i].rec->oauth_provider_id, mr_err_code(err));
        }
    }
    reg_deletions_free(list);
}

void
reg_deletions_free(reg_deletions *list)
{
    for (size_t i = 0; i < list->count; i++) {
        mcpreg__v1__provider_record__free_unpacked(list->items[i].rec, NULL);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}
