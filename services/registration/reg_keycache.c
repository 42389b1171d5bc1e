/* reg_keycache.c - a bounded in-memory cache of resolved API keys. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "reg_keycache.h"

/* STRIPES is the number of locks over the slots: enough that concurrent
 * lookups of different keys rarely wait for each other. */
#define STRIPES 64

/* An entry holds only the bytes its user id needs. */
typedef struct {
    uint8_t hash[MR_SHA256_LEN];
    char key_id[MR_UUID_LEN + 1];
    char workspace_id[MR_UUID_LEN + 1];
    size_t user_len;
    char user_id[];
} entry;

struct reg_keycache {
    entry **slots;
    size_t nslots;
    pthread_mutex_t locks[STRIPES];
    atomic_uint_fast64_t epoch; /* written under every lock it could race */
    atomic_size_t size;
};

mr_err
reg_keycache_new(size_t entries, reg_keycache **out)
{
    reg_keycache *cache;

    *out = NULL;
    if (entries == 0) {
        return MR_OK;
    }
    cache = calloc(1, sizeof(*cache));
    if (cache == NULL) {
        return MR_ENOMEM;
    }
    cache->slots = calloc(entries, sizeof(*cache->slots));
    if (cache->slots == NULL) {
        free(cache);
        return MR_ENOMEM;
    }

    cache->nslots = entries;
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&cache->locks[i], NULL);
    }
    *out = cache;
    return MR_OK;
}

void
reg_keycache_free(reg_keycache *cache)
{
    if (cache == NULL) {
        return;
    }
    for (size_t i = 0; i < cache->nslots; i++) {
        free(cache->slots[i]);
    }
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_destroy(&cache->locks[i]);
    }
    free(cache->slots);
    free(cache);
}

/* slot_of returns the slot of hash. A SHA-256 is uniform, so its first
 * bytes serve as the index. */
static size_t
slot_of(const reg_keycache *cache, const uint8_t hash[MR_SHA256_LEN])
{
    uint64_t n;

    memcpy(&n, hash, sizeof(n));
    return (size_t)(n % cache->nslots);
}

static pthread_mutex_t *
lock_of(reg_keycache *cache, size_t slot)
{
    return &cache->locks[slot % STRIPES];
}

/* matches returns whether e contains hash, comparing in constant time. */
static bool
matches(const entry *e, const uint8_t hash[MR_SHA256_LEN])
{
    return e != NULL && mr_equal_ct(e->hash, hash, MR_SHA256_LEN);
}

uint64_t
reg_keycache_epoch(reg_keycache *cache)
{
    return cache != NULL ? atomic_load(&cache->epoch) : 0;
}

bool
reg_keycache_get(reg_keycache *cache, const uint8_t hash[MR_SHA256_LEN],
                 reg_caller *out)
{
    size_t slot;
    entry *e;
    bool found;

    if (cache == NULL) {
        return false;
    }
    slot = slot_of(cache, hash);

    pthread_mutex_lock(lock_of(cache, slot));
    e = cache->slots[slot];
    found = matches(e, hash);
    if (found) {
        memcpy(out->key_id, e->key_id, sizeof(out->key_id));
        memcpy(out->workspace_id, e->workspace_id, sizeof(out->workspace_id));
        memcpy(out->user_id, e->user_id, e->user_len + 1);
    }
    pthread_mutex_unlock(lock_of(cache, slot));
    return found;
}

/* new_entry returns a copy of caller under hash, or NULL without memory. */
static entry *
new_entry(const uint8_t hash[MR_SHA256_LEN], const reg_caller *caller)
{
    size_t user_len = strnlen(caller->user_id, REG_TEXT_MAX);
    entry *e = malloc(sizeof(*e) + user_len + 1);

    if (e == NULL) {
        return NULL;
    }
    memcpy(e->hash, hash, MR_SHA256_LEN);
    memcpy(e->key_id, caller->key_id, sizeof(e->key_id));
    memcpy(e->workspace_id, caller->workspace_id, sizeof(e->workspace_id));
    memcpy(e->user_id, caller->user_id, user_len);
    e->user_id[user_len] = '\0';
    e->user_len = user_len;
    return e;
}

void
reg_keycache_put(reg_keycache *cache, const uint8_t hash[MR_SHA256_LEN],
                 const reg_caller *caller, uint64_t epoch)
{
    entry *e;
    entry *old = NULL;
    size_t slot;

    if (cache == NULL) {
        return;
    }
    e = new_entry(hash, caller);
    if (e == NULL) {
        return; /* the next lookup reads the store again */
    }
    slot = slot_of(cache, hash);

    /* forget bumps the epoch under the same lock, so this check and the
     * store cannot fall between its bump and its removal. */
    pthread_mutex_lock(lock_of(cache, slot));
    if (atomic_load(&cache->epoch) == epoch) {
        old = cache->slots[slot];
        cache->slots[slot] = e;
        e = NULL;
        if (old == NULL) {
            atomic_fetch_add(&cache->size, 1);
        }
    }
    pthread_mutex_unlock(lock_of(cache, slot));

    free(old);
    free(e);
}

void
reg_keycache_forget(reg_keycache *cache, const uint8_t hash[MR_SHA256_LEN])
{
    entry *old = NULL;
    size_t slot;

    if (cache == NULL) {
        return;
    }
    slot = slot_of(cache, hash);

    /* The epoch moves for every stripe, so puts of other keys that raced
     * this one are dropped too: rare, and only costs them a later read. */
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&cache->locks[i]);
    }
    atomic_fetch_add(&cache->epoch, 1);
    if (matches(cache->slots[slot], hash)) {
        old = cache->slots[slot];
        cache->slots[slot] = NULL;
        atomic_fetch_sub(&cache->size, 1);
    }
    for (int i = STRIPES - 1; i >= 0; i--) {
        pthread_mutex_unlock(&cache->locks[i]);
    }

    free(old);
}

size_t
reg_keycache_size(reg_keycache *cache)
{
    return cache != NULL ? atomic_load(&cache->size) : 0;
}
