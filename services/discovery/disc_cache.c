/* disc_cache.c - a small expiring map from MCP server URL to metadata. */
#include <stdlib.h>
#include <string.h>

#include "disc_cache.h"

typedef struct {
    char *url; /* NULL for a free slot */
    int64_t expires_ms;
    disc_cache_entry entry;
} slot;

struct disc_cache {
    slot *slots;
    size_t nslots;
};

/* dup_or_null copies text; *ok turns false when memory runs out. */
static char *
dup_or_null(const char *text, bool *ok)
{
    char *copy;

    if (text == NULL) {
        return NULL;
    }
    copy = strdup(text);
    if (copy == NULL) {
        *ok = false;
    }
    return copy;
}

bool
disc_cache_entry_copy(disc_cache_entry *dst, const disc_cache_entry *src)
{
    bool ok = true;

    memset(dst, 0, sizeof(*dst));
    dst->resource = dup_or_null(src->resource, &ok);
    dst->scope = dup_or_null(src->scope, &ok);
    dst->as.issuer = dup_or_null(src->as.issuer, &ok);
    dst->as.authorization_endpoint =
        dup_or_null(src->as.authorization_endpoint, &ok);
    dst->as.token_endpoint = dup_or_null(src->as.token_endpoint, &ok);
    dst->as.registration_endpoint =
        dup_or_null(src->as.registration_endpoint, &ok);
    dst->as.revocation_endpoint =
        dup_or_null(src->as.revocation_endpoint, &ok);
    dst->as.auth_methods = src->as.auth_methods;
    dst->as.client_id_metadata_document_supported =
        src->as.client_id_metadata_document_supported;
    dst->freshness = src->freshness;

    if (!ok) {
        disc_cache_entry_free(dst);
    }
    return ok;
}

void
disc_cache_entry_free(disc_cache_entry *entry)
{
    free(entry->resource);
    free(entry->scope);
    disc_asm_free(&entry->as);
    memset(entry, 0, sizeof(*entry));
}

static void
clear_slot(slot *s)
{
    free(s->url);
    disc_cache_entry_free(&s->entry);
    memset(s, 0, sizeof(*s));
}

disc_cache *
disc_cache_new(size_t max_entries)
{
    disc_cache *cache = calloc(1, sizeof(*cache));

    if (cache == NULL) {
        return NULL;
    }
    cache->nslots = max_entries > 0 ? max_entries : 1;
    cache->slots = calloc(cache->nslots, sizeof(*cache->slots));
    if (cache->slots == NULL) {
        free(cache);
        return NULL;
    }
    return cache;
}

void
disc_cache_free(disc_cache *cache)
{
    if (cache == NULL) {
        return;
    }
    for (size_t i = 0; i < cache->nslots; i++) {
        clear_slot(&cache->slots[i]);
    }
    free(cache->slots);
    free(cache);
}

/* find returns the slot of url, or NULL. A linear scan: the cache keeps one
 * entry per MCP server in use, a few hundred at most. */
static slot *
find(disc_cache *cache, const char *url)
{
    for (size_t i = 0; i < cache->nslots; i++) {
        slot *s = &cache->slots[i];

        if (s->url != NULL && strcmp(s->url, url) == 0) {
            return s;
        }
    }
    return NULL;
}

bool
disc_cache_get(disc_cache *cache, const char *mcp_url, int64_t now_ms,
               disc_cache_entry *out)
{
    slot *s = find(cache, mcp_url);

    if (s == NULL) {
        return false;
    }
    if (s->expires_ms <= now_ms) {
        clear_slot(s);
        return false;
    }
    return disc_cache_entry_copy(out, &s->entry);
}

void
disc_cache_remove(disc_cache *cache, const char *mcp_url)
{
    slot *s = find(cache, mcp_url);

    if (s != NULL) {
        clear_slot(s);
    }
}

/* victim returns a free slot, else the one that expires first. */
static slot *
victim(disc_cache *cache)
{
    slot *first = &cache->slots[0];

    for (size_t i = 0; i < cache->nslots; i++) {
        slot *s = &cache->slots[i];

        if (s->url == NULL) {
            return s;
        }
        if (s->expires_ms < first->expires_ms) {
            first = s;
        }
    }
    return first;
}

mr_err
disc_cache_put(disc_cache *cache, const char *mcp_url,
               const disc_cache_entry *entry, int64_t now_ms, int64_t ttl_ms)
{
    slot *s = find(cache, mcp_url);
    slot fresh = {0};

    if (ttl_ms <= 0) {
        if (s != NULL) {
            clear_slot(s);
        }
        return MR_OK;
    }
    fresh.url = strdup(mcp_url);
    if (fresh.url == NULL || !disc_cache_entry_copy(&fresh.entry, entry)) {
        free(fresh.url);
        return MR_ENOMEM;
    }
    fresh.expires_ms = now_ms + ttl_ms;

    if (s == NULL) {
        s = victim(cache);
    }
    clear_slot(s);
    *s = fresh;
    return MR_OK;
}
