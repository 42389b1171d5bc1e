/* reg_keys.h - API keys: creation, listing, revocation, caller resolution. */
#ifndef REG_KEYS_H
#define REG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpreg/v1/registration.pb-c.h"
#include "mcpreg/v1/store.pb-c.h"
#include "mr_rpc.h"
#include "mr_util.h"
#include "reg_keycache.h"
#include "reg_store.h"

/* REG_API_KEY_PREFIX starts every API key, so leaked keys are easy to find
 * in logs and by secret scanners. */
#define REG_API_KEY_PREFIX "mcpreg_"

/* REG_API_KEY_RANDOM_BYTES is the entropy of a key, whose base64url text
 * is 43 characters. */
#define REG_API_KEY_RANDOM_BYTES 32

/* REG_API_KEY_SIZE is the buffer size of a key and its NUL. */
#define REG_API_KEY_SIZE                                                      \
    (sizeof(REG_API_KEY_PREFIX) + 4 * REG_API_KEY_RANDOM_BYTES / 3 + 2)

/* reg_new_key is the outcome of reg_keys_create. */
typedef struct {
    char key[REG_API_KEY_SIZE]; /* the secret: never log it */
    char key_id[MR_UUID_LEN + 1];
    char workspace_id[MR_UUID_LEN + 1];
    int64_t created_at_ms;
} reg_new_key;

/* reg_key_list is the outcome of reg_keys_list; keys point into records. */
typedef struct {
    Mcpreg__V1__ApiKeyRecord **records;
    Mcpreg__V1__ApiKey **keys;
    size_t n;
} reg_key_list;

/*
 * reg_keys_resolve finds the API key whose SHA-256 caller carries, in cache
 * (which may be NULL) or else in the store, and fills *out. It returns
 * MR_EFORBIDDEN, without saying why, when caller is NULL, the hash is not
 * 32 bytes, or the key is unknown or revoked; MR_EINTERNAL when the store
 * fails.
 */
mr_err reg_keys_resolve(reg_store *store, reg_keycache *cache,
                        const Mcpreg__V1__Caller *caller, reg_caller *out);

/*
 * reg_keys_create makes a new key for req's workspace (a new workspace when
 * empty) and user (a service key when empty) and stores only its SHA-256.
 * It returns MR_EINVALID_FIELD with a detail for a workspace id that is not
 * a UUID or a user id or name longer than REG_TEXT_MAX bytes.
 */
mr_err reg_keys_create(reg_store *store,
                       const Mcpreg__V1__CreateApiKeyRequest *req,
                       reg_new_key *out, char *detail, size_t detail_len);

/*
 * reg_keys_list fills out with the keys of workspace_id, oldest first, and
 * no secrets. The caller frees out with reg_key_list_free. It returns
 * MR_EINVALID_FIELD with a detail when workspace_id is not a UUID.
 */
mr_err reg_keys_list(reg_store *store, const char *workspace_id,
                     reg_key_list *out, char *detail, size_t detail_len);

/* reg_key_list_free frees what reg_keys_list put into list. */
void reg_key_list_free(reg_key_list *list);

/*
 * reg_keys_revoke sets the revocation time of key_id and drops the key from
 * cache (which may be NULL); *revoked is false when it was already revoked.
 * It returns MR_EKEY_NOT_FOUND for an unknown id.
 */
mr_err reg_keys_revoke(reg_store *store, reg_keycache *cache,
                       const char *key_id, bool *revoked);

/* reg_keys_handle_create handles CreateApiKey; arg is the reg_service. */
void reg_keys_handle_create(mr_rpc_call *call, void *arg);

/* reg_keys_handle_list handles ListApiKeys; arg is the reg_service. */
void reg_keys_handle_list(mr_rpc_call *call, void *arg);

/* reg_keys_handle_revoke handles RevokeApiKey; arg is the reg_service. */
void reg_keys_handle_revoke(mr_rpc_call *call, void *arg);

#endif
