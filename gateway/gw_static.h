/* gw_static.h - paths that need no API key: the client metadata document
 * and the health probes. */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include "gw_http.h"
#include "mr_err.h"

/* GW_HEALTH_PATH is the liveness probe, 200 while the process serves
 * HTTP. */
#define GW_HEALTH_PATH "/healthz"

/* GW_READY_PATH is the readiness probe, 200 while the gateway is not
 * draining and a Ping call to the registration service succeeds within
 * GW_PING_TIMEOUT_MS (gw_route_ping). */
#define GW_READY_PATH "/readyz"

/* gw_static_route names a path of this module. */
typedef enum {
    GW_STATIC_NONE,
    GW_STATIC_CLIENT_METADATA, /* MR_CLIENT_METADATA_PATH, when configured */
    GW_STATIC_HEALTH,
    GW_STATIC_READY,
} gw_static_route;

/* gw_static_find returns the route of url, the path without its query
 * string, or GW_STATIC_NONE for a path of the REST API. */
gw_static_route gw_static_find(const gw_server *server, const char *url);

/*
 * gw_static_body builds the response body of route, the client metadata
 * document or the liveness probe; the readiness probe is an RPC. It returns
 * MR_OK with *body, a malloc'd JSON text that the caller owns, or
 * MR_ENOMEM.
 */
mr_err gw_static_body(const gw_server *server, gw_static_route route,
                      char **body);

#endif
