/* disc_flow_cache.c - handing discovered metadata from one flow to the
 * next for the same MCP server URL. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disc_flow_internal.h"
#include "mr_util.h"

mr_err
disc_flow_use_cached(disc_flow *flow, const disc_cache_entry *entry)
{
    disc_cache_entry copy;

    if (!disc_cache_entry_copy(&copy, entry)) {
        return MR_ENOMEM;
    }

    /* The entry's fields move into the flow, which frees them. */
    flow->prm.resource = copy.resource;
    flow->fallback = copy.resource == NULL;
    flow->challenge_scope = copy.scope;
    flow->meta = copy.as;
    flow->issuer = strdup(copy.as.issuer != NULL ? copy.as.issuer : "");
    flow->cached = true;
    return flow->issuer != NULL ? MR_OK : MR_ENOMEM;
}

bool
disc_flow_discovered(const disc_flow *flow, disc_cache_entry *out)
{
    disc_cache_entry view;

    if (!flow->discovered || flow->cached) {
        return false;
    }

    /* flow->scope is the scope chosen from the challenge and the
     * resource metadata, which a later flow takes as its challenge's. */
    view.resource = flow->fallback ? NULL : flow->prm.resource;
    view.scope = flow->scope;
    view.as = flow->meta;
    view.freshness = flow->freshness;
    return disc_cache_entry_copy(out, &view);
}

/* Every metadata response counts, also a 404 or a document that was
 * skipped, because each decided what the entry contains. The probe's 401
 * does not count. It is the response to a POST, which a cache does not
 * reuse. A server may also mark it no-store only to keep a per-request
 * challenge out of shared caches, which says nothing about how long the
 * metadata stays valid. */
void
disc_flow_note_freshness(disc_flow *flow, const disc_response *resp)
{
    if (resp == NULL || resp->net != DISC_NET_OK ||
        (flow->stage != DISC_STAGE_PRM && flow->stage != DISC_STAGE_ASM)) {
        return;
    }
    disc_freshness_add(&flow->freshness, resp->cache_headers, mr_mono_ms(),
                       (int64_t)time(NULL));
}
