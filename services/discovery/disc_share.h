/* disc_share.h - one discovery per MCP server URL at a time: later jobs
 * wait for it, then reuse its metadata from the cache while it is fresh. */
#ifndef DISC_SHARE_H
#define DISC_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "disc_cache.h"

/* disc_share_start is what a job does when it starts, per disc_share_begin. */
typedef enum {
    DISC_SHARE_CACHED, /* fresh metadata was copied out: register at once */
    DISC_SHARE_LEAD,   /* discover, then call publish or abandon */
    DISC_SHARE_WAIT,   /* parked behind the job that discovers */
    DISC_SHARE_NOMEM,  /* out of memory: discover without sharing */
} disc_share_start;

typedef struct disc_share disc_share;

/* disc_share_new returns a table whose cache keeps at most max_entries
 * URLs, or NULL without memory. One engine thread owns it. */
disc_share *disc_share_new(size_t max_entries);

/* disc_share_free frees the table; parked jobs are not touched. */
void disc_share_free(disc_share *share);

/*
 * disc_share_begin decides how job (an opaque pointer) starts for url at
 * now_ms. With DISC_SHARE_CACHED, *entry contains a copy that the caller
 * frees with disc_cache_entry_free.
 */
disc_share_start disc_share_begin(disc_share *share, const char *url,
                                  void *job, int64_t now_ms,
                                  disc_cache_entry *entry);

/*
 * disc_share_publish stores what the leading job of url discovered for
 * ttl_ms, or nothing when ttl_ms is 0, and returns the parked jobs, which
 * the caller resumes with the entry. *jobs is a malloc'd array the caller
 * frees; the return value is its length.
 */
size_t disc_share_publish(disc_share *share, const char *url,
                          const disc_cache_entry *entry, int64_t now_ms,
                          int64_t ttl_ms, void ***jobs);

/*
 * disc_share_abandon ends the discovery of url without a result and
 * returns its parked jobs like disc_share_publish; the caller fails them
 * or starts them again.
 */
size_t disc_share_abandon(disc_share *share, const char *url, void ***jobs);

/* disc_share_evict drops the cached metadata of url, so that the next job
 * discovers again. */
void disc_share_evict(disc_share *share, const char *url);

/* disc_share_forget removes a parked job that ends on its own, such as at
 * its deadline. */
void disc_share_forget(disc_share *share, const char *url, void *job);

#endif
