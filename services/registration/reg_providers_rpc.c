/* reg_providers_rpc.c - GetOAuthProvider and ReportInvalidClient, the
 * provider methods of internal services. */
#include <stdio.h>
#include <string.h>

#include "mr_log.h"
#include "mr_util.h"
#include "reg_providers.h"

/* find_prov_key copies the prov/ key of provider id into prov_key. It
 * returns MR_EPROVIDER_NOT_FOUND when no mapping has that id. */
static mr_err
find_prov_key(reg_store *store, const char *id, reg_key *prov_key)
{
    char *value = NULL;
    size_t len = 0;
    reg_key id_key;
    mr_err err;

    err = reg_key_build(&id_key, REG_T_PROVID, id, NULL);
    if (err == MR_OK) {
        err = reg_store_get(store, &id_key, &value, &len);
    }
    if (err == MR_OK && value == NULL) {
        err = MR_EPROVIDER_NOT_FOUND;
    }
    if (err == MR_OK) {
        err = reg_key_set(prov_key, value, len);
    }
    reg_store_free(value);
    return err;
}

/*
 * read_provider reads the mapping whose id is provider_id in workspace ws
 * into *out, which the caller frees with
 * mcpreg__v1__provider_record__free_unpacked. A mapping of another
 * workspace is MR_EPROVIDER_NOT_FOUND, the same error as an unknown id.
 */
static mr_err
read_provider(reg_store *store, const char *ws, const char *provider_id,
              reg_key *prov_key, Mcpreg__V1__ProviderRecord **out)
{
    ProtobufCMessage *msg = NULL;
    mr_err err;

    *out = NULL;
    err = find_prov_key(store, provider_id, prov_key);
    if (err == MR_OK) {
        err = reg_store_get_msg(
            store, prov_key, &mcpreg__v1__provider_record__descriptor, &msg);
    }
    if (err == MR_OK && msg == NULL) {
        err = MR_EPROVIDER_NOT_FOUND;
    }
    *out = (Mcpreg__V1__ProviderRecord *)msg;
    if (err == MR_OK && strcmp((*out)->workspace_id, ws) != 0) {
        err = MR_EPROVIDER_NOT_FOUND;
    }
    if (err != MR_OK && msg != NULL) {
        protobuf_c_message_free_unpacked(msg, NULL);
        *out = NULL;
    }
    return err;
}

/* check_ids copies the canonical forms of the request's workspace and
 * provider ids into ws and id, or returns MR_EINVALID_FIELD with a detail
 * naming the field. */
static mr_err
check_ids(const char *workspace_id, const char *provider_id,
          char ws[MR_UUID_LEN + 1], char id[MR_UUID_LEN + 1], char *detail,
          size_t detail_len)
{
    const char *field = NULL;

    if (!mr_uuid_canonical(workspace_id, ws)) {
        field = "workspace_id";
    } else if (!mr_uuid_canonical(provider_id, id)) {
        field = "oauth_provider_id";
    }
    if (field != NULL) {
        snprintf(detail, detail_len,
                 "Set '%s' to a UUID in 8-4-4-4-12 hex form", field);
        return MR_EINVALID_FIELD;
    }
    return MR_OK;
}

/* fill_provider points the fields of out at those of rec, which must
 * outlive out. */
static void
fill_provider(Mcpreg__V1__OAuthProvider *out,
              const Mcpreg__V1__ProviderRecord *rec)
{
    out->oauth_provider_id = rec->oauth_provider_id;
    out->workspace_id = rec->workspace_id;
    out->mcp_server_id = rec->mcp_server_id;
    out->user_id = rec->user_id;
    out->resource = rec->resource;
    out->issuer = rec->issuer;
    out->authorization_endpoint = rec->authorization_endpoint;
    out->token_endpoint = rec->token_endpoint;
    out->revocation_endpoint = rec->revocation_endpoint;
    out->scope = rec->scope;
    out->redirect_uri = rec->redirect_uri;
    out->client_id = rec->client_id;
    out->token_endpoint_auth_method = rec->token_endpoint_auth_method;
    out->client_source = rec->client_source;
    out->has_client_secret = rec->client_secret != NULL;
    out->client_secret_expires_at = rec->client_secret_expires_at;
    out->created_at_ms = rec->created_at_ms;
    out->invalid_client_at_ms = rec->invalid_client_at_ms;
}

void
reg_providers_handle_get(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__GetOAuthProviderRequest *req =
        (const Mcpreg__V1__GetOAuthProviderRequest *)mr_rpc_request(call);
    Mcpreg__V1__OAuthProvider resp = MCPREG__V1__OAUTH_PROVIDER__INIT;
    Mcpreg__V1__ProviderRecord *rec = NULL;
    int64_t started = mr_mono_ms();
    char detail[REG_DETAIL_MAX] = "";
    char ws[MR_UUID_LEN + 1];
    char id[MR_UUID_LEN + 1];
    reg_key prov_key;
    mr_err err;

    err = check_ids(req->workspace_id, req->oauth_provider_id, ws, id, detail,
                    sizeof(detail));
    if (err == MR_OK) {
        err = read_provider(service->store, ws, id, &prov_key, &rec);
    }
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }

    fill_provider(&resp, rec);
    reg_rpc_ok_read(call, started, &resp.base);
    mcpreg__v1__provider_record__free_unpacked(rec, NULL);
}

/*
 * mark_invalid sets the invalid_client mark of the mapping provider_id when
 * client_id is still its client and it is not marked yet, and sets *marked
 * to whether it did. The caller holds the store lock, so the read and the
 * write see no job's result in between.
 */
static mr_err
mark_invalid(reg_store *store, const char *ws, const char *provider_id,
             const char *client_id, bool *marked)
{
    Mcpreg__V1__ProviderRecord *rec = NULL;
    reg_batch *batch = NULL;
    reg_key prov_key;
    mr_err err;

    *marked = false;
    err = read_provider(store, ws, provider_id, &prov_key, &rec);
    if (err != MR_OK || strcmp(rec->client_id, client_id) != 0 ||
        rec->invalid_client_at_ms != 0) {
        goto out;
    }

    rec->invalid_client_at_ms = mr_now_ms();
    batch = reg_batch_new();
    err = batch ? reg_batch_put_msg(batch, &prov_key, &rec->base) : MR_ENOMEM;
    if (err == MR_OK) {
        err = reg_store_write(store, batch);
    }
    *marked = err == MR_OK;
out:
    reg_batch_free(batch);
    if (rec != NULL) {
        mcpreg__v1__provider_record__free_unpacked(rec, NULL);
    }
    return err;
}

void
reg_providers_handle_report(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__ReportInvalidClientRequest *req =
        (const Mcpreg__V1__ReportInvalidClientRequest *)mr_rpc_request(call);
    Mcpreg__V1__ReportInvalidClientResponse resp =
        MCPREG__V1__REPORT_INVALID_CLIENT_RESPONSE__INIT;
    int64_t started = mr_mono_ms();
    char detail[REG_DETAIL_MAX] = "";
    char ws[MR_UUID_LEN + 1];
    char id[MR_UUID_LEN + 1];
    bool marked = false;
    mr_err err;

    err = check_ids(req->workspace_id, req->oauth_provider_id, ws, id, detail,
                    sizeof(detail));
    if (err == MR_OK && req->client_id[0] == '\0') {
        snprintf(detail, sizeof(detail),
                 "Set 'client_id' to the client the authorization server "
                 "rejected");
        err = MR_EMISSING_FIELD;
    }
    if (err == MR_OK) {
        reg_store_lock(service->store);
        err = mark_invalid(service->store, ws, id, req->client_id, &marked);
        reg_store_unlock(service->store);
    }
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }

    MR_INFO("reg.provider.invalid_client", mr_rpc_request_id(call),
            "provider %s of workspace %s: invalid_client reported (%s)", id,
            ws,
            marked ? "marked; the next use registers a new client"
                   : "ignored: an older client, or marked already");
    resp.marked = marked;
    reg_rpc_ok(call, started, &resp.base);
}
