/* disc_flow_cache.c - handing discovered metadata from one flow to the
 * next for the same MCP server URL. */
#include <stdlib.h>
#include <string.h>

#include "disc_flow_internal.h"

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
    return disc_cache_entry_copy(out, &view);
}
