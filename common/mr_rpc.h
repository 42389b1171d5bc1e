/* mr_rpc.h - gRPC-style calls of protobuf-c messages over nng REQ/REP. */
#ifndef MR_RPC_H
#define MR_RPC_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "mr_err.h"

/*
 * Every call is a Request envelope (method, request id, timeout, body) on a
 * REQ socket and a Reply envelope (status, body) from a REP socket. Either
 * side may listen or dial. Requests are never resent by nng: a call whose
 * connection closes before the reply fails at once with MR_EUNAVAILABLE, a
 * call that gets no reply fails at its deadline with MR_ETIMEDOUT, and the
 * caller decides to retry. The peer may have done the work in both cases.
 */

/* MR_RPC_REPLY_MAX bounds the response message of one call. A server
 * fails a larger reply with MR_EINTERNAL instead of sending it, because a
 * reply over the client's receive limit would drop the connection and
 * every other call on it. */
#define MR_RPC_REPLY_MAX (8 * 1024 * 1024)

/* MR_RPC_ID_MAX is the longest request id carried, in bytes. */
#define MR_RPC_ID_MAX 64

/* mr_rpc_status is the outcome of a call as its caller sees it. */
typedef struct {
    mr_err err;
    const char *detail;   /* never NULL; valid during the callback only */
    uint32_t retry_after; /* seconds; 0 when a retry will not help */
} mr_rpc_status;

/* ---- server side ---- */

typedef struct mr_rpc_server mr_rpc_server;
typedef struct mr_rpc_call mr_rpc_call;

/*
 * mr_rpc_handler handles one call. It must finish the call exactly once,
 * with mr_rpc_reply or mr_rpc_fail, now or later from any thread. It runs on
 * an nng thread, so it must not block for long: a handler that waits for
 * another service keeps the call and finishes it from that reply.
 */
typedef void (*mr_rpc_handler)(mr_rpc_call *call, void *arg);

/* mr_rpc_method is one row of a server's dispatch table. */
typedef struct {
    const char *name; /* full name: "/mcpreg.v1.Registration/GetMcpServer" */
    const ProtobufCMessageDescriptor *request;
    mr_rpc_handler handler;
} mr_rpc_method;

/* mr_rpc_server_config contains the settings of mr_rpc_server_start. */
typedef struct {
    const char *url;             /* nng URL, such as "tcp://127.0.0.1:7401" */
    bool dial;                   /* dial url instead of listening on it */
    int contexts;                /* calls handled at once */
    uint32_t default_timeout_ms; /* for requests that carry none */
    const mr_rpc_method *methods;
    int nmethods;
    void *arg;        /* passed to every handler */
    const char *name; /* for log lines, such as "registration" */
} mr_rpc_server_config;

/*
 * mr_rpc_server_start opens a REP socket, listens or dials, and starts
 * receiving on cfg->contexts contexts. The table and arg must outlive the
 * server. It returns MR_EUNAVAILABLE when the address cannot be used, with
 * the reason logged.
 */
mr_err mr_rpc_server_start(mr_rpc_server **out,
                           const mr_rpc_server_config *cfg);

/*
 * mr_rpc_server_stop stops accepting calls, waits up to grace_ms for calls
 * in progress to finish, then closes the socket and frees the server. When
 * calls are still unfinished after grace_ms, their handlers may still
 * finish them (the replies are dropped), so the server's memory is kept
 * for the process exit to free.
 */
void mr_rpc_server_stop(mr_rpc_server *server, int grace_ms);

/* mr_rpc_request returns the decoded request message of call; it is owned
 * by the call and freed when the call finishes. */
const ProtobufCMessage *mr_rpc_request(const mr_rpc_call *call);

/* mr_rpc_request_id returns the request id of call ("" when none). */
const char *mr_rpc_request_id(const mr_rpc_call *call);

/* mr_rpc_method_name returns the method name of call. */
const char *mr_rpc_method_name(const mr_rpc_call *call);

/* mr_rpc_deadline returns when the caller stops waiting, on mr_mono_ms's
 * clock. */
int64_t mr_rpc_deadline(const mr_rpc_call *call);

/* mr_rpc_timeout_left returns the milliseconds left before the deadline,
 * 0 when it has passed. */
uint32_t mr_rpc_timeout_left(const mr_rpc_call *call);

/* mr_rpc_caller_connected returns whether the connection that brought
 * call's request is still open, so that a reply can still reach the
 * caller. It may be called from any thread while the call lasts. */
bool mr_rpc_caller_connected(const mr_rpc_call *call);

/* mr_rpc_reply finishes call with status OK and the response message, which
 * the caller still owns (it is packed before the function returns). */
void mr_rpc_reply(mr_rpc_call *call, const ProtobufCMessage *response);

/*
 * mr_rpc_fail finishes call with err. detail replaces the default detail of
 * err when not NULL; it must hold no secret. retry_after is in seconds.
 */
void mr_rpc_fail(mr_rpc_call *call, mr_err err, const char *detail,
                 uint32_t retry_after);

/*
 * mr_rpc_batched returns whether call came in a batch of quick calls (see
 * mr_rpc_call_quick). Its handler must then finish it before returning,
 * or decline it.
 */
bool mr_rpc_batched(const mr_rpc_call *call);

/*
 * mr_rpc_decline finishes a batched call without running it, because its
 * handler would have to wait for another service; the client sends it
 * again alone. A handler declines before it changes anything.
 */
void mr_rpc_decline(mr_rpc_call *call);

/* ---- client side ---- */

typedef struct mr_rpc_client mr_rpc_client;

/*
 * mr_rpc_done receives the outcome of an asynchronous call. On success,
 * response is the decoded message, which the callback owns and frees with
 * protobuf_c_message_free_unpacked(response, NULL); otherwise it is NULL.
 * It runs on an nng thread and must not block.
 */
typedef void (*mr_rpc_done)(void *arg, const mr_rpc_status *status,
                            ProtobufCMessage *response);

/* MR_RPC_URL_WHY_MAX bounds the reason that mr_rpc_check_url writes. */
#define MR_RPC_URL_WHY_MAX 512

/*
 * mr_rpc_ipc_path returns the socket path of url when url names nng's ipc
 * transport: "ipc://" or "unix://", with the scheme in any case, as nng
 * 1.5.2 takes them. It returns NULL for other URLs.
 */
const char *mr_rpc_ipc_path(const char *url);

/*
 * mr_rpc_check_url returns whether url can name an nng address that
 * connects. Otherwise it writes why not into why, of size whylen. It
 * rejects what nng cannot parse, and what nng accepts but never connects:
 * an ipc path that is empty or longer than a Unix socket address takes,
 * and an empty abstract socket name. Other mistakes are left to nng.
 */
bool mr_rpc_check_url(const char *url, char *why, size_t whylen);

/*
 * mr_rpc_client_open opens a REQ socket that dials url (or listens on it
 * when listen is true). The dialer redials by itself after a peer restarts.
 */
mr_err mr_rpc_client_open(mr_rpc_client **out, const char *url, bool listen);

/* MR_RPC_PEER_ADDR_MAX bounds a peer address passed to mr_rpc_peer_watch,
 * with its terminating NUL. */
#define MR_RPC_PEER_ADDR_MAX 64

/*
 * mr_rpc_peer_watch receives each change of a client's connected peers.
 * connected is true when a peer connected and false when one left, and
 * peers is the count after the change. connection is nng's pipe id, the
 * same in both reports of one connection. address is the peer's
 * "host:port" on connect ("local" for ipc and inproc, "unknown" when nng
 * does not report it), and "" on leave because nng has closed the
 * connection by then. It runs on an nng thread without the client's lock,
 * so two changes may be reported concurrently, but peers == 0 means that
 * no peer was connected at that moment. Peers that leave after
 * mr_rpc_client_close starts are not reported.
 */
typedef void (*mr_rpc_peer_watch)(void *arg, bool connected, int peers,
                                  int connection, const char *address);

/*
 * mr_rpc_client_open_watched is mr_rpc_client_open that also calls watch
 * with arg on every peer change, from the first connection on. arg must
 * outlive the client.
 */
mr_err mr_rpc_client_open_watched(mr_rpc_client **out, const char *url,
                                  bool listen, mr_rpc_peer_watch watch,
                                  void *arg);

/*
 * mr_rpc_client_connect opens a REQ socket that dials url, and returns
 * once nng's handshake with the peer has finished or failed. So closing
 * the client never cuts a handshake short, which can break nng 1.5.2's
 * ipc:// listener. It waits as long as the connect and nng's handshake
 * take: nng 1.5.2 gives the handshake 10 s, and a tcp:// connect takes
 * the kernel's timeout. On failure it writes nng's reason into why: the
 * result is MR_ETIMEDOUT when the handshake timed out, and
 * MR_EUNAVAILABLE otherwise. After a connection the client redials as
 * mr_rpc_client_open's does.
 */
mr_err mr_rpc_client_connect(mr_rpc_client **out, const char *url, char *why,
                             size_t why_size);

/* mr_rpc_client_close fails the calls in flight with MR_EUNAVAILABLE,
 * closes the socket and frees the client. */
void mr_rpc_client_close(mr_rpc_client *client);

/* mr_rpc_client_peers returns how many peers are connected now. */
int mr_rpc_client_peers(const mr_rpc_client *client);

/*
 * mr_rpc_call_async sends request to method and calls done exactly once:
 * with the reply, or with MR_ETIMEDOUT after timeout_ms, or with
 * MR_EUNAVAILABLE at once when no peer is connected, or as soon as the
 * connection it went out on closes or the last peer leaves. request_id may
 * be NULL. It returns MR_OK, or an error (done is then not called) when the
 * request cannot be packed or memory runs out.
 */
mr_err mr_rpc_call_async(mr_rpc_client *client, const char *method,
                         const ProtobufCMessage *request,
                         const ProtobufCMessageDescriptor *response_type,
                         const char *request_id, uint32_t timeout_ms,
                         mr_rpc_done done, void *arg);

/*
 * mr_rpc_call_quick is mr_rpc_call_async for a call that the server
 * usually replies to at once, such as a read. When batching is on (see
 * mr_rpc_client_set_batching), quick calls that are started while the
 * batches allowed are in flight wait and then go out together in one
 * message, and the server replies to them in one. A call that the server
 * declines to run in a batch is sent again alone. When a batch gets no
 * reply by the earliest deadline among its calls, those whose deadline
 * has passed fail with MR_ETIMEDOUT and the others go in the next batch,
 * so the service may run a quick call twice.
 */
mr_err mr_rpc_call_quick(mr_rpc_client *client, const char *method,
                         const ProtobufCMessage *request,
                         const ProtobufCMessageDescriptor *response_type,
                         const char *request_id, uint32_t timeout_ms,
                         mr_rpc_done done, void *arg);

/*
 * mr_rpc_client_set_batching lets up to depth batches of quick calls per
 * connected peer be in flight at once; 0, the default, sends every call
 * alone. With fewer calls waiting than that, a quick call goes out at
 * once, alone.
 */
void mr_rpc_client_set_batching(mr_rpc_client *client, int depth);

/*
 * mr_rpc_call_sync is mr_rpc_call_async that waits. On success *response is
 * the decoded message, owned by the caller. On failure *detail, when not
 * NULL, receives a copy of the detail that the caller frees.
 */
mr_err mr_rpc_call_sync(mr_rpc_client *client, const char *method,
                        const ProtobufCMessage *request,
                        const ProtobufCMessageDescriptor *response_type,
                        const char *request_id, uint32_t timeout_ms,
                        ProtobufCMessage **response, char **detail,
                        uint32_t *retry_after);

#endif
