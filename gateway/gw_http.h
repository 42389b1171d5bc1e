/* gw_http.h - libmicrohttpd callbacks and the state of one request. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <microhttpd.h>

#include "gw_accept.h"
#include "gw_lograte.h"
#include "gw_server.h"
#include "gw_watchdog.h"
#include "mr_rpc.h"

/* GW_BODY_MAX is the largest request body accepted, in bytes. */
#define GW_BODY_MAX (64 * 1024)

/* GW_REQUEST_ID_MAX is the longest X-Request-Id accepted, in characters:
 * the longest request id that the RPC envelope carries. */
#define GW_REQUEST_ID_MAX MR_RPC_ID_MAX

/* GW_LOG_PATH_MAX is how many bytes of a request's path its access line
 * keeps, the NUL included. */
#define GW_LOG_PATH_MAX 256

/* gw_server is shared by the MHD threads and the RPC callbacks. */
struct gw_server {
    gw_config config;
    gw_acceptor *acceptor; /* the listening socket, which feeds daemon */
    struct MHD_Daemon *daemon;
    mr_rpc_client *rpc;

    /* active counts the requests between their first call and their
     * completion without the lock. The one that brings it to 0 takes lock
     * to signal idle, for which gw_server_stop waits under lock. */
    pthread_mutex_t lock;
    pthread_cond_t idle;
    atomic_int active;

    atomic_bool draining; /* new requests get 503 and Connection: close */

    /* Senders hold rpc_lock for reading around mr_rpc_call_async, and
     * gw_server_stop holds it for writing to set closing, so that no call
     * is sent on a client being closed. */
    pthread_rwlock_t rpc_lock;
    atomic_bool closing;

    /* The client ID metadata document, built once at start-up, or NULL
     * when no public base URL is configured. */
    char *client_metadata;

    /* The read deadline of each connection, or NULL when
     * config.read_timeout_ms is 0. */
    gw_watchdog *watchdog;

    /* The rate limit of libmicrohttpd's log lines, one per message. */
    gw_lograte_table mhd_lines;
};

/*
 * gw_http_access is the MHD access handler, with the gw_server as cls. It
 * responds to routing, authentication and validation errors itself, sends
 * valid requests to the registration service and suspends the connection
 * until the reply arrives.
 */
enum MHD_Result gw_http_access(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls);

/*
 * gw_http_started is the MHD_OPTION_URI_LOG_CALLBACK, with the gw_server
 * as cls. It counts the request in progress from its request line on, so
 * that a drain waits for a request whose headers are still arriving.
 * libmicrohttpd 0.9.75 then calls gw_http_completed for every request it
 * was called for. A request with too many query parameters gets its 414
 * here (gw_query_reject). It returns what libmicrohttpd stores as con_cls:
 * NULL, or a marker of such a request, which gw_http_access then closes.
 */
void *gw_http_started(void *cls, const char *uri, struct MHD_Connection *conn);

/* gw_http_completed is the MHD_OPTION_NOTIFY_COMPLETED callback. It ends
 * the count that gw_http_started began and releases the request state
 * that gw_http_access created, if any. */
void gw_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode toe);

/* gw_request_id_valid returns true when text is an acceptable incoming
 * X-Request-Id: 1 to 64 characters of [A-Za-z0-9._-]. */
bool gw_request_id_valid(const char *text);

#endif
