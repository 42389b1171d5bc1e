/* disc_engine_share.c - jobs for one MCP server share its discovery: the
 * first job discovers, later ones wait and reuse its metadata. */
#include <stdlib.h>

#include "disc_engine_internal.h"
#include "mr_log.h"
#include "mr_util.h"

/* A leader's timeout is its own, so the parked jobs discover again. Any
 * other failure is theirs too, because they would meet it the same way. */
void
disc_engine__release_parked(disc_engine *engine, const job *leader, mr_err err,
                            const char *detail)
{
    void **parked = NULL;
    size_t n = disc_share_abandon(engine->share, leader->share_url, &parked);

    for (size_t i = 0; i < n; i++) {
        job *pj = parked[i];

        pj->parked = false;
        if (err == MR_ETIMEDOUT) {
            disc_engine__begin_job(engine, pj);
        } else {
            pj->retry_after_s = leader->retry_after_s;
            disc_engine__finish(engine, pj, err, detail);
        }
    }
    free(parked);
}

/* resume_parked starts the jobs parked behind a leader from what it
 * discovered. */
static void
resume_parked(disc_engine *engine, void **parked, size_t n,
              const disc_cache_entry *entry)
{
    for (size_t i = 0; i < n; i++) {
        job *pj = parked[i];

        pj->parked = false;
        if (disc_flow_use_cached(pj->flow, entry) != MR_OK) {
            disc_engine__finish(engine, pj, MR_ENOMEM, "out of memory");
            continue;
        }
        disc_engine__advance(engine, pj, NULL);
    }
}

/* The metadata is published before the leader's own registration, so the
 * parked jobs register in parallel with it. They get it even when its
 * responses forbid reuse, and only later jobs then discover again. */
void
disc_engine__share_progress(disc_engine *engine, job *j)
{
    disc_cache_entry entry;
    void **parked = NULL;
    int64_t now_ms = mr_mono_ms();
    int64_t ttl_ms;
    size_t n;

    if (!j->leader || !disc_flow_discovered(j->flow, &entry)) {
        return;
    }
    j->leader = false;
    ttl_ms = disc_freshness_ttl_ms(&entry.freshness, now_ms,
                                   DISC_CACHE_DEFAULT_TTL_MS,
                                   engine->cfg.metadata_cache_max_ms);
    MR_DEBUG("disc.cache.store", j->request_id,
             "job %s: the metadata of %s may be reused for %lld ms", j->job_id,
             j->host, (long long)ttl_ms);
    n = disc_share_publish(engine->share, j->share_url, &entry, now_ms, ttl_ms,
                           &parked);
    resume_parked(engine, parked, n, &entry);
    free(parked);
    disc_cache_entry_free(&entry);
}

void
disc_engine__begin_job(disc_engine *engine, job *j)
{
    disc_cache_entry entry;
    disc_share_start start = DISC_SHARE_NOMEM;

    /* A job that replaces a rejected or expired client must see the
     * servers as they are now: they may have moved. A discovery in flight
     * is fresh enough, so the job may still wait for one. */
    if (j->share_url != NULL && j->refresh) {
        disc_share_evict(engine->share, j->share_url);
    }
    if (j->share_url != NULL) {
        start = disc_share_begin(engine->share, j->share_url, j, mr_mono_ms(),
                                 &entry);
    }
    if (start == DISC_SHARE_WAIT) {
        j->parked = true;
        return;
    }
    if (start == DISC_SHARE_CACHED) {
        mr_err err = disc_flow_use_cached(j->flow, &entry);

        disc_cache_entry_free(&entry);
        if (err != MR_OK) {
            disc_engine__finish(engine, j, err, "out of memory");
            return;
        }
    }
    j->leader = start == DISC_SHARE_LEAD;
    disc_engine__advance(engine, j, NULL);
}
