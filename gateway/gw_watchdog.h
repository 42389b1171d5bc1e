/* gw_watchdog.h - a deadline for receiving each HTTP request. */
#ifndef GW_WATCHDOG_H
#define GW_WATCHDOG_H

#include <stdint.h>

#include "mr_err.h"

/* GW_WATCHDOG_PERIOD_MS is the interval in ms at which the watchdog thread
 * checks the deadlines, so a connection is cut up to this late. */
#define GW_WATCHDOG_PERIOD_MS 250

/* GW_CLIENT_MAX is the size of the client address text that the log line
 * of a cut connection names, "[IPV6]:PORT" and its NUL included. */
#define GW_CLIENT_MAX 56

/*
 * gw_watchdog is a table of open connections, each with a deadline for
 * receiving its current request. One mutex guards the table, and the
 * watchdog calls shutdown(2) on a socket only while it holds that mutex and
 * the socket is in the table. So once a caller has removed the connection,
 * it may close the socket: no later shutdown reaches it, or another socket
 * that reuses the descriptor.
 */
typedef struct gw_watchdog gw_watchdog;

/* gw_watch is the table entry of one connection. */
typedef struct gw_watch gw_watch;

/*
 * gw_watchdog_start creates a watchdog whose deadlines are timeout_ms
 * after they are armed. With period_ms > 0 it starts a thread that calls
 * gw_watchdog_sweep every period_ms; with 0 the caller sweeps. It returns
 * MR_ENOMEM or MR_EINTERNAL (thread creation failed, logged) on failure.
 * The caller owns *out and frees it with gw_watchdog_stop.
 */
mr_err gw_watchdog_start(uint32_t timeout_ms, uint32_t period_ms,
                         gw_watchdog **out);

/*
 * gw_watchdog_stop stops the thread, if any, and frees the watchdog with
 * the entries still in its table, without touching their sockets.
 */
void gw_watchdog_stop(gw_watchdog *watchdog);

/*
 * gw_watchdog_add adds the connection on socket fd, with its deadline armed
 * from now. client is the peer address for the log line, cut to
 * GW_CLIENT_MAX - 1 bytes. It returns the entry, which the watchdog owns
 * until gw_watchdog_remove, or NULL when memory runs out.
 */
gw_watch *gw_watchdog_add(gw_watchdog *watchdog, int fd, const char *client);

/* gw_watchdog_disarm stops the deadline of watch: its whole request has
 * arrived. */
void gw_watchdog_disarm(gw_watch *watch);

/*
 * gw_watchdog_rearm counts one completed request on watch and arms its
 * deadline again from now, for the next request on the connection.
 */
void gw_watchdog_rearm(gw_watch *watch);

/*
 * gw_watchdog_remove takes watch out of its table and frees it. Once it
 * returns, the watchdog no longer touches the socket, so the caller may
 * close it.
 */
void gw_watchdog_remove(gw_watch *watch);

/*
 * gw_watchdog_sweep shuts down, with shutdown(fd, SHUT_RDWR), the socket of
 * every armed entry whose deadline is at or before now_ms (mr_mono_ms), and
 * disarms it. The owner of the socket then reads end-of-file and closes it.
 * The cuts are logged as "gw.conn.read_timeout" lines, at most one per
 * GW_LOGRATE_INTERVAL_MS. Each line has the number of cuts since the
 * previous line and the client of the latest. A sweep also logs the cuts
 * held back once the interval has passed. It returns the number of sockets
 * shut down.
 */
int gw_watchdog_sweep(gw_watchdog *watchdog, int64_t now_ms);

#endif
