/* reg_clients.c - AddOperatorClient, the canonical form of issuers, and the
 * loading of operator clients into discovery jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpreg/v1/registration.pb-c.h"
#include "mcpreg/v1/store.pb-c.h"
#include "mr_log.h"
#include "mr_util.h"
#include "reg_clients.h"
#include "reg_seal.h"
#include "reg_servers.h"
#include "reg_store.h"
#include "reg_url.h"

/* check_method checks that the auth method is one discovery can use and
 * agrees with the secret: the secret methods need one, none has none. */
static mr_err
check_method(const char *method, const char *secret, char *detail,
             size_t detail_len)
{
    bool has_secret = secret[0] != '\0';
    bool secret_method = strcmp(method, "client_secret_basic") == 0 ||
                         strcmp(method, "client_secret_post") == 0;

    if (method[0] == '\0') {
        return MR_OK;
    }
    if (!secret_method && strcmp(method, "none") != 0) {
        snprintf(detail, detail_len,
                 "Use client_secret_basic, client_secret_post or none: the "
                 "token endpoint auth method is not one mcpreg supports");
        return MR_EINVALID_FIELD;
    }
    if (secret_method && !has_secret) {
        snprintf(detail, detail_len,
                 "Give the client secret with --client-secret-file: auth "
                 "method %s needs one",
                 method);
        return MR_EMISSING_FIELD;
    }
    if (!secret_method && has_secret) {
        snprintf(detail, detail_len,
                 "Remove the client secret or choose a secret auth method: "
                 "auth method none sends no secret");
        return MR_EINVALID_FIELD;
    }
    return MR_OK;
}

/* empty_path_slash returns the '/' that forms the whole path of url, or
 * NULL when the path is empty or longer. url has no query or fragment. */
static char *
empty_path_slash(char *url)
{
    char *authority = strstr(url, "://");
    char *slash = authority != NULL ? strchr(authority + 3, '/') : NULL;

    return slash != NULL && slash[1] == '\0' ? slash : NULL;
}

/* lower_origin writes the scheme and host of url, the part before the
 * first '/' after "://", in lower case, because both are case-insensitive
 * (RFC 3986 section 6.2.2.1) and discovery compares issuers as strings. */
static void
lower_origin(char *url)
{
    char *authority = strstr(url, "://");
    char *end;

    if (authority == NULL) {
        return;
    }
    end = authority + 3 + strcspn(authority + 3, "/");
    for (char *c = url; c < end; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            *c = (char)(*c - 'A' + 'a');
        }
    }
}

mr_err
reg_clients_issuer_canonical(const reg_url_rules *rules, const char *issuer,
                             char out[REG_URL_MAX + 1], char *detail,
                             size_t detail_len)
{
    char *slash;

    if (issuer[0] == '\0') {
        snprintf(detail, detail_len,
                 "Set the issuer: the authorization server's issuer URL is "
                 "missing");
        return MR_EMISSING_FIELD;
    }
    if (strpbrk(issuer, "?#") != NULL) {
        snprintf(detail, detail_len,
                 "Correct the issuer: an issuer has no query or fragment");
        return MR_EINVALID_FIELD;
    }
    if (reg_url_check_named(rules, issuer, &reg_url_issuer, detail,
                            detail_len) != MR_OK) {
        return MR_EINVALID_FIELD;
    }

    /* reg_url_check_named bounds the length by REG_URL_MAX. */
    snprintf(out, REG_URL_MAX + 1, "%s", issuer);
    lower_origin(out);
    slash = empty_path_slash(out);
    if (slash != NULL) {
        *slash = '\0';
    }
    return MR_OK;
}

/* check_server checks that the server exists in ws and uses per-user
 * OAuth, the only mode whose discovery jobs read operator clients. */
static mr_err
check_server(reg_store *store, const char *ws, const char *id)
{
    Mcpreg__V1__McpServerRecord *rec = NULL;
    mr_err err = reg_servers_read(store, ws, id, &rec);

    if (err != MR_OK) {
        return err;
    }
    if (rec == NULL) {
        return MR_ESERVER_NOT_FOUND;
    }
    if (rec->server->auth_type != MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH ||
        rec->server->oauth_mode !=
            MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT) {
        err = MR_ENOT_PER_USER;
    }
    mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
    return err;
}

mr_err
reg_clients_issuer_keys(const char *ws, const char *id, const char *issuer,
                        reg_key *key, reg_key *slash_key)
{
    const char *authority = strstr(issuer, "://");
    mr_err err = reg_key_build(key, REG_T_OPCLIENT, ws, id, issuer, NULL);

    slash_key->len = 0;
    slash_key->text[0] = '\0';
    if (err == MR_OK && authority != NULL &&
        strchr(authority + 3, '/') == NULL) {
        err =
            reg_key_build(slash_key, REG_T_OPCLIENT, ws, id, issuer, "", NULL);
    }
    return err;
}

/* add_request is an AddOperatorClient request after its checks. */
typedef struct {
    const Mcpreg__V1__AddOperatorClientRequest *req;
    char ws[MR_UUID_LEN + 1];
    char id[MR_UUID_LEN + 1];
    char issuer[REG_URL_MAX + 1]; /* canonical */
    reg_key key;
    reg_key slash_key; /* see reg_clients_issuer_keys */
} add_request;

static mr_err
check_request(const reg_service *service, add_request *add, char *detail,
              size_t detail_len)
{
    const Mcpreg__V1__AddOperatorClientRequest *req = add->req;
    mr_err err;

    if (!mr_uuid_canonical(req->workspace_id, add->ws)) {
        snprintf(detail, detail_len,
                 "Use the workspace id printed by 'mcpreg key create': "
                 "the workspace id is not a UUID in 8-4-4-4-12 hex form");
        return MR_EINVALID_FIELD;
    }
    if (!mr_uuid_canonical(req->mcp_server_id, add->id)) {
        return MR_EINVALID_ID;
    }
    if (req->client_id[0] == '\0') {
        snprintf(detail, detail_len, "Set the client id: it is missing");
        return MR_EMISSING_FIELD;
    }

    err = reg_check_text("client_id", req->client_id, detail, detail_len);
    if (err == MR_OK) {
        err = reg_clients_issuer_canonical(&service->url_rules, req->issuer,
                                           add->issuer, detail, detail_len);
    }
    if (err == MR_OK) {
        err = check_method(req->token_endpoint_auth_method, req->client_secret,
                           detail, detail_len);
    }
    if (err == MR_OK &&
        reg_clients_issuer_keys(add->ws, add->id, add->issuer, &add->key,
                                &add->slash_key) != MR_OK) {
        snprintf(detail, detail_len,
                 "Use a shorter issuer: it does not fit in a store key");
        err = MR_EINVALID_FIELD;
    }
    return err;
}

/* key_exists sets *found to whether key is in the store. */
static mr_err
key_exists(reg_store *store, const reg_key *key, bool *found)
{
    char *value = NULL;
    size_t len = 0;
    mr_err err = reg_store_get(store, key, &value, &len);

    *found = value != NULL;
    reg_store_free(value);
    return err;
}

static mr_err
count_client(void *arg, const char *key, size_t keylen, const char *value,
             size_t len)
{
    (void)key;
    (void)keylen;
    (void)value;
    (void)len;
    (*(size_t *)arg)++;
    return MR_OK;
}

/* check_room sets *replaced when add names a stored issuer, and otherwise
 * checks that the server has room for one more client. The caller holds
 * the store lock. */
static mr_err
check_room(reg_store *store, const add_request *add, bool *replaced,
           char *detail, size_t detail_len)
{
    bool slash_found = false;
    size_t count = 0;
    reg_key prefix;
    mr_err err = key_exists(store, &add->key, replaced);

    if (err == MR_OK && add->slash_key.len > 0) {
        err = key_exists(store, &add->slash_key, &slash_found);
    }
    *replaced = *replaced || slash_found;
    if (err != MR_OK || *replaced) {
        return err;
    }

    err = reg_key_build(&prefix, REG_T_OPCLIENT, add->ws, add->id, "", NULL);
    if (err == MR_OK) {
        err = reg_store_scan(store, &prefix, count_client, &count);
    }
    if (err == MR_OK && count >= REG_CLIENTS_MAX) {
        snprintf(detail, detail_len,
                 "Remove a client with 'mcpreg client remove' first: MCP "
                 "server %s has %d operator clients, the maximum",
                 add->id, REG_CLIENTS_MAX);
        err = MR_EINVALID_FIELD;
    }
    return err;
}

/* write_client stores the record of add, sealing the secret with its key
 * as associated data, and deletes the record of the issuer with a
 * trailing '/'. The caller holds the store lock. */
static mr_err
write_client(reg_service *service, const add_request *add)
{
    const Mcpreg__V1__AddOperatorClientRequest *req = add->req;
    Mcpreg__V1__OperatorClientRecord rec =
        MCPREG__V1__OPERATOR_CLIENT_RECORD__INIT;
    Mcpreg__V1__Sealed secret = MCPREG__V1__SEALED__INIT;
    reg_batch *batch = NULL;
    mr_err err = MR_OK;

    rec.workspace_id = (char *)add->ws;
    rec.mcp_server_id = (char *)add->id;
    rec.issuer = (char *)add->issuer;
    rec.client_id = req->client_id;
    rec.token_endpoint_auth_method = req->token_endpoint_auth_method;
    rec.created_at_ms = mr_now_ms();
    if (req->client_secret[0] != '\0') {
        err = reg_seal_encrypt(&service->seal, req->client_secret,
                               strlen(req->client_secret), add->key.text,
                               add->key.len, &secret);
        rec.client_secret = &secret;
    }

    batch = err == MR_OK ? reg_batch_new() : NULL;
    if (err == MR_OK && batch == NULL) {
        err = MR_ENOMEM;
    }
    if (err == MR_OK) {
        err = reg_batch_put_msg(batch, &add->key, &rec.base);
    }
    if (err == MR_OK && add->slash_key.len > 0) {
        reg_batch_delete(batch, &add->slash_key);
    }
    if (err == MR_OK) {
        err = reg_store_write(service->store, batch);
    }
    reg_batch_free(batch);
    reg_seal_clear(&secret);
    return err;
}

void
reg_clients_handle_add(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    add_request add = {
        .req =
            (const Mcpreg__V1__AddOperatorClientRequest *)mr_rpc_request(call),
    };
    Mcpreg__V1__AddOperatorClientResponse resp =
        MCPREG__V1__ADD_OPERATOR_CLIENT_RESPONSE__INIT;
    int64_t started = mr_mono_ms();
    char detail[REG_DETAIL_MAX] = "";
    bool replaced = false;
    mr_err err;

    err = check_request(service, &add, detail, sizeof(detail));
    if (err != MR_OK) {
        goto out;
    }

    reg_store_lock(service->store);
    err = check_server(service->store, add.ws, add.id);
    if (err == MR_OK) {
        err = check_room(service->store, &add, &replaced, detail,
                         sizeof(detail));
    }
    if (err == MR_OK) {
        err = write_client(service, &add);
    }
    reg_store_unlock(service->store);
out:
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }
    MR_INFO("reg.client.added", mr_rpc_request_id(call),
            "operator client stored for workspace %s, server %s, issuer %s "
            "(replaced: %s)",
            add.ws, add.id, add.issuer, replaced ? "yes" : "no");
    resp.replaced = replaced;
    resp.issuer = add.issuer;
    reg_rpc_ok(call, started, &resp.base);
}

/* load_state is the argument of visit_client. */
typedef struct {
    reg_service *service;
    reg_job_clients *out;
} load_state;

/* job_client builds the job's copy of rec, with secret (which may be
 * NULL) in clear text; NULL when memory runs out. */
static Mcpreg__V1__OperatorClient *
job_client(const Mcpreg__V1__OperatorClientRecord *rec, const char *secret)
{
    Mcpreg__V1__OperatorClient *item = calloc(1, sizeof(*item));

    if (item == NULL) {
        return NULL;
    }
    mcpreg__v1__operator_client__init(item);
    item->issuer = strdup(rec->issuer);
    item->client_id = strdup(rec->client_id);
    item->client_secret = strdup(secret != NULL ? secret : "");
    item->token_endpoint_auth_method = strdup(rec->token_endpoint_auth_method);
    return item;
}

static bool
job_client_complete(const Mcpreg__V1__OperatorClient *item)
{
    return item->issuer != NULL && item->client_id != NULL &&
           item->client_secret != NULL &&
           item->token_endpoint_auth_method != NULL;
}

static void
job_client_free(Mcpreg__V1__OperatorClient *item)
{
    if (item == NULL) {
        return;
    }
    free(item->issuer);
    free(item->client_id);
    if (item->client_secret != NULL) {
        explicit_bzero(item->client_secret, strlen(item->client_secret));
        free(item->client_secret);
    }
    free(item->token_endpoint_auth_method);
    free(item);
}

static mr_err
visit_client(void *arg, const char *key, size_t keylen, const char *value,
             size_t len)
{
    load_state *state = arg;
    Mcpreg__V1__OperatorClientRecord *rec = NULL;
    Mcpreg__V1__OperatorClient *item = NULL;
    char *secret = NULL;
    size_t secret_len = 0;
    char why[256];
    mr_err err = MR_EINTERNAL;

    if (state->out->count == REG_CLIENTS_MAX) {
        return MR_OK; /* AddOperatorClient does not bound the table */
    }
    rec = mcpreg__v1__operator_client_record__unpack(NULL, len,
                                                     (const uint8_t *)value);
    if (rec == NULL) {
        MR_ERROR("reg.client.load", NULL,
                 "operator client record %.*s does not decode", (int)keylen,
                 key);
        goto out;
    }
    if (rec->client_secret != NULL &&
        reg_seal_decrypt(&state->service->seal, rec->client_secret, key,
                         keylen, &secret, &secret_len) != MR_OK) {
        reg_seal_explain(&state->service->seal, rec->client_secret, why,
                         sizeof(why));
        MR_ERROR("reg.client.unseal", NULL,
                 "the secret of operator client %.*s cannot be unsealed: %s",
                 (int)keylen, key, why);
        goto out;
    }

    item = job_client(rec, secret);
    err = item != NULL && job_client_complete(item) ? MR_OK : MR_ENOMEM;
    if (err == MR_OK) {
        state->out->items[state->out->count++] = item;
        item = NULL;
    }
out:
    job_client_free(item);
    reg_seal_free(secret, secret_len);
    if (rec != NULL) {
        mcpreg__v1__operator_client_record__free_unpacked(rec, NULL);
    }
    return err;
}

mr_err
reg_clients_load(reg_service *service, const char *ws, const char *server_id,
                 reg_job_clients *out)
{
    load_state state = {.service = service, .out = out};
    reg_key prefix;
    mr_err err;

    memset(out, 0, sizeof(*out));
    err = reg_key_build(&prefix, REG_T_OPCLIENT, ws, server_id, "", NULL);
    if (err == MR_OK) {
        err = reg_store_scan(service->store, &prefix, visit_client, &state);
    }
    return err;
}

void
reg_clients_free(reg_job_clients *list)
{
    for (size_t i = 0; i < list->count; i++) {
        job_client_free(list->items[i]);
    }
    memset(list, 0, sizeof(*list));
}
