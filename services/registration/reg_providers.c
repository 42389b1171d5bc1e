/* reg_providers.c - RegisterOAuthProvider: the caller's checks, the stored
 * mapping, and the provider record built from a discovery result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_log.h"
#include "mr_util.h"
#include "reg_deletions.h"
#include "reg_flights.h"
#include "reg_keys.h"
#include "reg_peek.h"
#include "reg_servers.h"
#include "reg_url.h"

/* Checks the user of a RegisterOAuthProvider call: a personal key registers
 * for its own user, a service key for the user named in ls_user_id. */
static mr_err
pick_user(const reg_caller *key, const char *ls_user_id, reg_target *target,
          char *detail, size_t detail_len)
{
    mr_err err = reg_check_text("ls_user_id", ls_user_id, detail, detail_len);

    if (err != MR_OK) {
        return err;
    }
    if (key->user_id[0] != '\0') {
        if (ls_user_id[0] != '\0' && strcmp(ls_user_id, key->user_id) != 0) {
            return MR_EFORBIDDEN;
        }
        mr_copy(target->user_id, sizeof(target->user_id), key->user_id);
        return MR_OK;
    }

    if (ls_user_id[0] == '\0') {
        snprintf(detail, detail_len,
                 "Set 'ls_user_id' to the user to register for: it is "
                 "required with a service API key, which has no user");
        return MR_EMISSING_FIELD;
    }
    snprintf(target->user_id, sizeof(target->user_id), "%s", ls_user_id);
    return MR_OK;
}

/* Resolves the caller, the user and the server id into target, without
 * reading the server record. */
static mr_err
resolve_target(reg_service *service,
               const Mcpreg__V1__RegisterOAuthProviderRequest *req,
               reg_target *target, char *detail, size_t detail_len)
{
    reg_caller key;
    mr_err err;

    memset(target, 0, sizeof(*target));
    err = reg_keys_resolve(service->store, service->keys, req->caller, &key);
    if (err != MR_OK) {
        return err;
    }
    memcpy(target->ws, key.workspace_id, sizeof(target->ws));
    err = pick_user(&key, req->ls_user_id, target, detail, detail_len);
    if (err != MR_OK) {
        return err;
    }

    if (!mr_uuid_canonical(req->mcp_server_id, target->server_id)) {
        return MR_EINVALID_ID;
    }
    return reg_key_build(&target->prov_key, REG_T_PROV, target->ws,
                         target->server_id, target->user_id, NULL);
}

/* needs_new_client returns whether the mapping must register a new client
 * under the same id. That is so when ReportInvalidClient marked the client,
 * or its secret has expired (0 means never; no secret, nothing to expire). */
static bool
needs_new_client(const reg_mapping_peek *rec)
{
    if (rec->invalid_client_at_ms != 0) {
        return true;
    }
    return rec->has_secret && rec->secret_expires_at != 0 &&
           rec->secret_expires_at <= mr_now_ms() / 1000;
}

/* read_record reads the mapping at prov_key and copies its id into
 * provider_id ("" when there is none) and whether its client must be
 * replaced into *stale. Only the fields needed are read: decoding the
 * whole record took about a tenth of the service's instructions per
 * repeat call. */
static mr_err
read_record(reg_store *store, const reg_key *prov_key,
            char provider_id[MR_UUID_LEN + 1], bool *stale)
{
    reg_mapping_peek rec;
    char *value = NULL;
    size_t len = 0;
    mr_err err;

    provider_id[0] = '\0';
    *stale = false;
    err = reg_store_get(store, prov_key, &value, &len);
    if (err != MR_OK || value == NULL) {
        goto out;
    }

    err = reg_peek_mapping((const uint8_t *)value, len, &rec);
    if (err != MR_OK) {
        MR_ERROR("reg.store.decode", NULL,
                 "a stored ProviderRecord does not decode; the store is "
                 "corrupt");
        goto out;
    }
    memcpy(provider_id, rec.provider_id, sizeof(rec.provider_id));
    *stale = needs_new_client(&rec);

out:
    reg_store_free(value);
    return err;
}

mr_err
reg_providers_read_mapping(reg_store *store, const reg_key *prov_key,
                           char provider_id[MR_UUID_LEN + 1], bool *stale_out)
{
    bool stale = false;
    mr_err err = read_record(store, prov_key, provider_id, &stale);

    /* A mapping whose client must be replaced is not usable: the caller
     * starts a job, and reg_providers_store_result keeps the mapping's id.
     */
    if (stale) {
        provider_id[0] = '\0';
    }
    if (stale_out != NULL) {
        *stale_out = stale;
    }
    return err;
}

/* Checks that the server exists and uses per-user OAuth, and copies its URL
 * into target. */
static mr_err
check_server(reg_store *store, reg_target *target)
{
    Mcpreg__V1__McpServerRecord *rec = NULL;
    const Mcpreg__V1__McpServer *server;
    mr_err err;

    err = reg_servers_read(store, target->ws, target->server_id, &rec);
    if (err != MR_OK) {
        return err;
    }
    if (rec == NULL) {
        return MR_ESERVER_NOT_FOUND;
    }

    server = rec->server;
    if (server->auth_type != MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH ||
        server->oauth_mode !=
            MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT) {
        err = MR_ENOT_PER_USER;
    } else {
        snprintf(target->url, sizeof(target->url), "%s", server->url);
    }
    mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    return err;
}

void
reg_providers_reply(mr_rpc_call *call, int64_t started_ms,
                    const char *provider_id, bool created)
{
    Mcpreg__V1__RegisterOAuthProviderResponse resp =
        MCPREG__V1__REGISTER_OAUTH_PROVIDER_RESPONSE__INIT;

    resp.oauth_provider_id = (char *)provider_id;
    resp.created = created;
    if (created) {
        reg_rpc_ok(call, started_ms, &resp.base);
    } else {
        reg_rpc_ok_read(call, started_ms, &resp.base);
    }
}

void
reg_providers_handle_register(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__RegisterOAuthProviderRequest *req =
        (const Mcpreg__V1__RegisterOAuthProviderRequest *)mr_rpc_request(call);
    int64_t started = mr_mono_ms();
    char detail[REG_DETAIL_MAX] = "";
    char provider_id[MR_UUID_LEN + 1];
    reg_target target;
    mr_err err;

    err = resolve_target(service, req, &target, detail, sizeof(detail));
    if (err != MR_OK) {
        goto fail;
    }

    /* The repeat call: one point read after the API key. A mapping implies
     * a per-user server, because updates that change the server's auth and
     * deletes remove its mappings in the same batch. */
    err = reg_providers_read_mapping(service->store, &target.prov_key,
                                     provider_id, &target.replacing);
    if (err == MR_OK && provider_id[0] != '\0') {
        reg_providers_reply(call, started, provider_id, false);
        return;
    }

    if (err == MR_OK) {
        err = check_server(service->store, &target);
    }
    if (err != MR_OK) {
        goto fail;
    }

    /* A registration waits for a discovery worker, which would hold up
     * every other call of the batch. */
    if (mr_rpc_batched(call)) {
        mr_rpc_decline(call);
        return;
    }
    reg_flights_join(service->providers, call, started, &target);
    return;

fail:
    reg_rpc_fail(call, started, err, detail, 0);
}

static void
copy_result(Mcpreg__V1__ProviderRecord *rec,
            const Mcpreg__V1__DiscoveryResult *result)
{
    rec->resource = result->resource;
    rec->issuer = result->issuer;
    rec->authorization_endpoint = result->authorization_endpoint;
    rec->token_endpoint = result->token_endpoint;
    rec->registration_endpoint = result->registration_endpoint;
    rec->revocation_endpoint = result->revocation_endpoint;
    rec->scope = result->scope;
    rec->redirect_uri = result->redirect_uri;
    rec->client_id = result->client_id;
    rec->token_endpoint_auth_method = result->token_endpoint_auth_method;
    rec->client_id_issued_at = result->client_id_issued_at;
    rec->client_secret_expires_at = result->client_secret_expires_at;
    rec->registration_client_uri = result->registration_client_uri;
    rec->client_source = result->client_source;
}

/* Seals secret into *out when it is not empty; *out stays NULL otherwise. */
static mr_err
seal_secret(const reg_seal *seal, const char *secret, const reg_key *ad,
            Mcpreg__V1__Sealed *buf, Mcpreg__V1__Sealed **out)
{
    mr_err err;

    mcpreg__v1__sealed__init(buf);
    if (secret[0] == '\0') {
        return MR_OK;
    }
    err =
        reg_seal_encrypt(seal, secret, strlen(secret), ad->text, ad->len, buf);
    if (err == MR_OK) {
        *out = buf;
    }
    return err;
}

/*
 * Checks, with the store lock held, that the mapping may still be written:
 * the server exists, uses per-user OAuth and has the URL the job ran for.
 * *existing_id names the mapping stored already, if any, and *stale is
 * set when its client must be replaced.
 */
static mr_err
check_still_valid(reg_store *store, const reg_target *target,
                  char existing_id[MR_UUID_LEN + 1], bool *stale, char *detail,
                  size_t detail_len)
{
    reg_target now = *target;
    mr_err err = check_server(store, &now);

    if (err == MR_OK && !reg_url_same(now.url, target->url)) {
        snprintf(detail, detail_len,
                 "Retry the registration: the MCP server's URL changed while "
                 "discovery ran");
        err = MR_EUNAVAILABLE;
    }
    if (err == MR_OK) {
        err = read_record(store, &target->prov_key, existing_id, stale);
    }
    return err;
}

/* take_old_client adds the client of the mapping at prov_key to
 * deletions, and the record of its deletion to batch, because a new
 * client replaces it. */
static mr_err
take_old_client(reg_store *store, reg_batch *batch, const reg_key *prov_key,
                reg_deletions *deletions)
{
    ProtobufCMessage *msg = NULL;
    Mcpreg__V1__ProviderRecord *rec;
    mr_err err = reg_store_get_msg(
        store, prov_key, &mcpreg__v1__provider_record__descriptor, &msg);

    rec = (Mcpreg__V1__ProviderRecord *)msg;
    if (err == MR_OK && rec != NULL) {
        err = reg_deletions_take_batch(deletions, batch, prov_key, &rec);
    }
    if (rec != NULL) {
        protobuf_c_message_free_unpacked(&rec->base, NULL);
    }
    return err;
}

/* write_record writes rec and its provid/ index in one batch. When the
 * mapping replaces its client, the same batch records the deletion of the
 * old one, which deletions then holds, so that the deletion is durable
 * exactly when the new client is. */
static mr_err
write_record(reg_store *store, const reg_target *target,
             const Mcpreg__V1__ProviderRecord *rec, bool replacing,
             reg_deletions *deletions)
{
    reg_batch *batch = reg_batch_new();
    reg_key id_key;
    mr_err err = batch != NULL ? MR_OK : MR_ENOMEM;

    if (err == MR_OK && replacing) {
        err = take_old_client(store, batch, &target->prov_key, deletions);
    }
    if (err == MR_OK) {
        err = reg_batch_put_msg(batch, &target->prov_key, &rec->base);
    }
    if (err == MR_OK) {
        err =
            reg_key_build(&id_key, REG_T_PROVID, rec->oauth_provider_id, NULL);
    }

    if (err == MR_OK) {
        reg_batch_put(batch, &id_key, target->prov_key.text,
                      target->prov_key.len);
        err = reg_store_write(store, batch);
    }
    reg_batch_free(batch);
    return err;
}

/* is_stored_client returns whether the mapping at prov_key has client_id
 * as its client, or cannot be read, so that a client that may be in use is
 * never deleted. */
static bool
is_stored_client(reg_store *store, const reg_key *prov_key,
                 const char *client_id)
{
    ProtobufCMessage *msg = NULL;
    bool same = false;
    mr_err err = reg_store_get_msg(
        store, prov_key, &mcpreg__v1__provider_record__descriptor, &msg);

    if (err == MR_OK && msg != NULL) {
        same = strcmp(((Mcpreg__V1__ProviderRecord *)msg)->client_id,
                      client_id) == 0;
    }
    if (msg != NULL) {
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    return err != MR_OK || same;
}

/*
 * take_unstored_client adds to deletions the client of rec, which a job
 * registered but the caller does not store, so that it is not left unused
 * at its authorization server. Only a client with RFC 7592 management
 * (registration_client_uri and a sealed access token) can be deleted.
 * why, an error code or "superseded", goes to the log.
 */
static void
take_unstored_client(reg_deletions *deletions, const reg_target *target,
                     const Mcpreg__V1__ProviderRecord *rec, const char *why)
{
    Mcpreg__V1__ProviderRecord *copy;
    mr_err err = MR_ENOMEM;

    if (rec->registration_client_uri[0] == '\0' ||
        rec->registration_access_token == NULL) {
        return;
    }
    copy = (Mcpreg__V1__ProviderRecord *)reg_msg_copy(&rec->base);
    if (copy != NULL) {
        err = reg_deletions_take(deletions, &target->prov_key, &copy);
    }
    if (copy != NULL) {
        mcpreg__v1__provider_record__free_unpacked(copy, NULL);
    }

    if (err != MR_OK) {
        MR_ERROR("reg.job.client_not_deleted", NULL,
                 "client %s that the job for server %s registered was not "
                 "stored (%s), and its deletion could not be queued (%s): "
                 "it stays at its authorization server",
                 rec->client_id, target->server_id, why, mr_err_code(err));
        return;
    }
    MR_INFO("reg.job.client_unused", NULL,
            "client %s that the job for server %s registered was not stored "
            "(%s); deleting it at its authorization server",
            rec->client_id, target->server_id, why);
}

mr_err
reg_providers_store_result(reg_service *service, const reg_target *target,
                           const Mcpreg__V1__DiscoveryResult *result,
                           char provider_id[MR_UUID_LEN + 1], char *detail,
                           size_t detail_len)
{
    Mcpreg__V1__ProviderRecord rec = MCPREG__V1__PROVIDER_RECORD__INIT;
    Mcpreg__V1__Sealed secret = MCPREG__V1__SEALED__INIT;
    Mcpreg__V1__Sealed token = MCPREG__V1__SEALED__INIT;
    char existing_id[MR_UUID_LEN + 1] = "";
    reg_deletions deletions = {0};
    reg_deletions unstored = {0};
    bool stale = false;
    bool superseded = false;
    mr_err err;

    if (result->client_id[0] == '\0') {
        return MR_EREGISTRATION_INVALID;
    }

    mr_uuid_v4(provider_id);
    rec.oauth_provider_id = provider_id;
    rec.workspace_id = (char *)target->ws;
    rec.mcp_server_id = (char *)target->server_id;
    rec.user_id = (char *)target->user_id;
    copy_result(&rec, result);
    rec.created_at_ms = mr_now_ms();
    err = seal_secret(&service->seal, result->client_secret, &target->prov_key,
                      &secret, &rec.client_secret);
    if (err == MR_OK) {
        err = seal_secret(&service->seal, result->registration_access_token,
                          &target->prov_key, &token,
                          &rec.registration_access_token);
    }

    /* Shared: the single flight makes this job the only writer of its
     * mapping, and server changes take the lock exclusively. */
    reg_store_lock_shared(service->store);
    if (err == MR_OK) {
        err = check_still_valid(service->store, target, existing_id, &stale,
                                detail, detail_len);
    }
    if (err == MR_OK && existing_id[0] != '\0' && !stale) {
        /* A usable mapping written meanwhile wins, and the new client goes,
         * unless the authorization server returned the stored one again. */
        superseded = !is_stored_client(service->store, &target->prov_key,
                                       rec.client_id);
        snprintf(provider_id, MR_UUID_LEN + 1, "%s", existing_id);
    } else if (err == MR_OK) {
        /* A new mapping, or a new client for a stale one, which keeps its
         * id so that callers holding it need not change. */
        if (stale) {
            snprintf(provider_id, MR_UUID_LEN + 1, "%s", existing_id);
        }
        err = write_record(service->store, target, &rec, stale, &deletions);
    }
    reg_store_unlock(service->store);
    if (err == MR_OK) {
        reg_deletions_send(service, &deletions, NULL);
    }
    reg_deletions_free(&deletions);

    /* The job's client is not stored: the server changed or went away
     * while the job ran, the write failed, or another mapping won. */
    if (err != MR_OK || superseded) {
        take_unstored_client(&unstored, target, &rec,
                             superseded ? "superseded" : mr_err_code(err));
        reg_deletions_send(service, &unstored, NULL);
    }

    reg_seal_clear(&secret);
    reg_seal_clear(&token);
    return err;
}
