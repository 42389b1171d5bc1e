/* gw_http.c - libmicrohttpd callbacks and the state of one request. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_headers.h"
#include "gw_http.h"
#include "gw_query.h"
#include "gw_routes.h"
#include "gw_static.h"
#include "mr_log.h"
#include "mr_util.h"

/* A body larger than GW_BODY_MAX without a Content-Length (chunked) is
 * read and dropped so that the client gets its 413. Past DISCARD_MAX bytes
 * the connection is closed without a response. */
#define DISCARD_MAX (1024 * 1024)

/* SMALL_BODY_MAX bytes of body fit in the request itself, which saves an
 * allocation for the repeat call, whose body is "{}" or a user id. */
#define SMALL_BODY_MAX 256

/* Bytes of the method copied into the log line, the NUL included. */
#define LOG_METHOD_MAX 16

/* The con_cls of a request that gw_http_started rejected with its own
 * response. */
static char rejected_request;

typedef enum {
    PHASE_READING, /* receiving the body */
    PHASE_WAITING, /* the RPC is in flight and the connection suspended */
    PHASE_RESPONDED,
} request_phase;

/*
 * The state of one request. MHD holds one reference from the first call
 * of the access handler until gw_http_completed, and an RPC in flight
 * holds another until its callback has run. So a client that disconnects
 * while its call is out frees nothing the callback still uses.
 *
 * The connection is suspended before its RPC goes out and resumed only
 * once the outcome is written, so MHD neither runs the handler nor
 * completes the request meanwhile: the outcome needs no lock.
 */
typedef struct {
    atomic_int refs;
    gw_server *server;
    struct MHD_Connection *conn;
    request_phase phase;

    int64_t start_ms;
    char request_id[GW_REQUEST_ID_MAX + 1];
    char method[LOG_METHOD_MAX];
    char path[GW_LOG_PATH_MAX];
    const gw_route *route;
    char id[MR_UUID_LEN + 1];

    char *body; /* small_body or malloc'd, NULL until the first part */
    size_t body_len;
    size_t body_cap;
    char small_body[SMALL_BODY_MAX];
    size_t received; /* body bytes, counting those dropped */

    /* A failed check of the headers, whose response waits for the end of
     * the empty body. */
    mr_err early_err;
    const char *early_allow;
    gw_static_route static_route; /* a path of gw_static.c, or NONE */

    /* The response carries "Connection: close", after which libmicrohttpd
     * 0.9.75 closes the connection instead of reading another request. */
    bool close_connection;

    gw_call call;

    /* The outcome of the RPC, written once, before done is set. */
    atomic_bool done;
    mr_err err;
    uint32_t retry_after;
    ProtobufCMessage *reply;
    char detail[GW_DETAIL_MAX];
} request;

bool
gw_request_id_valid(const char *text)
{
    size_t len = strlen(text);

    if (len == 0 || len > GW_REQUEST_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                     (c >= 'A' && c <= 'Z');

        if (!alnum && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
    return true;
}

/* Copies text for a log line, replacing bytes outside printable ASCII. */
static void
copy_for_log(char *dst, size_t size, const char *src)
{
    size_t i = 0;

    for (; src[i] != '\0' && i + 1 < size; i++) {
        unsigned char c = (unsigned char)src[i];

        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[i] = '\0';
}

static request *
request_new(gw_server *server, struct MHD_Connection *conn, const char *url,
            const char *method)
{
    request *req = calloc(1, sizeof(*req));
    const char *incoming;

    if (req == NULL) {
        return NULL;
    }
    atomic_init(&req->refs, 1);
    req->server = server;
    req->conn = conn;
    req->start_ms = mr_mono_ms();
    copy_for_log(req->method, sizeof(req->method), method);
    copy_for_log(req->path, sizeof(req->path), url);

    incoming =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (incoming != NULL && gw_request_id_valid(incoming)) {
        snprintf(req->request_id, sizeof(req->request_id), "%s", incoming);
    } else {
        mr_uuid_v4(req->request_id);
    }
    return req;
}

/* drop_body frees the body, unless it is the request's own small_body. */
static void
drop_body(request *req)
{
    if (req->body != req->small_body) {
        free(req->body);
    }
    req->body = NULL;
    req->body_len = 0;
    req->body_cap = 0;
}

static void
request_unref(request *req)
{
    if (atomic_fetch_sub(&req->refs, 1) != 1) {
        return;
    }

    gw_call_clear(&req->call);
    drop_body(req);
    if (req->reply != NULL) {
        protobuf_c_message_free_unpacked(req->reply, NULL);
    }
    free(req);
}

/* Writes the "gw.request" line of a request whose response is queued. */
static void
log_response(const request *req, int status, mr_err err, const char *detail)
{
    mr_log_field fields[] = {
        MR_FSTR("method", req->method),
        MR_FSTR("path", req->path),
        MR_FINT("status", status),
        MR_FSTR("code", err == MR_OK ? "" : mr_err_code(err)),
        MR_FINT("duration_ms", mr_mono_ms() - req->start_ms),
        MR_FSTR("detail", detail),
    };
    size_t nfields = sizeof(fields) / sizeof(fields[0]);
    mr_log_level level = status >= 500 ? MR_LOG_WARN : MR_LOG_INFO;

    if (err == MR_OK) {
        nfields--; /* no detail */
    }
    /* The fields carry the method, path and status, and a message
     * without conversions needs no formatting. Deferred, because with the
     * registration service down every request gets a 503 and a warn line. */
    mr_log_fields_deferred(level, "gw.request", req->request_id, fields,
                           nfields, "request answered");
}

/* Adds the headers every response carries, and those of its status. */
static bool
add_headers(const request *req, struct MHD_Response *resp, int status,
            bool has_body, const char *allow)
{
    char retry[16];
    bool ok = true;

    if (has_body) {
        ok &= MHD_add_response_header(resp, "Content-Type",
                                      "application/json") == MHD_YES;
    }
    ok &= MHD_add_response_header(resp, "X-Request-Id", req->request_id) ==
          MHD_YES;
    if (allow != NULL) {
        ok &= MHD_add_response_header(resp, "Allow", allow) == MHD_YES;
    }
    /* RFC 9110 section 15.5.2 has every 401 name a challenge. No
     * registered scheme fits an API key, so it names the header. */
    if (status == 401) {
        ok &= MHD_add_response_header(resp, "WWW-Authenticate",
                                      GW_API_KEY_CHALLENGE) == MHD_YES;
    }
    if (status == 503) {
        snprintf(retry, sizeof(retry), "%u",
                 req->retry_after > 0 ? req->retry_after : 1);
        ok &= MHD_add_response_header(resp, "Retry-After", retry) == MHD_YES;
    }
    if (req->close_connection || atomic_load(&req->server->draining)) {
        ok &= MHD_add_response_header(resp, "Connection", "close") == MHD_YES;
    }
    return ok;
}

/*
 * Queues the response of req. body, NULL for none, is a malloc'd string
 * whose ownership passes to MHD. err and detail go to the log line only.
 */
static enum MHD_Result
queue(request *req, int status, char *body, mr_err err, const char *detail,
      const char *allow)
{
    size_t len = body != NULL ? strlen(body) : 0;
    struct MHD_Response *resp;
    enum MHD_Result result = MHD_NO;

    resp = MHD_create_response_from_buffer(
        len, body,
        body != NULL ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(body);
        goto out;
    }
    if (!add_headers(req, resp, status, body != NULL, allow)) {
        goto out;
    }
    result = MHD_queue_response(req->conn, (unsigned int)status, resp);

out:
    if (resp != NULL) {
        MHD_destroy_response(resp);
    }
    if (result == MHD_YES) {
        req->phase = PHASE_RESPONDED;
        log_response(req, status, err, detail);
    } else {
        MR_ERROR("gw.queue.failed", req->request_id,
                 "queueing the %d response failed; closing the connection",
                 status);
    }
    return result;
}

/* Responds with the JSON error body of err. A NULL detail means the
 * default one. */
static enum MHD_Result
respond_error(request *req, mr_err err, const char *detail, const char *allow)
{
    char *body = gw_error_body(err, detail);

    if (body == NULL) {
        /* Only a detail that is not valid UTF-8 or a lack of memory gets here,
         * and the default detail is valid UTF-8. */
        detail = NULL;
        body = gw_error_body(err, NULL);
    }
    if (body == NULL) {
        return MHD_NO;
    }
    return queue(req, mr_err_http(err), body, err,
                 detail != NULL ? detail : mr_strerror(err), allow);
}

/* Responds to the request from the stored outcome of its RPC. */
static enum MHD_Result
respond_reply(request *req)
{
    char *body = NULL;
    int status = 0;
    mr_err err = req->err;

    /* DELETE is idempotent: an unknown id gets 204 too. */
    if (req->route->op == GW_OP_DELETE && err == MR_ESERVER_NOT_FOUND) {
        return queue(req, 204, NULL, MR_OK, NULL, NULL);
    }
    if (err != MR_OK) {
        return respond_error(req, err, req->detail[0] ? req->detail : NULL,
                             NULL);
    }

    err = gw_route_render(req->route, req->reply, &status, &body);
    if (err != MR_OK) {
        MR_ERROR("gw.render.failed", req->request_id,
                 "the reply of %s could not be converted to JSON: %s",
                 req->route->rpc_method, mr_err_code(err));
        return respond_error(req, err, NULL, NULL);
    }
    return queue(req, status, body, MR_OK, NULL, NULL);
}

/*
 * Receives the outcome of the RPC on an nng thread, stores it, and resumes
 * the connection so that MHD calls the access handler again, which queues the
 * response.
 */
static void
rpc_done(void *arg, const mr_rpc_status *status, ProtobufCMessage *response)
{
    request *req = arg;

    req->err = status->err;
    gw_copy_text(req->detail, sizeof(req->detail), status->detail);
    req->retry_after = status->retry_after;
    if (req->err == MR_EUNAVAILABLE && atomic_load(&req->server->closing)) {
        /* gw_server_stop closed the client under this call. */
        req->err = MR_ESHUTTING_DOWN;
        req->detail[0] = '\0';
    }
    req->reply = response;
    atomic_store_explicit(&req->done, true, memory_order_release);

    /* conn is still valid: MHD neither closes nor times out a suspended
     * connection, only this callback resumes it, and gw_server_stop stops
     * the daemon only after every callback has run. */
    MHD_resume_connection(req->conn);
    request_unref(req);
}

/* Sends the RPC of req, unless the server is closing. */
static mr_err
send_rpc(request *req)
{
    gw_server *server = req->server;
    const gw_route *route = req->route;
    uint32_t timeout_ms = route->long_timeout
                              ? server->config.register_timeout_ms
                              : server->config.request_timeout_ms;

    if (route->timeout_ms != 0 && route->timeout_ms < timeout_ms) {
        timeout_ms = route->timeout_ms;
    }
    mr_err err = MR_ESHUTTING_DOWN;

    pthread_rwlock_rdlock(&server->rpc_lock);
    if (!atomic_load(&server->closing)) {
        atomic_fetch_add(&req->refs, 1); /* released by rpc_done */
        err = (route->quick ? mr_rpc_call_quick : mr_rpc_call_async)(
            server->rpc, route->rpc_method, &req->call.msg.base,
            route->response_type, req->request_id, timeout_ms, rpc_done, req);
        if (err != MR_OK) {
            request_unref(req); /* rpc_done will not run */
        }
    }
    pthread_rwlock_unlock(&server->rpc_lock);
    return err;
}

/* Checks the body, sends the RPC and suspends until rpc_done resumes. */
static enum MHD_Result
start_call(request *req)
{
    const char *key = NULL;
    size_t key_len = 0;
    mr_err err;

    if (req->received > GW_BODY_MAX) {
        return respond_error(req, MR_EBODY_TOO_LARGE, NULL, NULL);
    }

    gw_lookup_api_key(req->conn, &key, &key_len);
    err = gw_call_prepare(&req->call, req->route, req->id, key, key_len,
                          req->body, req->body_len, req->detail,
                          sizeof(req->detail));
    if (err != MR_OK) {
        return respond_error(req, err, req->detail, NULL);
    }
    drop_body(req); /* call->body contains what the message points into */

    /* Suspended before the RPC goes out, because rpc_done may resume it
     * on another thread before this returns. A call that cannot start
     * resumes at once with its error, which the next call of the handler
     * responds to like any outcome. */
    req->phase = PHASE_WAITING;
    MHD_suspend_connection(req->conn);
    err = send_rpc(req);
    if (err != MR_OK) {
        req->err = err;
        atomic_store_explicit(&req->done, true, memory_order_release);
        MHD_resume_connection(req->conn);
    }
    return MHD_YES;
}

/* grow_body makes room for len more bytes of body. It returns false,
 * logged, without memory. */
static bool
grow_body(request *req, size_t len)
{
    size_t cap = req->body_cap * 2;
    char *grown;

    while (cap < req->body_len + len) {
        cap *= 2;
    }
    grown = malloc(cap);
    if (grown == NULL) {
        MR_ERROR("gw.body.nomem", req->request_id,
                 "closed the connection: no memory for a %zu-byte body", cap);
        return false;
    }

    memcpy(grown, req->body, req->body_len);
    if (req->body != req->small_body) {
        free(req->body);
    }
    req->body = grown;
    req->body_cap = cap;
    return true;
}

/* Appends a part of the body, or drops it once the body is too large. */
static enum MHD_Result
receive_body(request *req, const char *data, size_t *size)
{
    size_t len = *size;

    *size = 0;
    req->received += len;
    if (req->received > GW_BODY_MAX) {
        drop_body(req);
        if (req->received > DISCARD_MAX) {
            MR_WARN("gw.body.aborted", req->request_id,
                    "closed the connection: the body exceeds %d bytes",
                    DISCARD_MAX);
            return MHD_NO;
        }
        return MHD_YES;
    }

    if (req->body == NULL) {
        req->body = req->small_body;
        req->body_cap = sizeof(req->small_body);
    }
    if (req->body_len + len > req->body_cap && !grow_body(req, len)) {
        return MHD_NO;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    return MHD_YES;
}

/* Returns the declared Content-Length, or 0 when there is none. */
static unsigned long long
content_length(struct MHD_Connection *conn)
{
    const char *text =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

    return text != NULL ? strtoull(text, NULL, 10) : 0;
}

/* Returns true when a body follows the headers of the request. */
static bool
has_body(struct MHD_Connection *conn)
{
    return content_length(conn) > 0 ||
           MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       "Transfer-Encoding") != NULL;
}

/* Serves a path of gw_static.c to a GET or HEAD without an API key. The
 * readiness probe fails during a drain and otherwise calls Ping; the other
 * paths are served during a drain too. Other methods get 405 with Allow. */
static enum MHD_Result
respond_static(request *req, const char *method)
{
    char *body = NULL;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return respond_error(req, MR_EMETHOD, NULL, "GET, HEAD");
    }
    if (req->static_route == GW_STATIC_READY &&
        atomic_load(&req->server->draining)) {
        return respond_error(req, MR_ESHUTTING_DOWN, NULL, NULL);
    }
    if (req->static_route == GW_STATIC_READY) {
        req->route = gw_route_ping();
        return start_call(req);
    }
    if (gw_static_body(req->server, req->static_route, &body) != MR_OK) {
        return MHD_NO;
    }
    return queue(req, 200, body, MR_OK, "served by the gateway", NULL);
}

/* Runs the checks that need no body: drain, route, API key, id, size and
 * media type. On MR_EMETHOD, *allow lists the methods of the path. */
static mr_err
check_head(request *req, const char *url, const char *method,
           const char **allow)
{
    gw_match match;
    const char *key = NULL;
    size_t key_len = 0;
    mr_err err;

    if (atomic_load(&req->server->draining)) {
        return MR_ESHUTTING_DOWN;
    }

    err = gw_route_match(method, url, &match);
    if (err != MR_OK) {
        *allow = err == MR_EMETHOD ? match.allow : NULL;
        return err;
    }
    req->route = match.route;

    gw_lookup_api_key(req->conn, &key, &key_len);
    if (key == NULL || key_len == 0) {
        return MR_EUNAUTHENTICATED;
    }

    err = gw_route_parse_id(&match, req->id);
    if (err != MR_OK) {
        return err;
    }

    if (content_length(req->conn) > GW_BODY_MAX) {
        return MR_EBODY_TOO_LARGE;
    }

    /* Only POST and PATCH read their body. */
    if ((strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) &&
        has_body(req->conn)) {
        return gw_check_media_type(req->conn);
    }
    return MR_OK;
}

/*
 * Handles the first call of a request, made once its headers are in. A
 * failed check of a request with a body gets its response at once, so that
 * the body is not read, and "Connection: close", so that the unread body is
 * not taken for the next request. Without a body, the error waits for the
 * next call, which keeps the connection open.
 */
static enum MHD_Result
begin_request(request *req, const char *url, const char *method)
{
    const char *allow = NULL;
    mr_err err = check_head(req, url, method, &allow);

    if (err == MR_OK) {
        return MHD_YES;
    }
    if (has_body(req->conn)) {
        req->close_connection = true;
        return respond_error(req, err, NULL, allow);
    }
    req->early_err = err;
    req->early_allow = allow;
    return MHD_YES;
}

enum MHD_Result
gw_http_access(void *cls, struct MHD_Connection *conn, const char *url,
               const char *method, const char *version,
               const char *upload_data, size_t *upload_data_size,
               void **con_cls)
{
    gw_server *server = cls;
    request *req = *con_cls;
    const char *detail = NULL;

    /* Its 414 is sent already; MHD_NO closes the connection. */
    if (*con_cls == &rejected_request) {
        return MHD_NO;
    }
    if (req == NULL) {
        req = request_new(server, conn, url, method);
        if (req == NULL) {
            return MHD_NO;
        }
        *con_cls = req;

        if (gw_check_framing(conn, version, &detail) != MR_OK) {
            req->close_connection = true;
            return respond_error(req, MR_EINVALID_BODY, detail, NULL);
        }
        /* A response queued in this first call closes the connection
         * (libmicrohttpd 0.9.75), so one without a body waits for the
         * next call. */
        /* The readiness probe makes an RPC, so it reads a body like the
         * REST routes and gets its response once the request is in. */
        req->static_route = gw_static_find(server, url);
        if (req->static_route != GW_STATIC_NONE &&
            req->static_route != GW_STATIC_READY && has_body(conn)) {
            req->close_connection = true;
            return respond_static(req, method);
        }
        if (req->static_route != GW_STATIC_NONE) {
            return MHD_YES;
        }
        return begin_request(req, url, method);
    }

    if (*upload_data_size > 0) {
        return receive_body(req, upload_data, upload_data_size);
    }
    if (req->phase == PHASE_READING && req->static_route != GW_STATIC_NONE) {
        return respond_static(req, method);
    }
    if (req->phase == PHASE_READING && req->early_err != MR_OK) {
        return respond_error(req, req->early_err, NULL, req->early_allow);
    }
    if (req->phase == PHASE_READING) {
        return start_call(req);
    }
    if (req->phase == PHASE_WAITING &&
        atomic_load_explicit(&req->done, memory_order_acquire)) {
        return respond_reply(req);
    }
    return MHD_YES;
}

/* termination_name returns a word for why libmicrohttpd ended a
 * request, for logs. */
static const char *
termination_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return "completed";
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        return "error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "read error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client abort";
    default:
        return "unknown";
    }
}

void *
gw_http_started(void *cls, const char *uri, struct MHD_Connection *conn)
{
    gw_server *server = cls;

    atomic_fetch_add(&server->active, 1);
    return gw_query_reject(conn, uri) ? &rejected_request : NULL;
}

void
gw_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                  enum MHD_RequestTerminationCode toe)
{
    gw_server *server = cls;
    request *req = *con_cls != &rejected_request ? *con_cls : NULL;

    (void)conn;
    *con_cls = NULL;

    /* Without a request state, the headers never arrived whole. */
    if (req != NULL && req->phase != PHASE_RESPONDED) {
        MR_INFO("gw.request.closed", req->request_id,
                "%s %s closed before a response was queued (reason: %s)",
                req->method, req->path, termination_name(toe));
    }

    if (atomic_fetch_sub(&server->active, 1) == 1) {
        pthread_mutex_lock(&server->lock);
        pthread_cond_broadcast(&server->idle);
        pthread_mutex_unlock(&server->lock);
    }

    if (req != NULL) {
        request_unref(req);
    }
}
