/* disc_share.c - the discoveries in progress and the jobs parked behind
 * them. There are few of each at a time, so lists are scanned. */
#include <stdlib.h>
#include <string.h>

#include "disc_share.h"

/* pending is one discovery in progress and the jobs that wait for it. */
typedef struct pending {
    struct pending *next;
    char *url;
    void **jobs;
    size_t njobs;
    size_t cap;
} pending;

struct disc_share {
    disc_cache *cache;
    pending *pendings;
};

disc_share *
disc_share_new(size_t max_entries)
{
    disc_share *share = calloc(1, sizeof(*share));

    if (share == NULL) {
        return NULL;
    }
    share->cache = disc_cache_new(max_entries);
    if (share->cache == NULL) {
        free(share);
        return NULL;
    }
    return share;
}

static void
pending_free(pending *p)
{
    free(p->url);
    free(p->jobs);
    free(p);
}

void
disc_share_free(disc_share *share)
{
    if (share == NULL) {
        return;
    }
    while (share->pendings != NULL) {
        pending *next = share->pendings->next;

        pending_free(share->pendings);
        share->pendings = next;
    }
    disc_cache_free(share->cache);
    free(share);
}

static pending **
find(disc_share *share, const char *url)
{
    pending **link = &share->pendings;

    while (*link != NULL && strcmp((*link)->url, url) != 0) {
        link = &(*link)->next;
    }
    return link;
}

static bool
park(pending *p, void *job)
{
    void **grown;

    if (p->njobs == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        grown = realloc(p->jobs, p->cap * sizeof(*grown));
        if (grown == NULL) {
            return false;
        }
        p->jobs = grown;
    }
    p->jobs[p->njobs++] = job;
    return true;
}

disc_share_start
disc_share_begin(disc_share *share, const char *url, void *job, int64_t now_ms,
                 disc_cache_entry *entry)
{
    pending **link;
    pending *p;

    if (disc_cache_get(share->cache, url, now_ms, entry)) {
        return DISC_SHARE_CACHED;
    }

    link = find(share, url);
    if (*link != NULL) {
        return park(*link, job) ? DISC_SHARE_WAIT : DISC_SHARE_NOMEM;
    }

    p = calloc(1, sizeof(*p));
    if (p != NULL) {
        p->url = strdup(url);
    }
    if (p == NULL || p->url == NULL) {
        free(p);
        return DISC_SHARE_NOMEM;
    }
    p->next = share->pendings;
    share->pendings = p;
    return DISC_SHARE_LEAD;
}

/* take removes the pending discovery of url and returns its jobs. */
static size_t
take(disc_share *share, const char *url, void ***jobs)
{
    pending **link = find(share, url);
    pending *p = *link;
    size_t n;

    *jobs = NULL;
    if (p == NULL) {
        return 0;
    }
    *link = p->next;
    *jobs = p->jobs;
    n = p->njobs;
    p->jobs = NULL;
    pending_free(p);
    return n;
}

size_t
disc_share_publish(disc_share *share, const char *url,
                   const disc_cache_entry *entry, int64_t now_ms,
                   int64_t ttl_ms, void ***jobs)
{
    /* Without memory for the cache, the parked jobs still get the entry;
     * only later jobs discover again. */
    (void)disc_cache_put(share->cache, url, entry, now_ms, ttl_ms);
    return take(share, url, jobs);
}

size_t
disc_share_abandon(disc_share *share, const char *url, void ***jobs)
{
    return take(share, url, jobs);
}

void
disc_share_evict(disc_share *share, const char *url)
{
    disc_cache_remove(share->cache, url);
}

void
disc_share_forget(disc_share *share, const char *url, void *job)
{
    pending *p = *find(share, url);

    for (size_t i = 0; p != NULL && i < p->njobs; i++) {
        if (p->jobs[i] == job) {
            p->jobs[i] = p->jobs[--p->njobs];
            return;
        }
    }
}
