/* reg_servers.c - the MCP server records of a workspace and their RPCs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mr_log.h"
#include "reg_clients.h"
#include "reg_deletions.h"
#include "reg_keys.h"
#include "reg_servers.h"
#include "reg_url.h"

mr_err
reg_servers_resolve_workspace(reg_store *store, reg_keycache *keys,
                              const Mcpreg__V1__Caller *caller,
                              char ws[MR_UUID_LEN + 1])
{
    reg_caller resolved;
    mr_err err = reg_keys_resolve(store, keys, caller, &resolved);

    if (err != MR_OK) {
        return err;
    }
    memcpy(ws, resolved.workspace_id, MR_UUID_LEN + 1);
    return MR_OK;
}

mr_err
reg_servers_read(reg_store *store, const char *ws, const char *id,
                 Mcpreg__V1__McpServerRecord **rec)
{
    reg_key key;
    mr_err err;

    *rec = NULL;
    err = reg_key_build(&key, REG_T_SRV, ws, id, NULL);
    if (err == MR_OK) {
        err = reg_store_get_msg(store, &key,
                                &mcpreg__v1__mcp_server_record__descriptor,
                                (ProtobufCMessage **)rec);
    }
    if (err == MR_OK && *rec != NULL && (*rec)->server == NULL) {
        MR_ERROR("reg.servers.corrupt", NULL,
                 "the record of MCP server %s has no server", id);
        mcpreg__v1__mcp_server_record__free_unpacked(*rec, NULL);
        *rec = NULL;
        err = MR_EINTERNAL;
    }
    return err;
}

/* Counts and deletes, in a batch, the provider mappings of one server, and
 * collects their clients for RFC 7592 deletion. */
typedef struct {
    reg_batch *batch;
    size_t count;
    reg_deletions *deletions;
} provider_scan;

static mr_err
add_provider_delete(void *arg, const char *key, size_t keylen,
                    const char *value, size_t len)
{
    provider_scan *scan = arg;
    Mcpreg__V1__ProviderRecord *rec;
    reg_key prov_key;
    reg_key k;

    if (reg_key_set(&k, key, keylen) != MR_OK) {
        return MR_EINTERNAL;
    }
    reg_batch_delete(scan->batch, &k);
    prov_key = k;
    scan->count++;

    rec =
        mcpreg__v1__provider_record__unpack(NULL, len, (const uint8_t *)value);
    if (rec == NULL || rec->oauth_provider_id[0] == '\0') {
        /* The provid/ entry, if any, is left behind. Lookups through it
         * find no prov/ key and fail as not found. */
        MR_WARN("reg.servers.provider_corrupt", NULL,
                "a provider record under %.*s does not decode", (int)keylen,
                key);
    } else if (reg_key_build(&k, REG_T_PROVID, rec->oauth_provider_id, NULL) ==
               MR_OK) {
        reg_batch_delete(scan->batch, &k);
    }
    if (rec != NULL && reg_deletions_take_batch(scan->deletions, scan->batch,
                                                &prov_key, &rec) != MR_OK) {
        return MR_ENOMEM;
    }
    if (rec != NULL) {
        mcpreg__v1__provider_record__free_unpacked(rec, NULL);
    }
    return MR_OK;
}

/* Adds to batch the deletes of every prov/<ws>/<id>/ key and its provid/
 * key; *count receives how many mappings there were. */
static mr_err
add_provider_deletes(reg_store *store, reg_batch *batch, const char *ws,
                     const char *id, size_t *count, reg_deletions *deletions)
{
    provider_scan scan = {batch, 0, deletions};
    reg_key prefix;
    mr_err err;

    err = reg_key_build(&prefix, REG_T_PROV, ws, id, "", NULL);
    if (err == MR_OK) {
        err = reg_store_scan(store, &prefix, add_provider_delete, &scan);
    }
    *count = scan.count;
    return err;
}

/* Writes a new server and its name. The caller holds the store lock. */
static mr_err
write_new_server(reg_store *store, const Mcpreg__V1__McpServerRecord *rec)
{
    const Mcpreg__V1__McpServer *server = rec->server;
    reg_key name_key, key;
    char *existing = NULL;
    size_t len = 0;
    reg_batch *batch = NULL;
    mr_err err;

    err = reg_key_build(&name_key, REG_T_SRVNAME, server->workspace_id,
                        server->name, NULL);
    if (err == MR_OK) {
        err = reg_store_get(store, &name_key, &existing, &len);
    }
    if (err == MR_OK && existing != NULL) {
        err = MR_ENAME_CONFLICT;
    }
    if (err != MR_OK) {
        goto out;
    }

    batch = reg_batch_new();
    err = batch ? reg_key_build(&key, REG_T_SRV, server->workspace_id,
                                server->id, NULL)
                : MR_ENOMEM;
    if (err == MR_OK) {
        err = reg_batch_put_msg(batch, &key, &rec->base);
    }
    if (err == MR_OK) {
        reg_batch_put(batch, &name_key, server->id, strlen(server->id));
        err = reg_store_write(store, batch);
    }

out:
    reg_store_free(existing);
    reg_batch_free(batch);
    return err;
}

mr_err
reg_servers_create(reg_service *service, const char *ws,
                   const Mcpreg__V1__CreateMcpServerRequest *req,
                   Mcpreg__V1__McpServer **out, char *detail,
                   size_t detail_len)
{
    Mcpreg__V1__McpServer server = MCPREG__V1__MCP_SERVER__INIT;
    reg_sealed_server sealed;
    char id[MR_UUID_LEN + 1];
    char provider_id[MR_UUID_LEN + 1];
    mr_err err;

    *out = NULL;
    mr_uuid_v4(id);
    server.id = id;
    server.workspace_id = (char *)ws;
    server.name = req->name;
    server.url = req->url;
    server.n_headers = req->n_headers;
    server.headers = req->headers;
    server.auth_type = req->auth_type;
    server.oauth_mode = req->oauth_mode;
    server.oauth_provider_id = req->oauth_provider_id;
    server.vendor_id = req->vendor_id;
    server.external_system_id = req->external_system_id;
    server.created_at_ms = mr_now_ms();
    server.updated_at_ms = server.created_at_ms;

    err = reg_servers_check(service, &server, provider_id, detail, detail_len);
    if (err != MR_OK) {
        return err;
    }

    err = reg_servers_seal(&service->seal, &server, &sealed);
    if (err == MR_OK) {
        reg_store_lock(service->store);
        err = write_new_server(service->store, &sealed.rec);
        reg_store_unlock(service->store);
    }
    reg_sealed_server_clear(&sealed);
    if (err != MR_OK) {
        return err;
    }

    *out = (Mcpreg__V1__McpServer *)reg_msg_copy(&server.base);
    return *out ? MR_OK : MR_ENOMEM;
}

/* Collects the decoded server records of a scan. */
static mr_err
add_listed_server(void *arg, const char *key, size_t keylen, const char *value,
                  size_t len)
{
    reg_server_list *list = arg;
    Mcpreg__V1__McpServerRecord *rec;
    void *grown;

    rec = mcpreg__v1__mcp_server_record__unpack(NULL, len,
                                                (const uint8_t *)value);
    if (rec == NULL || rec->server == NULL) {
        MR_ERROR("reg.servers.corrupt", NULL,
                 "the record %.*s does not decode", (int)keylen, key);
        if (rec != NULL) {
            mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
        }
        return MR_EINTERNAL;
    }

    grown = realloc(list->records, (list->n + 1) * sizeof(*list->records));
    if (grown == NULL) {
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
        return MR_ENOMEM;
    }
    list->records = grown;
    list->records[list->n++] = rec;
    return MR_OK;
}

static int
compare_servers(const void *a, const void *b)
{
    const Mcpreg__V1__McpServer *x = *(Mcpreg__V1__McpServer *const *)a;
    const Mcpreg__V1__McpServer *y = *(Mcpreg__V1__McpServer *const *)b;

    if (x->created_at_ms != y->created_at_ms) {
        return x->created_at_ms < y->created_at_ms ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

mr_err
reg_servers_list(reg_service *service, const char *ws, reg_server_list *out,
                 char *detail, size_t detail_len)
{
    reg_key prefix;
    mr_err err;

    memset(out, 0, sizeof(*out));
    err = reg_key_build(&prefix, REG_T_SRV, ws, "", NULL);
    if (err == MR_OK) {
        err = reg_store_scan(service->store, &prefix, add_listed_server, out);
    }
    for (size_t i = 0; err == MR_OK && i < out->n; i++) {
        err = reg_servers_open_headers(&service->seal, out->records[i], detail,
                                       detail_len);
    }
    if (err == MR_OK && out->n > 0) {
        out->servers = malloc(out->n * sizeof(*out->servers));
        err = out->servers ? MR_OK : MR_ENOMEM;
    }
    if (err != MR_OK) {
        reg_server_list_free(out);
        return err;
    }

    for (size_t i = 0; i < out->n; i++) {
        out->servers[i] = out->records[i]->server;
    }
    if (out->n > 1) {
        qsort(out->servers, out->n, sizeof(*out->servers), compare_servers);
    }
    return MR_OK;
}

void
reg_server_list_free(reg_server_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        mcpreg__v1__mcp_server_record__free_unpacked(list->records[i], NULL);
    }
    free(list->records);
    free(list->servers);
    memset(list, 0, sizeof(*list));
}

mr_err
reg_servers_get(reg_service *service, const char *ws, const char *id,
                Mcpreg__V1__McpServerRecord **rec, char *detail,
                size_t detail_len)
{
    char canonical[MR_UUID_LEN + 1];
    mr_err err;

    *rec = NULL;
    if (!mr_uuid_canonical(id, canonical)) {
        return MR_EINVALID_ID;
    }
    err = reg_servers_read(service->store, ws, canonical, rec);
    if (err == MR_OK && *rec == NULL) {
        err = MR_ESERVER_NOT_FOUND;
    }
    if (err == MR_OK) {
        err =
            reg_servers_open_headers(&service->seal, *rec, detail, detail_len);
    }
    if (err != MR_OK && *rec != NULL) {
        mcpreg__v1__mcp_server_record__free_unpacked(*rec, NULL);
        *rec = NULL;
    }
    return err;
}

static bool
config_changed(const Mcpreg__V1__McpServer *old,
               const Mcpreg__V1__McpServer *next)
{
    return !reg_url_same(old->url, next->url) ||
           old->auth_type != next->auth_type ||
           old->oauth_mode != next->oauth_mode;
}

/* clear_unused_auth clears the fields that the auth configuration of
 * next, changed by req, does not take, unless req sets them: oauth_mode
 * and oauth_provider_id on a switch to headers, and oauth_provider_id on a
 * switch to per-user OAuth. So {"auth_type": "headers"} alone turns an
 * OAuth server into a headers server, and a field that req does set still
 * gets the error that reg_servers_check gives it. */
static void
clear_unused_auth(Mcpreg__V1__McpServer *next,
                  const Mcpreg__V1__UpdateMcpServerRequest *req)
{
    bool to_headers =
        req->has_auth_type &&
        next->auth_type != MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    bool to_per_user =
        req->has_oauth_mode &&
        next->oauth_mode ==
            MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;

    if (to_headers && !req->has_oauth_mode) {
        next->oauth_mode = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED;
    }
    if ((to_headers || to_per_user) && !req->has_oauth_provider_id) {
        next->oauth_provider_id = "";
    }
}

static void
merge_update(Mcpreg__V1__McpServer *next,
             const Mcpreg__V1__UpdateMcpServerRequest *req)
{
    if (req->has_url) {
        next->url = req->url;
    }
    if (req->has_headers) {
        next->n_headers = req->n_headers;
        next->headers = req->headers;
    }
    if (req->has_auth_type) {
        next->auth_type = req->auth_type;
    }
    if (req->has_oauth_mode) {
        next->oauth_mode = req->oauth_mode;
    }
    if (req->has_oauth_provider_id) {
        next->oauth_provider_id = req->oauth_provider_id;
    }
    clear_unused_auth(next, req);
    next->updated_at_ms = mr_now_ms();
}

/* Writes rec in place of old, and deletes the provider mappings when the
 * configuration they were made for changed. The caller holds the store
 * lock. */
static mr_err
write_update(reg_store *store, const Mcpreg__V1__McpServer *old,
             const Mcpreg__V1__McpServerRecord *rec, reg_deletions *deletions)
{
    const Mcpreg__V1__McpServer *next = rec->server;
    reg_batch *batch = reg_batch_new();
    reg_key key;
    size_t dropped = 0;
    mr_err err;

    err = batch ? reg_key_build(&key, REG_T_SRV, next->workspace_id, next->id,
                                NULL)
                : MR_ENOMEM;
    if (err == MR_OK) {
        err = reg_batch_put_msg(batch, &key, &rec->base);
    }
    if (err == MR_OK && config_changed(old, next)) {
        err = add_provider_deletes(store, batch, next->workspace_id, next->id,
                                   &dropped, deletions);
    }
    if (err == MR_OK) {
        err = reg_store_write(store, batch);
    }
    if (err == MR_OK && dropped > 0) {
        MR_INFO("reg.servers.providers_dropped", NULL,
                "deleted %zu provider mappings of MCP server %s because its "
                "URL or auth configuration changed",
                dropped, next->id);
    }
    reg_batch_free(batch);
    return err;
}

mr_err
reg_servers_update(reg_service *service, const char *ws,
                   const Mcpreg__V1__UpdateMcpServerRequest *req,
                   Mcpreg__V1__McpServer **out, char *detail,
                   size_t detail_len)
{
    Mcpreg__V1__McpServerRecord *old = NULL;
    Mcpreg__V1__McpServer next;
    reg_sealed_server sealed = {0};
    reg_deletions deletions = {0};
    char id[MR_UUID_LEN + 1];
    char provider_id[MR_UUID_LEN + 1];
    mr_err err;

    *out = NULL;
    if (!mr_uuid_canonical(req->id, id)) {
        return MR_EINVALID_ID;
    }
    /* An update that sets the URL sets it to a value, which "" is not. */
    if (req->has_url && req->url[0] == '\0') {
        snprintf(detail, detail_len,
                 "Set 'url' to the https URL of the MCP server: it is empty");
        return MR_EINVALID_URL;
    }

    reg_store_lock(service->store);
    err = reg_servers_read(service->store, ws, id, &old);
    if (err == MR_OK && old == NULL) {
        err = MR_ESERVER_NOT_FOUND;
    }
    /* Headers that req replaces need not open, so a record sealed under a
     * lost key can be repaired by sending its headers again. */
    if (err == MR_OK && !req->has_headers) {
        err =
            reg_servers_open_headers(&service->seal, old, detail, detail_len);
    }
    if (err != MR_OK) {
        goto out;
    }

    /* next borrows the strings of old and req, which outlive it. */
    next = *old->server;
    merge_update(&next, req);
    err = reg_servers_check(service, &next, provider_id, detail, detail_len);
    if (err == MR_OK) {
        err = reg_servers_seal(&service->seal, &next, &sealed);
    }
    if (err == MR_OK) {
        err =
            write_update(service->store, old->server, &sealed.rec, &deletions);
    }
    if (err == MR_OK) {
        *out = (Mcpreg__V1__McpServer *)reg_msg_copy(&next.base);
        err = *out ? MR_OK : MR_ENOMEM;
    }

out:
    reg_store_unlock(service->store);
    reg_sealed_server_clear(&sealed);
    if (err == MR_OK) {
        reg_deletions_send(service, &deletions, NULL);
    }
    reg_deletions_free(&deletions);
    if (old != NULL) {
        mcpreg__v1__mcp_server_record__free_unpacked(old, NULL);
    }
    return err;
}

/* Deletes server, name, provider mappings and operator clients. The
 * caller holds the store lock. */
static mr_err
write_delete(reg_store *store, const Mcpreg__V1__McpServer *server,
             reg_deletions *deletions)
{
    reg_batch *batch = reg_batch_new();
    reg_key key;
    size_t dropped = 0;
    mr_err err;

    err = batch ? reg_key_build(&key, REG_T_SRV, server->workspace_id,
                                server->id, NULL)
                : MR_ENOMEM;
    if (err == MR_OK) {
        reg_batch_delete(batch, &key);
        err = reg_key_build(&key, REG_T_SRVNAME, server->workspace_id,
                            server->name, NULL);
    }
    if (err == MR_OK) {
        reg_batch_delete(batch, &key);
        err = add_provider_deletes(store, batch, server->workspace_id,
                                   server->id, &dropped, deletions);
    }
    if (err == MR_OK) {
        err = reg_clients_add_deletes(store, batch, server->workspace_id,
                                      server->id);
    }
    if (err == MR_OK) {
        err = reg_store_write(store, batch);
    }
    reg_batch_free(batch);
    return err;
}

mr_err
reg_servers_delete(reg_service *service, const char *ws, const char *id,
                   bool *deleted)
{
    Mcpreg__V1__McpServerRecord *rec = NULL;
    reg_deletions deletions = {0};
    char canonical[MR_UUID_LEN + 1];
    mr_err err;

    *deleted = false;
    if (!mr_uuid_canonical(id, canonical)) {
        return MR_EINVALID_ID;
    }

    reg_store_lock(service->store);
    err = reg_servers_read(service->store, ws, canonical, &rec);
    if (err == MR_OK && rec != NULL) {
        err = write_delete(service->store, rec->server, &deletions);
        *deleted = err == MR_OK;
    }
    reg_store_unlock(service->store);
    if (*deleted) {
        reg_deletions_send(service, &deletions, NULL);
    }
    reg_deletions_free(&deletions);

    if (rec != NULL) {
        mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    }
    return err;
}
