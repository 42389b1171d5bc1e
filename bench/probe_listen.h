/* probe_listen.h - the probes' listening socket, as the gateway's. */
#ifndef PROBE_LISTEN_H
#define PROBE_LISTEN_H

#include <microhttpd.h>

#include "gw_accept.h"

/* PROBE_DAEMON_FLAGS are the probes' libmicrohttpd flags: the gateway's,
 * without its error log. */
#define PROBE_DAEMON_FLAGS                                                    \
    (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |                        \
     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET)

/* PROBE_CONNECTION_LIMIT is the probes' connection limit. Their daemons
 * allow that many per worker, as gw_acceptor_start requires, and report
 * each connection with gw_acceptor_notify. */
#define PROBE_CONNECTION_LIMIT 1024u

/*
 * probe_listen opens the gateway's acceptor on 127.0.0.1:port, so that a
 * probe spreads its connections over its workers as the gateway does. It
 * returns NULL, with a message on stderr naming prog, when the port cannot
 * be bound.
 */
gw_acceptor *probe_listen(const char *prog, int port);

/* probe_serve starts acc's thread for daemon, waits for SIGINT or
 * SIGTERM, and stops both. It returns the exit status of the probe. */
int probe_serve(const char *prog, gw_acceptor *acc, struct MHD_Daemon *daemon);

#endif
