/* disc_cache.h - discovered metadata per MCP server URL, reused by later
 * jobs while fresh, so later users pay only for their own registration. */
#ifndef DISC_CACHE_H
#define DISC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disc_freshness.h"
#include "disc_meta.h"

/* DISC_CACHE_DEFAULT_TTL_MS is how long an entry stays fresh when none of
 * the responses it was built from states a lifetime. The worker's
 * --metadata-cache-max-s still caps it. */
#define DISC_CACHE_DEFAULT_TTL_MS (5 * 60 * 1000)

/* disc_cache_entry is the metadata that discovery found for one MCP server
 * URL and that registration needs. The entry owns its strings. */
typedef struct {
    char *resource; /* the protected resource metadata's resource, or NULL */
    char *scope;    /* the scope to register with, or NULL */
    disc_asm as;    /* the authorization server metadata */
    /* The earliest expiry that the metadata responses stated. */
    disc_freshness freshness;
} disc_cache_entry;

typedef struct disc_cache disc_cache;

/* disc_cache_new returns an empty cache of at most max_entries entries, or
 * NULL without memory. It is not thread-safe: one engine thread owns it. */
disc_cache *disc_cache_new(size_t max_entries);

/* disc_cache_free frees the cache and every entry. NULL is allowed. */
void disc_cache_free(disc_cache *cache);

/*
 * disc_cache_get copies the fresh entry of mcp_url into *out, which the
 * caller frees with disc_cache_entry_free, and returns true; it returns
 * false when there is none or it expired at now_ms, or without memory.
 */
bool disc_cache_get(disc_cache *cache, const char *mcp_url, int64_t now_ms,
                    disc_cache_entry *out);

/*
 * disc_cache_put stores a copy of entry for mcp_url until now_ms + ttl_ms,
 * replacing an older one. When the cache is full, the entry that expires
 * first goes. A ttl_ms of 0 or less stores nothing and removes the older
 * entry. It returns MR_OK or MR_ENOMEM.
 */
mr_err disc_cache_put(disc_cache *cache, const char *mcp_url,
                      const disc_cache_entry *entry, int64_t now_ms,
                      int64_t ttl_ms);

/* disc_cache_remove drops the entry of mcp_url, if any. */
void disc_cache_remove(disc_cache *cache, const char *mcp_url);

/* disc_cache_entry_copy deep-copies src into dst, which the caller frees
 * with disc_cache_entry_free. Without memory it returns false and leaves
 * dst empty. */
bool disc_cache_entry_copy(disc_cache_entry *dst, const disc_cache_entry *src);

/* disc_cache_entry_free frees the strings of entry, not entry itself. */
void disc_cache_entry_free(disc_cache_entry *entry);

#endif
