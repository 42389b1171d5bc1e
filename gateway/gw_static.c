/* gw_static.c - the client metadata document and the health probes. */
#include <stdlib.h>
#include <string.h>

#include "gw_routes.h"
#include "gw_static.h"
#include "mr_api.h"

gw_static_route
gw_static_find(const gw_server *server, const char *url)
{
    if (server->client_metadata != NULL &&
        strcmp(url, MR_CLIENT_METADATA_PATH) == 0) {
        return GW_STATIC_CLIENT_METADATA;
    }
    if (strcmp(url, GW_HEALTH_PATH) == 0) {
        return GW_STATIC_HEALTH;
    }
    if (strcmp(url, GW_READY_PATH) == 0) {
        return GW_STATIC_READY;
    }
    return GW_STATIC_NONE;
}

mr_err
gw_static_body(const gw_server *server, gw_static_route route, char **body)
{
    const char *text = GW_PROBE_OK_BODY;

    *body = NULL;
    if (route == GW_STATIC_CLIENT_METADATA) {
        text = server->client_metadata;
    }
    *body = strdup(text);
    return *body != NULL ? MR_OK : MR_ENOMEM;
}
