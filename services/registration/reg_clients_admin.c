/* reg_clients_admin.c - ListOperatorClients, RemoveOperatorClient, and the
 * deletion of operator clients with their MCP server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpreg/v1/registration.pb-c.h"
#include "mcpreg/v1/store.pb-c.h"
#include "mr_log.h"
#include "mr_util.h"
#include "reg_clients.h"
#include "reg_servers.h"

/* client_list collects the clients of ListOperatorClients; records owns
 * what the items point to. */
typedef struct {
    Mcpreg__V1__OperatorClientRecord **records;
    Mcpreg__V1__StoredOperatorClient *items;
    Mcpreg__V1__StoredOperatorClient **clients;
    size_t n;
    size_t capacity;
} client_list;

static void
client_list_free(client_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        mcpreg__v1__operator_client_record__free_unpacked(list->records[i],
                                                          NULL);
    }
    free(list->records);
    free(list->items);
    free(list->clients);
    memset(list, 0, sizeof(*list));
}

static mr_err
client_list_grow(client_list *list)
{
    size_t capacity = list->capacity ? 2 * list->capacity : 8;
    void *records = realloc(list->records, capacity * sizeof(*list->records));

    if (records == NULL) {
        return MR_ENOMEM;
    }
    list->records = records;
    list->capacity = capacity;
    return MR_OK;
}

static mr_err
add_listed_client(void *arg, const char *key, size_t keylen, const char *value,
                  size_t len)
{
    client_list *list = arg;
    Mcpreg__V1__OperatorClientRecord *rec;

    if (list->n == list->capacity && client_list_grow(list) != MR_OK) {
        return MR_ENOMEM;
    }
    rec = mcpreg__v1__operator_client_record__unpack(NULL, len,
                                                     (const uint8_t *)value);
    if (rec == NULL) {
        MR_ERROR("reg.client.corrupt", NULL,
                 "operator client record %.*s does not decode", (int)keylen,
                 key);
        return MR_EINTERNAL;
    }
    list->records[list->n++] = rec;
    return MR_OK;
}

/* describe_clients fills the response items of list from its records,
 * with only whether each has a secret. */
static mr_err
describe_clients(client_list *list)
{
    if (list->n == 0) {
        return MR_OK;
    }
    list->items = calloc(list->n, sizeof(*list->items));
    list->clients = calloc(list->n, sizeof(*list->clients));
    if (list->items == NULL || list->clients == NULL) {
        return MR_ENOMEM;
    }
    for (size_t i = 0; i < list->n; i++) {
        const Mcpreg__V1__OperatorClientRecord *rec = list->records[i];
        Mcpreg__V1__StoredOperatorClient *item = &list->items[i];

        mcpreg__v1__stored_operator_client__init(item);
        item->workspace_id = rec->workspace_id;
        item->mcp_server_id = rec->mcp_server_id;
        item->issuer = rec->issuer;
        item->client_id = rec->client_id;
        item->token_endpoint_auth_method = rec->token_endpoint_auth_method;
        item->client_secret_set = rec->client_secret != NULL;
        item->created_at_ms = rec->created_at_ms;
        list->clients[i] = item;
    }
    return MR_OK;
}

/* list_clients reads the clients of ws, or of server id of ws when id is
 * not empty, into list. */
static mr_err
list_clients(reg_store *store, const char *ws, const char *id,
             client_list *list)
{
    Mcpreg__V1__McpServerRecord *server = NULL;
    reg_key prefix;
    mr_err err = MR_OK;

    if (id[0] != '\0') {
        err = reg_servers_read(store, ws, id, &server);
    }
    if (err == MR_OK && id[0] != '\0' && server == NULL) {
        err = MR_ESERVER_NOT_FOUND;
    }
    if (server != NULL) {
        mcpreg__v1__mcp_server_record__free_unpacked(server, NULL);
    }

    if (err == MR_OK) {
        err = id[0] != '\0'
                  ? reg_key_build(&prefix, REG_T_OPCLIENT, ws, id, "", NULL)
                  : reg_key_build(&prefix, REG_T_OPCLIENT, ws, "", NULL);
    }
    if (err == MR_OK) {
        err = reg_store_scan(store, &prefix, add_listed_client, list);
    }
    if (err == MR_OK) {
        err = describe_clients(list);
    }
    return err;
}

/* check_ids writes the canonical workspace id into ws and, when id_text
 * is not empty or required, the canonical server id into id. */
static mr_err
check_ids(const char *ws_text, const char *id_text, bool id_required,
          char ws[MR_UUID_LEN + 1], char id[MR_UUID_LEN + 1], char *detail,
          size_t detail_len)
{
    id[0] = '\0';
    if (!mr_uuid_canonical(ws_text, ws)) {
        snprintf(detail, detail_len,
                 "Use the workspace id printed by 'mcpreg key create': "
                 "the workspace id is not a UUID in 8-4-4-4-12 hex form");
        return MR_EINVALID_FIELD;
    }
    if ((id_required || id_text[0] != '\0') &&
        !mr_uuid_canonical(id_text, id)) {
        return MR_EINVALID_ID;
    }
    return MR_OK;
}

void
reg_clients_handle_list(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__ListOperatorClientsRequest *req =
        (const Mcpreg__V1__ListOperatorClientsRequest *)mr_rpc_request(call);
    Mcpreg__V1__ListOperatorClientsResponse resp =
        MCPREG__V1__LIST_OPERATOR_CLIENTS_RESPONSE__INIT;
    int64_t started = mr_mono_ms();
    char detail[REG_DETAIL_MAX] = "";
    char ws[MR_UUID_LEN + 1];
    char id[MR_UUID_LEN + 1];
    client_list list = {0};
    mr_err err;

    err = check_ids(req->workspace_id, req->mcp_server_id, false, ws, id,
                    detail, sizeof(detail));
    if (err == MR_OK) {
        err = list_clients(service->store, ws, id, &list);
    }
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        client_list_free(&list);
        return;
    }

    resp.n_clients = list.n;
    resp.clients = list.clients;
    reg_rpc_ok(call, started, &resp.base);
    client_list_free(&list);
}

/* remove_keys deletes key and, when set, slash_key in one batch, and sets
 * *removed when either existed. The caller holds the store lock. */
static mr_err
remove_keys(reg_store *store, const reg_key *key, const reg_key *slash_key,
            bool *removed)
{
    const reg_key *keys[] = {key, slash_key};
    reg_batch *batch = reg_batch_new();
    mr_err err = batch != NULL ? MR_OK : MR_ENOMEM;

    *removed = false;
    for (size_t i = 0; i < 2 && err == MR_OK && keys[i]->len > 0; i++) {
        char *value = NULL;
        size_t len = 0;

        err = reg_store_get(store, keys[i], &value, &len);
        if (value != NULL) {
            *removed = true;
            reg_batch_delete(batch, keys[i]);
        }
        reg_store_free(value);
    }
    if (err == MR_OK && *removed) {
        err = reg_store_write(store, batch);
    }
    reg_batch_free(batch);
    return err;
}

/* issuer_keys builds the keys to remove for issuer, which may be a legacy
 * record's issuer that the current checks would reject, so it is only trimmed
 * of a trailing '/' on an empty path. */
static mr_err
issuer_keys(const char *ws, const char *id, const char *issuer, reg_key *key,
            reg_key *slash_key, char *detail, size_t detail_len)
{
    char trimmed[REG_KEY_MAX];
    size_t len = strlen(issuer);
    const char *authority = strstr(issuer, "://");

    if (issuer[0] == '\0') {
        snprintf(detail, detail_len, "Set the issuer: it is missing");
        return MR_EMISSING_FIELD;
    }
    if (len >= sizeof(trimmed)) {
        snprintf(detail, detail_len,
                 "Correct the issuer: no stored issuer is that long");
        return MR_EINVALID_FIELD;
    }
    memcpy(trimmed, issuer, len + 1);
    if (authority != NULL && issuer[len - 1] == '/' &&
        strchr(authority + 3, '/') == issuer + len - 1) {
        trimmed[len - 1] = '\0';
    }
    if (reg_clients_issuer_keys(ws, id, trimmed, key, slash_key) != MR_OK) {
        snprintf(detail, detail_len,
                 "Correct the issuer: no stored issuer is that long");
        return MR_EINVALID_FIELD;
    }
    return MR_OK;
}

void
reg_clients_handle_remove(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__RemoveOperatorClientRequest *req =
        (const Mcpreg__V1__RemoveOperatorClientRequest *)mr_rpc_request(call);
    Mcpreg__V1__RemoveOperatorClientResponse resp =
        MCPREG__V1__REMOVE_OPERATOR_CLIENT_RESPONSE__INIT;
    int64_t started = mr_mono_ms();
    char detail[REG_DETAIL_MAX] = "";
    char ws[MR_UUID_LEN + 1];
    char id[MR_UUID_LEN + 1];
    reg_key key, slash_key;
    bool removed = false;
    mr_err err;

    err = check_ids(req->workspace_id, req->mcp_server_id, true, ws, id,
                    detail, sizeof(detail));
    if (err == MR_OK) {
        err = issuer_keys(ws, id, req->issuer, &key, &slash_key, detail,
                          sizeof(detail));
    }
    if (err == MR_OK) {
        reg_store_lock(service->store);
        err = remove_keys(service->store, &key, &slash_key, &removed);
        reg_store_unlock(service->store);
    }
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }

    if (removed) {
        MR_INFO("reg.client.removed", mr_rpc_request_id(call),
                "removed operator client %s", key.text);
    }
    resp.removed = removed;
    reg_rpc_ok(call, started, &resp.base);
}

static mr_err
add_client_delete(void *arg, const char *key, size_t keylen, const char *value,
                  size_t len)
{
    reg_batch *batch = arg;
    reg_key k;

    (void)value;
    (void)len;
    if (reg_key_set(&k, key, keylen) != MR_OK) {
        return MR_EINTERNAL;
    }
    reg_batch_delete(batch, &k);
    return MR_OK;
}

mr_err
reg_clients_add_deletes(reg_store *store, reg_batch *batch, const char *ws,
                        const char *server_id)
{
    reg_key prefix;
    mr_err err =
        reg_key_build(&prefix, REG_T_OPCLIENT, ws, server_id, "", NULL);

    if (err == MR_OK) {
        err = reg_store_scan(store, &prefix, add_client_delete, batch);
    }
    return err;
}
