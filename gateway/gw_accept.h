/* gw_accept.h - the listening socket, accepted on a thread of its own. */
#ifndef GW_ACCEPT_H
#define GW_ACCEPT_H

#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "mr_err.h"

/*
 * gw_acceptor is the gateway's listening socket with a thread that accepts
 * its connections and hands each to a libmicrohttpd daemon with
 * MHD_add_connection. The daemon runs with MHD_USE_NO_LISTEN_SOCKET.
 *
 * libmicrohttpd 0.9.75 then gives each connection to the worker of its
 * descriptor modulo the pool size, so consecutive connections alternate
 * between the workers. Its own accept takes up to ten connections at once
 * on whichever worker wakes first. So a burst of keep-alive connections,
 * such as a proxy's or a load generator's, could all land on one worker
 * and leave the others idle for the connections' lifetime.
 */
typedef struct gw_acceptor gw_acceptor;

/*
 * gw_acceptor_open binds a TCP socket to addr (IPv6 addresses take IPv6
 * only) and listens on it. On success *out is the caller's, for
 * gw_acceptor_close. It returns MR_ENOMEM, or MR_EUNAVAILABLE when the
 * socket cannot be bound, with errno set.
 */
mr_err gw_acceptor_open(const struct sockaddr_storage *addr, socklen_t len,
                        gw_acceptor **out);

/* gw_acceptor_port returns the TCP port acc listens on, the one picked by
 * the kernel when addr had port 0. */
uint16_t gw_acceptor_port(const gw_acceptor *acc);

/*
 * gw_acceptor_start starts the thread that accepts connections and adds
 * them to daemon, which must outlive gw_acceptor_stop. While limit
 * connections are open or on their way to a worker, the thread accepts
 * none, and new ones wait in the listen backlog.
 *
 * The daemon must report each connection that starts and closes with
 * gw_acceptor_track, as gw_acceptor_notify does. Its own
 * MHD_OPTION_CONNECTION_LIMIT must be at least limit times its number of
 * workers. A worker counts a connection only once it takes it up, so one
 * worker may be given all of them. A connection that the daemon rejects
 * (its limit per client address) is closed by it. It returns MR_EINTERNAL
 * when the thread cannot start.
 */
mr_err gw_acceptor_start(gw_acceptor *acc, struct MHD_Daemon *daemon,
                         unsigned int limit);

/* gw_acceptor_track counts a connection of the daemon that a worker took
 * up (MHD_CONNECTION_NOTIFY_STARTED) or closed (any other code), and wakes
 * the thread if it waits for a slot. Any thread may call it. */
void gw_acceptor_track(gw_acceptor *acc,
                       enum MHD_ConnectionNotificationCode code);

/* gw_acceptor_notify is an MHD_OPTION_NOTIFY_CONNECTION callback, with
 * the acceptor as cls, that passes every notification to
 * gw_acceptor_track. */
void gw_acceptor_notify(void *cls, struct MHD_Connection *conn,
                        void **socket_context,
                        enum MHD_ConnectionNotificationCode code);

/*
 * gw_acceptor_stop shuts the socket down, so that the kernel refuses new
 * connections and resets those queued but not accepted, and waits for the
 * thread to end. The socket stays open until gw_acceptor_close. Calling it
 * again, or without gw_acceptor_start, does nothing more.
 */
void gw_acceptor_stop(gw_acceptor *acc);

/* gw_acceptor_close stops acc if needed, closes its socket and frees it.
 * acc may be NULL. */
void gw_acceptor_close(gw_acceptor *acc);

#endif
