/* reg_keys.c - API keys: creation, listing, revocation, caller resolution. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mr_log.h"
#include "reg_keys.h"
#include "reg_service.h"

#define HASH_HEX_LEN (2 * MR_SHA256_LEN)

/* Reads the key record of hash from the store into *out. */
static mr_err
read_caller(reg_store *store, const uint8_t hash[MR_SHA256_LEN],
            reg_caller *out)
{
    char hex[HASH_HEX_LEN + 1];
    reg_key key;
    ProtobufCMessage *msg = NULL;
    Mcpreg__V1__ApiKeyRecord *rec;
    mr_err err;

    sodium_bin2hex(hex, sizeof(hex), hash, MR_SHA256_LEN);
    reg_key_build(&key, REG_T_KEY, hex, NULL);

    err = reg_store_get_msg(store, &key,
                            &mcpreg__v1__api_key_record__descriptor, &msg);
    if (err != MR_OK) {
        return err;
    }
    rec = (Mcpreg__V1__ApiKeyRecord *)msg;
    /* The read found the record by the hash already; comparing the stored
     * hash as well keeps the check constant-time if the lookup changes. */
    if (rec == NULL || rec->info == NULL || rec->info->revoked_at_ms != 0 ||
        rec->key_sha256.len != MR_SHA256_LEN ||
        !mr_equal_ct(rec->key_sha256.data, hash, MR_SHA256_LEN)) {
        err = MR_EFORBIDDEN;
        goto out;
    }
    snprintf(out->key_id, sizeof(out->key_id), "%s", rec->info->key_id);
    snprintf(out->workspace_id, sizeof(out->workspace_id), "%s",
             rec->info->workspace_id);
    snprintf(out->user_id, sizeof(out->user_id), "%s", rec->info->user_id);

out:
    if (rec != NULL) {
        mcpreg__v1__api_key_record__free_unpacked(rec, NULL);
    }
    return err;
}

mr_err
reg_keys_resolve(reg_store *store, reg_keycache *cache,
                 const Mcpreg__V1__Caller *caller, reg_caller *out)
{
    const uint8_t *hash;
    uint64_t epoch;
    mr_err err;

    if (caller == NULL || caller->api_key_sha256.len != MR_SHA256_LEN) {
        return MR_EFORBIDDEN;
    }
    hash = caller->api_key_sha256.data;
    if (reg_keycache_get(cache, hash, out)) {
        return MR_OK;
    }

    /* Read before the store, so that a revocation in between keeps this
     * read out of the cache. */
    epoch = reg_keycache_epoch(cache);
    err = read_caller(store, hash, out);
    if (err == MR_OK) {
        reg_keycache_put(cache, hash, out, epoch);
    }
    return err;
}

static mr_err
check_create_request(const Mcpreg__V1__CreateApiKeyRequest *req,
                     char workspace_id[MR_UUID_LEN + 1], char *detail,
                     size_t detail_len)
{
    mr_err err;

    if (req->workspace_id[0] == '\0') {
        mr_uuid_v4(workspace_id);
    } else if (!mr_uuid_canonical(req->workspace_id, workspace_id)) {
        snprintf(detail, detail_len,
                 "Set 'workspace_id' to a workspace UUID, or leave it empty "
                 "for a new workspace: the value is not a UUID");
        return MR_EINVALID_FIELD;
    }

    err = reg_check_text("user_id", req->user_id, detail, detail_len);
    if (err == MR_OK) {
        err = reg_check_text("name", req->name, detail, detail_len);
    }
    return err;
}

/* Adds the three keys of a new API key to batch. */
static mr_err
add_key(reg_batch *batch, const Mcpreg__V1__ApiKeyRecord *rec,
        const char *hash_hex)
{
    const Mcpreg__V1__ApiKey *info = rec->info;
    reg_key key;
    mr_err err;

    err = reg_key_build(&key, REG_T_KEY, hash_hex, NULL);
    if (err == MR_OK) {
        err = reg_batch_put_msg(batch, &key, &rec->base);
    }
    if (err == MR_OK) {
        err = reg_key_build(&key, REG_T_KEYID, info->key_id, NULL);
    }
    if (err == MR_OK) {
        reg_batch_put(batch, &key, hash_hex, HASH_HEX_LEN);
        err = reg_key_build(&key, REG_T_WSKEY, info->workspace_id,
                            info->key_id, NULL);
    }
    if (err == MR_OK) {
        reg_batch_put(batch, &key, "", 0);
    }
    return err;
}

static void
new_key_text(char *out, size_t outlen, uint8_t hash[MR_SHA256_LEN],
             char hash_hex[HASH_HEX_LEN + 1])
{
    size_t prefix_len = strlen(REG_API_KEY_PREFIX);

    memcpy(out, REG_API_KEY_PREFIX, prefix_len);
    mr_random_token(REG_API_KEY_RANDOM_BYTES, out + prefix_len,
                    outlen - prefix_len);
    mr_sha256(out, strlen(out), hash);
    sodium_bin2hex(hash_hex, HASH_HEX_LEN + 1, hash, MR_SHA256_LEN);
}

mr_err
reg_keys_create(reg_store *store, const Mcpreg__V1__CreateApiKeyRequest *req,
                reg_new_key *out, char *detail, size_t detail_len)
{
    Mcpreg__V1__ApiKeyRecord rec = MCPREG__V1__API_KEY_RECORD__INIT;
    Mcpreg__V1__ApiKey info = MCPREG__V1__API_KEY__INIT;
    char hash_hex[HASH_HEX_LEN + 1];
    uint8_t hash[MR_SHA256_LEN];
    reg_batch *batch = NULL;
    mr_err err;

    memset(out, 0, sizeof(*out));
    err = check_create_request(req, out->workspace_id, detail, detail_len);
    if (err != MR_OK) {
        goto out;
    }

    new_key_text(out->key, sizeof(out->key), hash, hash_hex);
    mr_uuid_v4(out->key_id);
    out->created_at_ms = mr_now_ms();
    info.key_id = out->key_id;
    info.workspace_id = out->workspace_id;
    info.user_id = req->user_id;
    info.name = req->name;
    info.created_at_ms = out->created_at_ms;
    rec.info = &info;
    rec.key_sha256.data = hash;
    rec.key_sha256.len = sizeof(hash);

    batch = reg_batch_new();
    err = batch ? add_key(batch, &rec, hash_hex) : MR_ENOMEM;
    if (err == MR_OK) {
        err = reg_store_write(store, batch);
    }

out:
    reg_batch_free(batch);
    if (err != MR_OK) {
        sodium_memzero(out->key, sizeof(out->key));
    }
    return err;
}

/* Reads the record of key_id through the keyid/ index. *rec is NULL when
 * the id is unknown. */
static mr_err
load_key(reg_store *store, const char *key_id, Mcpreg__V1__ApiKeyRecord **rec,
         reg_key *record_key)
{
    reg_key key;
    char *stored = NULL;
    char hash_hex[HASH_HEX_LEN + 1];
    size_t len = 0;
    mr_err err;

    *rec = NULL;
    err = reg_key_build(&key, REG_T_KEYID, key_id, NULL);
    if (err == MR_OK) {
        err = reg_store_get(store, &key, &stored, &len);
    }
    if (err != MR_OK || stored == NULL) {
        goto out;
    }

    if (len != HASH_HEX_LEN) {
        err = MR_EINTERNAL;
        goto out;
    }
    memcpy(hash_hex, stored, HASH_HEX_LEN);
    hash_hex[HASH_HEX_LEN] = '\0';
    reg_key_build(record_key, REG_T_KEY, hash_hex, NULL);
    err = reg_store_get_msg(store, record_key,
                            &mcpreg__v1__api_key_record__descriptor,
                            (ProtobufCMessage **)rec);

out:
    reg_store_free(stored);
    return err;
}

/* Collects the records named by the wskey/ keys of a workspace. */
typedef struct {
    reg_store *store;
    size_t prefix_len;
    reg_key_list *list;
} list_scan;

static mr_err
add_listed_key(void *arg, const char *key, size_t keylen, const char *value,
               size_t len)
{
    list_scan *scan = arg;
    reg_key_list *list = scan->list;
    char key_id[MR_UUID_LEN + 1];
    reg_key record_key;
    Mcpreg__V1__ApiKeyRecord *rec = NULL;
    void *grown;
    mr_err err;

    (void)value;
    (void)len;
    if (keylen - scan->prefix_len != MR_UUID_LEN) {
        return MR_EINTERNAL;
    }
    memcpy(key_id, key + scan->prefix_len, MR_UUID_LEN);
    key_id[MR_UUID_LEN] = '\0';

    err = load_key(scan->store, key_id, &rec, &record_key);
    if (err != MR_OK || rec == NULL || rec->info == NULL) {
        /* A listed key without its record is skipped, and only a failed
         * read stops the listing. */
        if (rec != NULL) {
            mcpreg__v1__api_key_record__free_unpacked(rec, NULL);
        }
        return err;
    }

    grown = realloc(list->records, (list->n + 1) * sizeof(*list->records));
    if (grown == NULL) {
        mcpreg__v1__api_key_record__free_unpacked(rec, NULL);
        return MR_ENOMEM;
    }
    list->records = grown;
    list->records[list->n++] = rec;
    return MR_OK;
}

static int
compare_keys(const void *a, const void *b)
{
    const Mcpreg__V1__ApiKey *x = *(Mcpreg__V1__ApiKey *const *)a;
    const Mcpreg__V1__ApiKey *y = *(Mcpreg__V1__ApiKey *const *)b;

    if (x->created_at_ms != y->created_at_ms) {
        return x->created_at_ms < y->created_at_ms ? -1 : 1;
    }
    return strcmp(x->key_id, y->key_id);
}

mr_err
reg_keys_list(reg_store *store, const char *workspace_id, reg_key_list *out,
              char *detail, size_t detail_len)
{
    char ws[MR_UUID_LEN + 1];
    reg_key prefix;
    list_scan scan = {store, 0, out};
    mr_err err;

    memset(out, 0, sizeof(*out));
    if (!mr_uuid_canonical(workspace_id, ws)) {
        snprintf(detail, detail_len,
                 "Set 'workspace_id' to a workspace UUID: the value is not a "
                 "UUID");
        return MR_EINVALID_FIELD;
    }
    reg_key_build(&prefix, REG_T_WSKEY, ws, "", NULL);
    scan.prefix_len = prefix.len;

    err = reg_store_scan(store, &prefix, add_listed_key, &scan);
    if (err == MR_OK && out->n > 0) {
        out->keys = malloc(out->n * sizeof(*out->keys));
        err = out->keys ? MR_OK : MR_ENOMEM;
    }
    if (err != MR_OK) {
        reg_key_list_free(out);
        return err;
    }

    for (size_t i = 0; i < out->n; i++) {
        out->keys[i] = out->records[i]->info;
    }
    if (out->n > 1) {
        qsort(out->keys, out->n, sizeof(*out->keys), compare_keys);
    }
    return MR_OK;
}

void
reg_key_list_free(reg_key_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        mcpreg__v1__api_key_record__free_unpacked(list->records[i], NULL);
    }
    free(list->records);
    free(list->keys);
    memset(list, 0, sizeof(*list));
}

/* Writes rec back with its revocation time set. The caller holds the
 * store lock. */
static mr_err
write_revoked(reg_store *store, Mcpreg__V1__ApiKeyRecord *rec,
              const reg_key *record_key)
{
    reg_batch *batch = reg_batch_new();
    mr_err err;

    if (batch == NULL) {
        return MR_ENOMEM;
    }
    rec->info->revoked_at_ms = mr_now_ms();
    err = reg_batch_put_msg(batch, record_key, &rec->base);
    if (err == MR_OK) {
        err = reg_store_write(store, batch);
    }
    reg_batch_free(batch);
    return err;
}

mr_err
reg_keys_revoke(reg_store *store, reg_keycache *cache, const char *key_id,
                bool *revoked)
{
    char id[MR_UUID_LEN + 1];
    Mcpreg__V1__ApiKeyRecord *rec = NULL;
    reg_key record_key;
    mr_err err;

    *revoked = false;
    if (!mr_uuid_canonical(key_id, id)) {
        return MR_EKEY_NOT_FOUND;
    }

    reg_store_lock(store);
    err = load_key(store, id, &rec, &record_key);
    if (err == MR_OK && (rec == NULL || rec->info == NULL)) {
        err = MR_EKEY_NOT_FOUND;
    }
    if (err == MR_OK && rec->info->revoked_at_ms == 0) {
        err = write_revoked(store, rec, &record_key);
        *revoked = err == MR_OK;
    }
    if (*revoked && rec->key_sha256.len == MR_SHA256_LEN) {
        reg_keycache_forget(cache, rec->key_sha256.data);
    }
    reg_store_unlock(store);

    if (rec != NULL) {
        mcpreg__v1__api_key_record__free_unpacked(rec, NULL);
    }
    return err;
}

void
reg_keys_handle_create(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__CreateApiKeyRequest *req =
        (const Mcpreg__V1__CreateApiKeyRequest *)mr_rpc_request(call);
    Mcpreg__V1__CreateApiKeyResponse resp =
        MCPREG__V1__CREATE_API_KEY_RESPONSE__INIT;
    Mcpreg__V1__ApiKey info = MCPREG__V1__API_KEY__INIT;
    int64_t started = mr_mono_ms();
    char detail[REG_DETAIL_MAX] = "";
    reg_new_key created;
    mr_err err;

    err =
        reg_keys_create(service->store, req, &created, detail, sizeof(detail));
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }
    MR_INFO("reg.key.created", mr_rpc_request_id(call),
            "created API key %s in workspace %s (%s)", created.key_id,
            created.workspace_id,
            req->user_id[0] ? "personal key" : "service key");

    info.key_id = created.key_id;
    info.workspace_id = created.workspace_id;
    info.user_id = req->user_id;
    info.name = req->name;
    info.created_at_ms = created.created_at_ms;
    resp.key = created.key;
    resp.info = &info;
    reg_rpc_ok(call, started, &resp.base);
    sodium_memzero(created.key, sizeof(created.key));
}

void
reg_keys_handle_list(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__ListApiKeysRequest *req =
        (const Mcpreg__V1__ListApiKeysRequest *)mr_rpc_request(call);
    Mcpreg__V1__ListApiKeysResponse resp =
        MCPREG__V1__LIST_API_KEYS_RESPONSE__INIT;
    int64_t started = mr_mono_ms();
    char detail[REG_DETAIL_MAX] = "";
    reg_key_list list;
    mr_err err;

    err = reg_keys_list(service->store, req->workspace_id, &list, detail,
                        sizeof(detail));
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }
    resp.n_keys = list.n;
    resp.keys = list.keys;
    reg_rpc_ok(call, started, &resp.base);
    reg_key_list_free(&list);
}

void
reg_keys_handle_revoke(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__RevokeApiKeyRequest *req =
        (const Mcpreg__V1__RevokeApiKeyRequest *)mr_rpc_request(call);
    Mcpreg__V1__RevokeApiKeyResponse resp =
        MCPREG__V1__REVOKE_API_KEY_RESPONSE__INIT;
    int64_t started = mr_mono_ms();
    bool revoked = false;
    mr_err err;

    err =
        reg_keys_revoke(service->store, service->keys, req->key_id, &revoked);
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, NULL, 0);
        return;
    }
    if (revoked) {
        MR_INFO("reg.key.revoked", mr_rpc_request_id(call),
                "revoked API key %s", req->key_id);
    }
    resp.revoked = revoked;
    reg_rpc_ok(call, started, &resp.base);
}
