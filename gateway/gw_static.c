/* gw_static.c - the client metadata document and the health probes. */
#include <stdlib.h>
#include <string.h>

#include "gw_static.h"
#include "mr_api.h"
#include "mr_rpc.h"

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

/* Returns whether the RPC client has a registration service to call. The
 * read lock keeps gw_server_stop from closing the client meanwhile.
 * NOTE: a connected service that is frozen or overloaded still counts as
 * ready; only calls that time out show it. */
static bool
registration_connected(gw_server *server)
{
    bool connected = false;

    pthread_rwlock_rdlock(&server->rpc_lock);
    if (!atomic_load(&server->closing)) {
        connected = mr_rpc_client_peers(server->rpc) > 0;
    }
    pthread_rwlock_unlock(&server->rpc_lock);
    return connected;
}

mr_err
gw_static_body(gw_server *server, gw_static_route route, char **body,
               const char **detail)
{
    const char *text = "{\"status\":\"ok\"}";

    *body = NULL;
    if (route == GW_STATIC_CLIENT_METADATA) {
        text = server->client_metadata;
    }
    if (route == GW_STATIC_READY && atomic_load(&server->draining)) {
        return MR_ESHUTTING_DOWN;
    }
    if (route == GW_STATIC_READY && !registration_connected(server)) {
        *detail = "Retry later: no registration service is connected";
        return MR_EUNAVAILABLE;
    }

    *body = strdup(text);
    return *body != NULL ? MR_OK : MR_ENOMEM;
}
