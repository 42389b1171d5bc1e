/* disc_allow.h - the decision that the development allow-list
 * (--dev-allow-hosts, parsed by mr_allow.h) makes for each connection of
 * an outbound fetch. */
#ifndef DISC_ALLOW_H
#define DISC_ALLOW_H

#include <stdbool.h>

#include <sys/socket.h>

#include "mr_allow.h"

/* disc_connect_verdict is what disc_allow_connect decides for one
 * connection. */
typedef enum {
    DISC_CONNECT_OK,
    DISC_CONNECT_SCHEME,  /* http to a host that may not use http */
    DISC_CONNECT_ADDRESS, /* an address that is not public and not allowed */
} disc_connect_verdict;

/*
 * disc_allow_connect decides whether a connection to addr may be opened
 * for a URL whose host is host, using https when https is set. Plain http
 * needs mr_allow_http, and when host is allowed only as an IP literal in
 * a range, addr must lie in a range too. Then addr must be public (as
 * disc_addr_is_public in disc_url.h decides) or lie in a CIDR range, or
 * host must be one of list's host entries.
 */
disc_connect_verdict disc_allow_connect(const mr_allow_list *list, bool https,
                                        const char *host,
                                        const struct sockaddr *addr);

#endif
