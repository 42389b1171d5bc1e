/*
 * slow_peers.c - a fake MCP server and OAuth authorization server on one
 * loopback origin that delay every response by --delay-ms (default 100),
 * for the first-call benchmark of bench/run. It prints
 * {"url":"http://127.0.0.1:PORT","mcp_url":"http://127.0.0.1:PORT/mcp"} on
 * stdout once it listens. GET /__bench/counts returns at once how many
 * requests each path received, itself included.
 *
 *   slow_peers [--delay-ms MS] [--port PORT]
 *
 * One libmicrohttpd thread (epoll) serves every connection. Each request
 * is suspended once its body is read, and a timer thread resumes it
 * --delay-ms later. The delay is the same for every request, so the queue
 * of suspended requests is in deadline order.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "mr_util.h"

/* FD_RESERVE is how many descriptors the connection limit leaves for the
 * listening socket, epoll, the inter-thread pipe and stdio. */
#define FD_RESERVE 32

/* IDLE_TIMEOUT_S is how long a keep-alive connection may wait for its next
 * request before the server closes it. */
#define IDLE_TIMEOUT_S 30

static const char unauthorized_body[] = "{\"error\":\"unauthorized\"}";
static const char not_found_body[] = "{\"error\":\"not_found\"}";

/* One request from its headers to its response. */
typedef struct peer_request {
    struct MHD_Connection *conn;
    struct peer_request *next; /* in the timer queue */
    int64_t due_ns;
    bool routed;
    bool delayed;
    unsigned status;
    const char *body;   /* static, or owned_body */
    char *owned_body;   /* malloc'd by jansson, freed by completed */
    bool add_challenge; /* the WWW-Authenticate header of the 401 */
} peer_request;

/* The bodies that depend only on the origin, built once at start-up. */
static struct {
    char origin[64];
    char *challenge;     /* WWW-Authenticate value */
    char *resource_meta; /* /.well-known/oauth-protected-resource/mcp */
    char *server_meta;   /* /.well-known/oauth-authorization-server */
    json_t *counts;      /* path -> requests, used by the MHD thread only */
} peers;

/* The queue of suspended requests that the timer thread resumes. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC */
    peer_request *head;
    peer_request *tail;
    bool stopping;
    int64_t delay_ns;
} timer = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the timer ---- */

/* schedule suspends the connection of req and queues it for the timer
 * thread. It returns false, and suspends nothing, once the server is
 * stopping, and the caller then sends the response at once. */
static bool
schedule(peer_request *req)
{
    bool queued = false;

    pthread_mutex_lock(&timer.lock);
    if (!timer.stopping) {
        req->due_ns = now_ns() + timer.delay_ns;
        req->next = NULL;
        MHD_suspend_connection(req->conn);
        if (timer.tail != NULL) {
            timer.tail->next = req;
        } else {
            timer.head = req;
            pthread_cond_signal(&timer.wake);
        }
        timer.tail = req;
        queued = true;
    }
    pthread_mutex_unlock(&timer.lock);
    return queued;
}

/* timer_main resumes each queued request at its deadline, and every
 * queued request at once after stop_timer. */
static void *
timer_main(void *arg)
{
    peer_request *req;
    struct timespec due;

    (void)arg;
    pthread_mutex_lock(&timer.lock);
    for (;;) {
        if (timer.head == NULL && timer.stopping) {
            break;
        }
        if (timer.head == NULL) {
            pthread_cond_wait(&timer.wake, &timer.lock);
            continue;
        }
        if (!timer.stopping && timer.head->due_ns > now_ns()) {
            due.tv_sec = (time_t)(timer.head->due_ns / 1000000000);
            due.tv_nsec = (long)(timer.head->due_ns % 1000000000);
            pthread_cond_timedwait(&timer.wake, &timer.lock, &due);
            continue;
        }

        req = timer.head;
        timer.head = req->next;
        if (timer.head == NULL) {
            timer.tail = NULL;
        }
        /* The MHD thread may finish and free req as soon as it is
         * resumed, so req is not read after this call. */
        pthread_mutex_unlock(&timer.lock);
        MHD_resume_connection(req->conn);
        pthread_mutex_lock(&timer.lock);
    }
    pthread_mutex_unlock(&timer.lock);
    return NULL;
}

static int
start_timer(pthread_t *thread, int delay_ms)
{
    timer.delay_ns = (int64_t)delay_ms * 1000000;
    mr_cond_init_mono(&timer.wake);
    return pthread_create(thread, NULL, timer_main, NULL);
}

/* stop_timer resumes every suspended request and ends the timer thread,
 * because MHD_stop_daemon must find no suspended connection. It closes
 * the resumed connections without a response. */
static void
stop_timer(pthread_t thread)
{
    pthread_mutex_lock(&timer.lock);
    timer.stopping = true;
    pthread_cond_signal(&timer.wake);
    pthread_mutex_unlock(&timer.lock);
    pthread_join(thread, NULL);
}

/* ---- the routes ---- */

static void
count_path(const char *path)
{
    json_t *count = json_object_get(peers.counts, path);

    if (count != NULL) {
        json_integer_set(count, json_integer_value(count) + 1);
        return;
    }
    /* A path that is not valid UTF-8 cannot be a key and is not
     * counted. */
    json_object_set_new(peers.counts, path, json_integer(1));
}

/* registration_body returns a new client registration response with a
 * fresh random client_id and secret; the caller frees it. */
static char *
registration_body(void)
{
    char id[MR_UUID_LEN + 1];
    char secret[MR_UUID_LEN + 1];
    json_t *reply;
    char *body;

    mr_uuid_v4(id);
    mr_uuid_v4(secret);
    reply = json_pack("{s:s, s:s, s:i, s:s}", "client_id", id, "client_secret",
                      secret, "client_secret_expires_at", 0,
                      "token_endpoint_auth_method", "client_secret_basic");
    body = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    return body;
}

/* route sets the status and body of the response to req. */
static void
route(peer_request *req, const char *path, const char *method)
{
    req->routed = true;
    req->delayed = true;
    req->status = MHD_HTTP_OK;
    if (strcmp(path, "/__bench/counts") == 0) {
        req->owned_body = json_dumps(peers.counts, JSON_COMPACT);
        req->delayed = false;
    } else if (strcmp(path, "/mcp") == 0) {
        req->status = MHD_HTTP_UNAUTHORIZED;
        req->body = unauthorized_body;
        req->add_challenge = true;
    } else if (strcmp(path, "/.well-known/oauth-protected-resource/mcp") ==
               0) {
        req->body = peers.resource_meta;
    } else if (strcmp(path, "/.well-known/oauth-authorization-server") == 0) {
        req->body = peers.server_meta;
    } else if (strcmp(path, "/register") == 0 &&
               strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
        req->status = MHD_HTTP_CREATED;
        req->owned_body = registration_body();
    } else {
        req->status = MHD_HTTP_NOT_FOUND;
        req->body = not_found_body;
    }
    if (req->owned_body != NULL) {
        req->body = req->owned_body;
    }
}

static enum MHD_Result
send_reply(peer_request *req)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (req->body == NULL) {
        return MHD_NO; /* json_dumps ran out of memory */
    }

    /* MHD may call answer again after a failed queue, so the body stays
     * with req, and a body that req owns is copied. */
    resp = MHD_create_response_from_buffer(
        strlen(req->body), (void *)req->body,
        req->owned_body != NULL ? MHD_RESPMEM_MUST_COPY
                                : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return MHD_NO;
    }

    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    if (req->add_challenge) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                peers.challenge);
    }
    ret = MHD_queue_response(req->conn, req->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* answer counts a request when its headers arrive, discards its body,
 * then suspends it for the delay (all paths but /__bench/counts) and
 * sends the response when the timer resumes it. */
static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload,
       size_t *upload_size, void **state)
{
    peer_request *req = *state;

    (void)cls, (void)version, (void)upload;
    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL) {
            return MHD_NO;
        }
        req->conn = conn;
        *state = req;
        count_path(url);
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->routed) {
        return send_reply(req);
    }

    route(req, url, method);
    if (req->delayed && schedule(req)) {
        return MHD_YES;
    }
    return send_reply(req);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **state,
          enum MHD_RequestTerminationCode code)
{
    peer_request *req = *state;

    (void)cls, (void)conn, (void)code;
    if (req != NULL) {
        free(req->owned_body);
        free(req);
        *state = NULL;
    }
}

/* ---- start-up ---- */

/* build_metadata sets the origin and the bodies that depend on it, and
 * creates the table of counts. */
static int
build_metadata(int port)
{
    const char *origin = peers.origin;
    char endpoint[3][96];
    char mcp_url[96];
    json_t *doc;

    snprintf(peers.origin, sizeof(peers.origin), "http://127.0.0.1:%d", port);
    snprintf(mcp_url, sizeof(mcp_url), "%s/mcp", origin);
    snprintf(endpoint[0], sizeof(endpoint[0]), "%s/authorize", origin);
    snprintf(endpoint[1], sizeof(endpoint[1]), "%s/token", origin);
    snprintf(endpoint[2], sizeof(endpoint[2]), "%s/register", origin);

    doc =
        json_pack("{s:s, s:[s], s:[s]}", "resource", mcp_url,
                  "authorization_servers", origin, "scopes_supported", "mcp");
    peers.resource_meta = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);

    doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s]}", "issuer", origin,
        "authorization_endpoint", endpoint[0], "token_endpoint", endpoint[1],
        "registration_endpoint", endpoint[2], "response_types_supported",
        "code", "code_challenge_methods_supported", "S256",
        "token_endpoint_auth_methods_supported", "client_secret_basic");
    peers.server_meta = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);

    peers.challenge = malloc(192);
    peers.counts = json_object();
    if (peers.resource_meta == NULL || peers.server_meta == NULL ||
        peers.challenge == NULL || peers.counts == NULL) {
        return -1;
    }
    snprintf(peers.challenge, 192,
             "Bearer resource_metadata=\"%s/.well-known/"
             "oauth-protected-resource/mcp\"",
             origin);
    return 0;
}

/* listen_loopback returns a non-blocking socket listening on
 * 127.0.0.1:port (any free port for 0) and sets *bound to its port, or
 * returns -1. */
static int
listen_loopback(int port, int *bound)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof(addr);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* The kernel caps the backlog at net.core.somaxconn. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(fd, 4096) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return fd;
}

/* raise_fd_limit raises the descriptor limit to its hard limit and
 * returns how many connections fit under it. */
static unsigned
raise_fd_limit(void)
{
    struct rlimit lim;

    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return 1024 - FD_RESERVE;
    }
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur > UINT_MAX) {
        return UINT_MAX;
    }
    return lim.rlim_cur > 2 * FD_RESERVE ? (unsigned)lim.rlim_cur - FD_RESERVE
                                         : FD_RESERVE;
}

static bool
parse_int(const char *text, int max, int *out)
{
    char *end = NULL;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0 ||
        value > max) {
        return false;
    }
    *out = (int)value;
    return true;
}

static bool
parse_args(int argc, char **argv, int *delay_ms, int *port)
{
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) {
            return false;
        }
        if (strcmp(argv[i], "--delay-ms") == 0) {
            if (!parse_int(argv[i + 1], 3600000, delay_ms)) {
                return false;
            }
        } else if (strcmp(argv[i], "--port") == 0) {
            if (!parse_int(argv[i + 1], 65535, port)) {
                return false;
            }
        } else {
            return false;
        }
    }
    return true;
}

int
main(int argc, char **argv)
{
    int delay_ms = 100;
    int port = 0;
    int fd;
    unsigned limit;
    pthread_t thread;
    struct MHD_Daemon *daemon = NULL;
    int status = 1;

    if (!parse_args(argc, argv, &delay_ms, &port)) {
        fprintf(stderr, "usage: slow_peers [--delay-ms MS] [--port PORT]\n"
                        "  --delay-ms  delay of every response in "
                        "milliseconds (default 100)\n"
                        "  --port      TCP port on 127.0.0.1 (default 0, "
                        "any free port)\n");
        return 2;
    }
    mr_signals_block();
    limit = raise_fd_limit();
    if (mr_util_init() != MR_OK) {
        fprintf(stderr, "slow_peers: failed to initialise libsodium\n");
        return 1;
    }
    fd = listen_loopback(port, &port);
    if (fd < 0) {
        fprintf(stderr, "slow_peers: failed to listen on 127.0.0.1:%d: %s\n",
                port, strerror(errno));
        return 1;
    }
    if (build_metadata(port) != 0 || start_timer(&thread, delay_ms) != 0) {
        fprintf(stderr, "slow_peers: failed to build the metadata or start "
                        "the timer thread\n");
        close(fd);
        return 1;
    }

    daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
            MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        0, NULL, NULL, answer, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "slow_peers: failed to start libmicrohttpd\n");
        close(fd);
        goto out;
    }
    printf("{\"url\":\"%s\",\"mcp_url\":\"%s/mcp\"}\n", peers.origin,
           peers.origin);
    fflush(stdout);

    mr_signals_wait();
    status = 0;

out:
    stop_timer(thread);
    if (daemon != NULL) {
        MHD_stop_daemon(daemon);
    }
    json_decref(peers.counts);
    free(peers.resource_meta);
    free(peers.server_meta);
    free(peers.challenge);
    return status;
}
