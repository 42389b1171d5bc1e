/* reg_keycache.h - a bounded in-memory cache of resolved API keys. */
#ifndef REG_KEYCACHE_H
#define REG_KEYCACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mr_util.h"
#include "reg_text.h"

/* reg_caller is what an API key grants: its workspace and, for a user key,
 * its user ("" for a service key). */
typedef struct {
    char key_id[MR_UUID_LEN + 1];
    char workspace_id[MR_UUID_LEN + 1];
    char user_id[REG_TEXT_MAX + 1];
} reg_caller;

/* NOTE: the cache is per process, so only a revocation handled by this
 * process clears it. */
typedef struct reg_keycache reg_keycache;

/*
 * reg_keycache_new makes a cache of at most entries keys, each found by the
 * SHA-256 of the key. A new key takes the slot its hash points to, so
 * memory stays bounded by entries without any eviction list. It returns
 * MR_ENOMEM, or MR_OK with *out NULL when entries is 0: every function
 * below takes a NULL cache as an empty one.
 */
mr_err reg_keycache_new(size_t entries, reg_keycache **out);

/* reg_keycache_free frees cache and its entries. */
void reg_keycache_free(reg_keycache *cache);

/*
 * reg_keycache_epoch returns the count of reg_keycache_forget calls so far.
 * A caller reads it before it reads a key from the store and passes it to
 * reg_keycache_put, which then stores nothing if a key was forgotten in
 * between: a read that raced a revocation never enters the cache.
 */
uint64_t reg_keycache_epoch(reg_keycache *cache);

/* reg_keycache_get copies the caller of hash into *out and returns true,
 * or returns false when hash is not cached. */
bool reg_keycache_get(reg_keycache *cache, const uint8_t hash[MR_SHA256_LEN],
                      reg_caller *out);

/* reg_keycache_put caches caller under hash, replacing what held its slot,
 * unless a key was forgotten since epoch or memory runs out. */
void reg_keycache_put(reg_keycache *cache, const uint8_t hash[MR_SHA256_LEN],
                      const reg_caller *caller, uint64_t epoch);

/* reg_keycache_forget drops hash from the cache. The caller changes the
 * store first, so that no later read can bring the old record back. */
void reg_keycache_forget(reg_keycache *cache,
                         const uint8_t hash[MR_SHA256_LEN]);

/* reg_keycache_size returns the number of cached keys. */
size_t reg_keycache_size(reg_keycache *cache);

#endif
