/* gw_server.h - the HTTP server of the gateway: start, drain, stop. */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <stdint.h>

#include <sys/socket.h>

#include "mr_err.h"

/* gw_config contains the settings of gw_server_start. */
typedef struct {
    const char *listen;           /* "HOST:PORT", such as "[::1]:8080" */
    const char *registration_url; /* nng URL of the registration service */
    int threads;                  /* HTTP worker threads */
    int max_connections;
    /* Open connections from one client IP address, over which new ones are
     * closed at once; 0: no limit. */
    int max_connections_per_ip;
    int connection_timeout_s;    /* idle time before MHD closes a connection */
    uint32_t request_timeout_ms; /* deadline of CRUD calls */
    uint32_t register_timeout_ms; /* deadline of RegisterOAuthProvider */
    /* Batches of quick calls in flight to the registration service at
     * once; 0 sends every call alone (mr_rpc_client_set_batching). */
    int rpc_batches;
    /* Time a client gets to send a whole request, headers and body, from
     * the accept or the end of the previous response; 0: no limit. */
    uint32_t read_timeout_ms;
    /* mcpreg's public base URL; when set, the gateway serves the client ID
     * metadata document at MR_CLIENT_METADATA_PATH. NULL or "": no route. */
    const char *public_base_url;
} gw_config;

typedef struct gw_server gw_server;

/*
 * gw_parse_listen parses text, "IPV4:PORT" or "[IPV6]:PORT" with numeric
 * addresses and a port from 0 to 65535 (0 picks a free port), into addr
 * and *len. It returns MR_EINVALID_FIELD for any other text.
 */
mr_err gw_parse_listen(const char *text, struct sockaddr_storage *addr,
                       socklen_t *len);

/*
 * gw_server_start opens the RPC client of cfg->registration_url and starts
 * serving HTTP on cfg->listen. cfg's strings must outlive the server. It
 * returns MR_EINVALID_FIELD for a listen address gw_parse_listen rejects
 * and MR_EUNAVAILABLE when the address cannot be bound, with the reason
 * logged.
 */
mr_err gw_server_start(const gw_config *cfg, gw_server **out);

/* gw_server_port returns the TCP port the server listens on. */
uint16_t gw_server_port(const gw_server *server);

/*
 * gw_server_stop stops accepting connections, waits up to grace_ms for the
 * requests in progress to get their responses, fails the calls still waiting
 * for the registration service with 503 shutting_down, then closes every
 * connection and frees the server.
 */
void gw_server_stop(gw_server *server, int grace_ms);

#endif
