/* reg_keys_test.c - unit tests of API keys and caller resolution, against
 * a RocksDB store in a temporary folder. */
#include <string.h>

#include <sodium.h>

#include "mr_test.h"
#include "mr_util.h"
#include "reg_keys.h"
#include "reg_service.h"
#include "reg_test_dir.h"

static char dir[256];

static reg_store *
open_store(void)
{
    reg_store *store = NULL;
    char why[512] = "";

    mr_util_init();
    reg_test_dir_make(dir);
    MR_CHECK_INT(reg_store_open(&store, dir, 8, why, sizeof(why)), ==, MR_OK);
    return store;
}

static void
close_store(reg_store *store)
{
    reg_store_close(store);
    reg_test_dir_remove(dir);
}

static mr_err
create(reg_store *store, const char *ws, const char *user, reg_new_key *out)
{
    Mcpreg__V1__CreateApiKeyRequest req =
        MCPREG__V1__CREATE_API_KEY_REQUEST__INIT;
    char detail[512] = "";

    req.workspace_id = (char *)ws;
    req.user_id = (char *)user;
    req.name = "test";
    return reg_keys_create(store, &req, out, detail, sizeof(detail));
}

/* Resolves the caller that presents key through cache (NULL for none);
 * returns the error. */
static mr_err
resolve(reg_store *store, reg_keycache *cache, const char *key,
        reg_caller *out)
{
    Mcpreg__V1__Caller caller = MCPREG__V1__CALLER__INIT;
    uint8_t hash[MR_SHA256_LEN];

    mr_sha256(key, strlen(key), hash);
    caller.api_key_sha256.data = hash;
    caller.api_key_sha256.len = sizeof(hash);
    return reg_keys_resolve(store, cache, &caller, out);
}

static void
keys_create_and_resolve(void)
{
    reg_store *store = open_store();
    reg_caller resolved;
    reg_new_key key;

    MR_CHECK_INT(create(store, "", "alice", &key), ==, MR_OK);
    MR_CHECK(strncmp(key.key, REG_API_KEY_PREFIX, 7) == 0);
    MR_CHECK_INT(strlen(key.key), ==, 7 + 43);
    MR_CHECK(mr_uuid_canonical(key.workspace_id, (char[MR_UUID_LEN + 1]){0}));
    MR_CHECK(mr_uuid_canonical(key.key_id, (char[MR_UUID_LEN + 1]){0}));

    MR_CHECK_INT(resolve(store, NULL, key.key, &resolved), ==, MR_OK);
    MR_CHECK_STR(resolved.key_id, key.key_id);
    MR_CHECK_STR(resolved.workspace_id, key.workspace_id);
    MR_CHECK_STR(resolved.user_id, "alice");
    close_store(store);
}

static void
keys_create_in_given_workspace(void)
{
    reg_store *store = open_store();
    reg_new_key key;
    char detail[512] = "";
    Mcpreg__V1__CreateApiKeyRequest req =
        MCPREG__V1__CREATE_API_KEY_REQUEST__INIT;

    MR_CHECK_INT(
        create(store, "0F8FAD5B-D9CB-469F-A165-70867728950E", "", &key), ==,
        MR_OK);
    MR_CHECK_STR(key.workspace_id, "0f8fad5b-d9cb-469f-a165-70867728950e");

    MR_CHECK_INT(create(store, "not-a-uuid", "", &key), ==, MR_EINVALID_FIELD);

    req.user_id = (char[REG_TEXT_MAX + 2]){0};
    memset(req.user_id, 'u', REG_TEXT_MAX + 1);
    MR_CHECK_INT(reg_keys_create(store, &req, &key, detail, sizeof(detail)),
                 ==, MR_EINVALID_FIELD);
    MR_CHECK(strstr(detail, "user_id") != NULL);
    close_store(store);
}

static void
keys_resolve_forbids_unknown(void)
{
    reg_store *store = open_store();
    reg_keycache *cache = NULL;
    reg_caller resolved;
    Mcpreg__V1__Caller caller = MCPREG__V1__CALLER__INIT;
    uint8_t short_hash[16] = {0};

    MR_CHECK_INT(reg_keycache_new(16, &cache), ==, MR_OK);
    MR_CHECK_INT(resolve(store, cache, "mcpreg_unknown", &resolved), ==,
                 MR_EFORBIDDEN);
    MR_CHECK_INT(reg_keycache_size(cache), ==, 0);

    caller.api_key_sha256.data = short_hash;
    caller.api_key_sha256.len = sizeof(short_hash);
    MR_CHECK_INT(reg_keys_resolve(store, cache, &caller, &resolved), ==,
                 MR_EFORBIDDEN);
    MR_CHECK_INT(reg_keys_resolve(store, cache, NULL, &resolved), ==,
                 MR_EFORBIDDEN);
    reg_keycache_free(cache);
    close_store(store);
}

/* keys_revoke_forbids_key: a revoked key fails at once, also when the
 * cache held it. */
static void
keys_revoke_forbids_key(void)
{
    reg_store *store = open_store();
    reg_keycache *cache = NULL;
    reg_caller resolved;
    reg_new_key key;
    bool revoked = false;

    MR_CHECK_INT(reg_keycache_new(16, &cache), ==, MR_OK);
    MR_CHECK_INT(create(store, "", "", &key), ==, MR_OK);
    MR_CHECK_INT(resolve(store, cache, key.key, &resolved), ==, MR_OK);
    MR_CHECK_INT(reg_keycache_size(cache), ==, 1);
    MR_CHECK_STR(resolved.user_id, "");

    MR_CHECK_INT(reg_keys_revoke(store, cache, key.key_id, &revoked), ==,
                 MR_OK);
    MR_CHECK(revoked);
    MR_CHECK_INT(reg_keycache_size(cache), ==, 0);
    MR_CHECK_INT(resolve(store, cache, key.key, &resolved), ==, MR_EFORBIDDEN);
    MR_CHECK_INT(resolve(store, NULL, key.key, &resolved), ==, MR_EFORBIDDEN);

    MR_CHECK_INT(reg_keys_revoke(store, cache, key.key_id, &revoked), ==,
                 MR_OK);
    MR_CHECK(!revoked);
    reg_keycache_free(cache);
    close_store(store);
}

/* keys_cache_serves_without_store: a cached key resolves without a store
 * read, which a key deleted from the store behind the cache's back shows. */
static void
keys_cache_serves_without_store(void)
{
    reg_store *store = open_store();
    reg_keycache *cache = NULL;
    reg_caller resolved;
    reg_new_key key;
    uint8_t hash[MR_SHA256_LEN];
    char hex[2 * MR_SHA256_LEN + 1];
    reg_batch *batch = reg_batch_new();
    reg_key record_key;

    MR_CHECK_INT(reg_keycache_new(16, &cache), ==, MR_OK);
    MR_CHECK_INT(create(store, "", "bob", &key), ==, MR_OK);
    MR_CHECK_INT(resolve(store, cache, key.key, &resolved), ==, MR_OK);

    mr_sha256(key.key, strlen(key.key), hash);
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
    reg_key_build(&record_key, REG_T_KEY, hex, NULL);
    reg_batch_delete(batch, &record_key);
    reg_store_lock(store);
    MR_CHECK_INT(reg_store_write(store, batch), ==, MR_OK);
    reg_store_unlock(store);
    reg_batch_free(batch);

    memset(&resolved, 0, sizeof(resolved));
    MR_CHECK_INT(resolve(store, cache, key.key, &resolved), ==, MR_OK);
    MR_CHECK_STR(resolved.user_id, "bob");
    MR_CHECK_STR(resolved.workspace_id, key.workspace_id);
    MR_CHECK_INT(resolve(store, NULL, key.key, &resolved), ==, MR_EFORBIDDEN);
    reg_keycache_free(cache);
    close_store(store);
}

static void
keys_revoke_unknown_id(void)
{
    reg_store *store = open_store();
    bool revoked = true;

    MR_CHECK_INT(reg_keys_revoke(store, NULL,
                                 "0f8fad5b-d9cb-469f-a165-70867728950e",
                                 &revoked),
                 ==, MR_EKEY_NOT_FOUND);
    MR_CHECK(!revoked);
    MR_CHECK_INT(reg_keys_revoke(store, NULL, "nope", &revoked), ==,
                 MR_EKEY_NOT_FOUND);
    close_store(store);
}

static void
keys_list_one_workspace(void)
{
    reg_store *store = open_store();
    reg_new_key first, second, other;
    reg_key_list list;
    char detail[512] = "";
    bool revoked = false;

    MR_CHECK_INT(create(store, "", "alice", &first), ==, MR_OK);
    usleep(2000); /* so the two creation times differ */
    MR_CHECK_INT(create(store, first.workspace_id, "", &second), ==, MR_OK);
    MR_CHECK_INT(create(store, "", "bob", &other), ==, MR_OK);
    reg_keys_revoke(store, NULL, second.key_id, &revoked);

    MR_CHECK_INT(reg_keys_list(store, first.workspace_id, &list, detail,
                               sizeof(detail)),
                 ==, MR_OK);
    MR_CHECK_INT(list.n, ==, 2);
    if (list.n == 2) {
        MR_CHECK_STR(list.keys[0]->key_id, first.key_id);
        MR_CHECK_STR(list.keys[0]->user_id, "alice");
        MR_CHECK_INT(list.keys[0]->revoked_at_ms, ==, 0);
        MR_CHECK_STR(list.keys[1]->key_id, second.key_id);
        MR_CHECK_INT(list.keys[1]->revoked_at_ms, >, 0);
    }
    reg_key_list_free(&list);

    MR_CHECK_INT(reg_keys_list(store, "bad", &list, detail, sizeof(detail)),
                 ==, MR_EINVALID_FIELD);
    close_store(store);
}

/* check_text_rejects_lookalikes: values that would name a user resolved looks
 * like another one, and bytes that are not text. */
static void
check_text_rejects_lookalikes(void)
{
    static const char *const bad[] = {
        " alice",    "alice ",        "al\tice",
        "al\x01ice", "al\x7fice",     "al\xc2\x85ice",
        "al\xffice", "al\xc0\xafice", "al\xed\xa0\x80ice",
    };
    char detail[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        detail[0] = '\0';
        MR_CHECK_INT(reg_check_text("user_id", bad[i], detail, sizeof(detail)),
                     ==, MR_EINVALID_FIELD);
        MR_CHECK(strstr(detail, "'user_id'") != NULL);
    }
    MR_CHECK_INT(reg_check_text("user_id", "al ice", detail, sizeof(detail)),
                 ==, MR_OK);
    MR_CHECK_INT(
        reg_check_text("user_id", "\xc3\xa9lodie", detail, sizeof(detail)), ==,
        MR_OK);
}

static const mr_test_case cases[] = {
    {"check_text_rejects_lookalikes", check_text_rejects_lookalikes},
    {"keys_create_and_resolve", keys_create_and_resolve},
    {"keys_create_in_given_workspace", keys_create_in_given_workspace},
    {"keys_resolve_forbids_unknown", keys_resolve_forbids_unknown},
    {"keys_revoke_forbids_key", keys_revoke_forbids_key},
    {"keys_cache_serves_without_store", keys_cache_serves_without_store},
    {"keys_revoke_unknown_id", keys_revoke_unknown_id},
    {"keys_list_one_workspace", keys_list_one_workspace},
};

MR_TEST_MAIN(cases)
