/* gw_server.c - the HTTP server of the gateway: start, read deadlines,
 * drain, stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_http.h"
#include "gw_render.h"
#include "gw_target.h"
#include "gw_watchdog.h"
#include "mr_log.h"
#include "mr_util.h"

/* MHD's memory per connection, which bounds the request line and headers.
 * NOTE: MHD rejects a request whose headers do not fit, and malformed HTTP,
 * with its own status and HTML body, not the JSON error shape. */
#define CONNECTION_MEMORY_MAX (32 * 1024)

/* Time in ms that the requests failed with 503 after the grace period get
 * to send their response before the connections are closed. */
#define FLUSH_MS 1000

/* Parses a decimal port of 0 to 65535 that makes up all of text. */
static bool
parse_port(const char *text, uint16_t *port)
{
    char *end = NULL;
    unsigned long value;

    if (text[0] < '0' || text[0] > '9') {
        return false;
    }
    errno = 0;
    value = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || value > 65535) {
        return false;
    }
    *port = (uint16_t)value;
    return true;
}

/* Parses "[IPV6]:PORT". */
static bool
parse_ipv6(const char *text, struct sockaddr_storage *addr, socklen_t *len)
{
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
    const char *close = strchr(text, ']');
    char host[INET6_ADDRSTRLEN];
    size_t host_len;
    uint16_t port;

    if (close == NULL || close[1] != ':') {
        return false;
    }
    host_len = (size_t)(close - (text + 1));
    if (host_len == 0 || host_len >= sizeof(host)) {
        return false;
    }
    memcpy(host, text + 1, host_len);
    host[host_len] = '\0';

    if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1 ||
        !parse_port(close + 2, &port)) {
        return false;
    }
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    *len = sizeof(*in6);
    return true;
}

/* Parses "IPV4:PORT". */
static bool
parse_ipv4(const char *text, struct sockaddr_storage *addr, socklen_t *len)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
    const char *colon = strrchr(text, ':');
    char host[INET_ADDRSTRLEN];
    size_t host_len;
    uint16_t port;

    if (colon == NULL) {
        return false;
    }
    host_len = (size_t)(colon - text);
    if (host_len == 0 || host_len >= sizeof(host)) {
        return false;
    }
    memcpy(host, text, host_len);
    host[host_len] = '\0';

    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1 ||
        !parse_port(colon + 1, &port)) {
        return false;
    }
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    *len = sizeof(*in4);
    return true;
}

mr_err
gw_parse_listen(const char *text, struct sockaddr_storage *addr,
                socklen_t *len)
{
    bool ok;

    memset(addr, 0, sizeof(*addr));
    if (text[0] == '[') {
        ok = parse_ipv6(text, addr, len);
    } else {
        ok = parse_ipv4(text, addr, len);
    }
    return ok ? MR_OK : MR_EINVALID_FIELD;
}

/*
 * Writes the messages of libmicrohttpd to the log, at most one line per
 * GW_LOGRATE_INTERVAL_MS for each message, because a client can repeat
 * most of them at will: each connection over a connection limit makes one.
 * NOTE: the repeats held back show only in the count of the next line of
 * the same message.
 */
static void
log_mhd(void *cls, const char *fmt, va_list ap)
{
    gw_server *server = cls;
    uint64_t count =
        gw_lograte_table_event(&server->mhd_lines, fmt, mr_mono_ms());
    mr_log_field fields[] = {MR_FINT("count", count)};
    char text[512];
    size_t len;

    if (count == 0) {
        return;
    }
    vsnprintf(text, sizeof(text), fmt, ap);
    len = strlen(text);
    if (len > 0 && text[len - 1] == '\n') {
        text[len - 1] = '\0';
    }
    mr_log_fields(MR_LOG_WARN, "gw.mhd", NULL, fields, 1, "libmicrohttpd: %s",
                  text);
}

static void
server_free(gw_server *server)
{
    /* After MHD_stop_daemon, or before the daemon started: no connection
     * is left in the watchdog's table. */
    gw_acceptor_close(server->acceptor);
    if (server->watchdog != NULL) {
        gw_watchdog_stop(server->watchdog);
    }
    if (server->rpc != NULL) {
        mr_rpc_client_close(server->rpc);
    }
    gw_lograte_table_destroy(&server->mhd_lines);
    pthread_rwlock_destroy(&server->rpc_lock);
    pthread_cond_destroy(&server->idle);
    pthread_mutex_destroy(&server->lock);
    free(server->client_metadata);
    free(server);
}

static gw_server *
server_new(const gw_config *cfg)
{
    gw_server *server = calloc(1, sizeof(*server));

    if (server == NULL) {
        return NULL;
    }
    server->config = *cfg;
    pthread_mutex_init(&server->lock, NULL);

    /* The monotonic clock, so that wall-clock steps do not stretch or cut
     * the shutdown grace period. */
    mr_cond_init_mono(&server->idle);

    pthread_rwlock_init(&server->rpc_lock, NULL);
    gw_lograte_table_init(&server->mhd_lines, GW_LOGRATE_INTERVAL_MS);
    atomic_init(&server->draining, false);
    atomic_init(&server->closing, false);

    if (cfg->public_base_url != NULL && cfg->public_base_url[0] != '\0') {
        server->client_metadata =
            gw_render_client_metadata(cfg->public_base_url);
        if (server->client_metadata == NULL) {
            server_free(server);
            return NULL;
        }
    }
    return server;
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Decodes the percent escapes of a URL path or query in place and returns
 * the new length. "%00" and "%2F" stay as they are, so they make the path
 * invalid. A decoded NUL would end the path early for every C string
 * function, and a decoded "/" would split one segment in two (RFC 3986
 * section 2.2), so "ID%00/x" or "ID%2Foauth-provider" would reach another
 * route.
 *
 * A target in absolute form becomes its path first, while its escapes are
 * still undecoded, so that "%68ttp://x/v1/..." does not pass for one.
 * libmicrohttpd 0.9.75 also calls this on query arguments, which no route
 * reads.
 */
static size_t
unescape_url(void *cls, struct MHD_Connection *conn, char *text)
{
    const char *path = gw_target_origin_path(text);
    char *out;

    (void)cls;
    (void)conn;
    if (path != text) {
        memmove(text, path, strlen(path) + 1);
    }

    /* Most paths have no escape: they keep every byte. */
    out = strchr(text, '%');
    if (out == NULL) {
        return strlen(text);
    }

    for (const char *in = out; *in != '\0'; in++) {
        int high = in[0] == '%' ? hex_digit(in[1]) : -1;
        int low = high >= 0 ? hex_digit(in[2]) : -1;
        int byte = high * 16 + low;

        if (low >= 0 && byte != 0 && byte != '/') {
            *out++ = (char)byte;
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return (size_t)(out - text);
}

/* Writes the peer address of conn as "IPV4:PORT" or "[IPV6]:PORT". */
static void
format_client(struct MHD_Connection *conn, char out[GW_CLIENT_MAX])
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *addr = info != NULL ? info->client_addr : NULL;
    char host[INET6_ADDRSTRLEN] = "?";

    if (addr != NULL && addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, GW_CLIENT_MAX, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (addr != NULL && addr->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)addr;

        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
        snprintf(out, GW_CLIENT_MAX, "%s:%u", host, ntohs(in4->sin_port));
    } else {
        snprintf(out, GW_CLIENT_MAX, "%s", host);
    }
}

/* Adds a new connection to the watchdog. Without memory for it, the
 * connection is shut down at once rather than left without a deadline. */
static gw_watch *
watch_connection(gw_watchdog *watchdog, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char client[GW_CLIENT_MAX];
    gw_watch *watch;

    if (info == NULL) {
        return NULL;
    }
    format_client(conn, client);
    watch = gw_watchdog_add(watchdog, info->connect_fd, client);
    if (watch == NULL) {
        MR_ERROR("gw.watchdog.nomem", NULL,
                 "closing the connection of %s: no memory for its read "
                 "deadline",
                 client);
        shutdown(info->connect_fd, SHUT_RDWR);
    }
    return watch;
}

/*
 * The MHD_OPTION_NOTIFY_CONNECTION callback, with the gw_server as cls. It
 * passes every start and close to the acceptor, and keeps the watchdog's
 * table, if there is a watchdog. libmicrohttpd 0.9.75 calls it with CLOSED
 * before it closes the socket, both in MHD_cleanup_connections (every
 * close, MHD_stop_daemon included) and when setting up a new connection
 * fails. So the watchdog never shuts down a closed descriptor, or one
 * reused by a new socket.
 */
static void
notify_connection(void *cls, struct MHD_Connection *conn,
                  void **socket_context,
                  enum MHD_ConnectionNotificationCode code)
{
    gw_server *server = cls;

    gw_acceptor_track(server->acceptor, code);
    if (server->watchdog == NULL) {
        return;
    }
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = watch_connection(server->watchdog, conn);
    } else if (*socket_context != NULL) {
        gw_watchdog_remove(*socket_context);
        *socket_context = NULL;
    }
}

/* Returns the watchdog entry of conn, or NULL when it has none. */
static gw_watch *
connection_watch(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

/*
 * The access handler: gw_http_access behind the read deadline. MHD makes
 * the first call once the headers are in, one call per part of the body,
 * and then a call without data once the whole request is in; a resumed
 * request also gets a call without data. That call disarms the deadline,
 * before gw_http_access can suspend the request to wait for the
 * registration service.
 */
static enum MHD_Result
access_with_deadline(void *cls, struct MHD_Connection *conn, const char *url,
                     const char *method, const char *version,
                     const char *upload_data, size_t *upload_data_size,
                     void **con_cls)
{
    gw_watch *watch;

    if (*con_cls != NULL && *upload_data_size == 0) {
        watch = connection_watch(conn);
        if (watch != NULL) {
            gw_watchdog_disarm(watch);
        }
    }
    return gw_http_access(cls, conn, url, method, version, upload_data,
                          upload_data_size, con_cls);
}

/* The MHD_OPTION_NOTIFY_COMPLETED callback: gw_http_completed, then a new
 * read deadline for the next request of a connection that stays open. */
static void
completed_with_deadline(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    gw_watch *watch;

    gw_http_completed(cls, conn, con_cls, toe);

    /* Other codes close the connection. */
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        return;
    }
    watch = connection_watch(conn);
    if (watch != NULL) {
        gw_watchdog_rearm(watch);
    }
}

/* Starts libmicrohttpd with its internal threads, without a listening
 * socket of its own: the acceptor adds every connection. */
static struct MHD_Daemon *
start_daemon(gw_server *server)
{
    const gw_config *cfg = &server->config;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                         MHD_USE_NO_LISTEN_SOCKET;

    /* The acceptor keeps to cfg->max_connections, and a worker counts a
     * connection only once it takes it up, so that one worker may get
     * them all (gw_acceptor_start). The logger comes first so that MHD
     * reports option errors through it. */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, access_with_deadline, server,
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd, server,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)cfg->max_connections * (unsigned int)cfg->threads,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY_MAX,
        MHD_OPTION_URI_LOG_CALLBACK, gw_http_started, server,
        MHD_OPTION_NOTIFY_COMPLETED, completed_with_deadline, server,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, server,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_url, NULL, MHD_OPTION_END);
}

/* Listens on addr and starts libmicrohttpd behind the acceptor. */
static mr_err
start_http(gw_server *server, const struct sockaddr_storage *addr,
           socklen_t addr_len)
{
    const char *listen = server->config.listen;

    if (gw_acceptor_open(addr, addr_len, &server->acceptor) != MR_OK) {
        MR_ERROR("gw.listen.failed", NULL,
                 "listening on %s failed: %s; check that the address is "
                 "local and the port is free",
                 listen, strerror(errno));
        return MR_EUNAVAILABLE;
    }
    server->daemon = start_daemon(server);
    if (server->daemon == NULL) {
        MR_ERROR("gw.http.failed", NULL,
                 "starting the HTTP server on %s failed", listen);
        return MR_EUNAVAILABLE;
    }
    if (gw_acceptor_start(server->acceptor, server->daemon,
                          (unsigned int)server->config.max_connections) !=
        MR_OK) {
        MR_ERROR("gw.accept.start_failed", NULL,
                 "starting the thread that accepts connections failed");
        MHD_stop_daemon(server->daemon);
        server->daemon = NULL;
        return MR_EINTERNAL;
    }
    return MR_OK;
}

mr_err
gw_server_start(const gw_config *cfg, gw_server **out)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    gw_server *server = NULL;
    mr_err err;

    err = gw_parse_listen(cfg->listen, &addr, &addr_len);
    if (err != MR_OK) {
        MR_ERROR("gw.listen.invalid", NULL,
                 "invalid listen address '%s': use IPV4:PORT or "
                 "[IPV6]:PORT with numeric addresses, such as "
                 "127.0.0.1:8080",
                 cfg->listen);
        goto out;
    }

    server = server_new(cfg);
    if (server == NULL) {
        err = MR_ENOMEM;
        goto out;
    }
    err = mr_rpc_client_open(&server->rpc, cfg->registration_url, false);
    if (err != MR_OK) {
        MR_ERROR("gw.rpc.open_failed", NULL,
                 "opening the RPC client of %s failed: %s",
                 cfg->registration_url, mr_err_code(err));
        goto out;
    }
    mr_rpc_client_set_batching(server->rpc, cfg->rpc_batches);

    if (cfg->read_timeout_ms > 0) {
        err = gw_watchdog_start(cfg->read_timeout_ms, GW_WATCHDOG_PERIOD_MS,
                                &server->watchdog);
        if (err != MR_OK) {
            goto out;
        }
    }

    err = start_http(server, &addr, addr_len);
    if (err != MR_OK) {
        goto out;
    }

    MR_INFO("gw.start", NULL,
            "listening on %s (port %u), registration service at %s with "
            "%d batches in flight, %d threads, read timeout %u ms, at most "
            "%d connections, %d per client address (0: no limit)",
            cfg->listen, gw_server_port(server), cfg->registration_url,
            cfg->rpc_batches, cfg->threads, cfg->read_timeout_ms,
            cfg->max_connections, cfg->max_connections_per_ip);
    /* Scripts wait for this line, so it does not wait for the flush. */
    mr_log_flush();
    *out = server;

out:
    if (err != MR_OK && server != NULL) {
        server_free(server);
    }
    return err;
}

uint16_t
gw_server_port(const gw_server *server)
{
    return gw_acceptor_port(server->acceptor);
}

/* Waits up to timeout_ms for every request to complete. Returns the
 * number still in progress. */
static int
wait_idle(gw_server *server, int timeout_ms)
{
    struct timespec deadline = mr_mono_timespec(mr_mono_ms() + timeout_ms);
    int active;

    pthread_mutex_lock(&server->lock);
    while (atomic_load(&server->active) > 0) {
        if (pthread_cond_timedwait(&server->idle, &server->lock, &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
    active = atomic_load(&server->active);
    pthread_mutex_unlock(&server->lock);
    return active;
}

void
gw_server_stop(gw_server *server, int grace_ms)
{
    int active;

    /* Refuse new requests and stop accepting connections. The shut-down
     * socket makes the kernel refuse new connections and reset those that
     * it queued, which would otherwise wait until the exit. */
    atomic_store(&server->draining, true);
    gw_acceptor_stop(server->acceptor);
    MR_INFO("gw.drain", NULL,
            "stopped accepting connections; waiting up to %d ms for the "
            "requests in progress",
            grace_ms);

    active = wait_idle(server, grace_ms);
    if (active > 0) {
        MR_WARN("gw.drain.timeout", NULL,
                "%d requests still in progress after %d ms; failing "
                "those waiting for the registration service with 503 "
                "shutting_down",
                active, grace_ms);
    }

    /* Closing the client fails the calls still out with MR_EUNAVAILABLE,
     * which rpc_done turns into 503 shutting_down and which resumes their
     * connections: MHD_stop_daemon must find none suspended. */
    pthread_rwlock_wrlock(&server->rpc_lock);
    atomic_store(&server->closing, true);
    pthread_rwlock_unlock(&server->rpc_lock);
    mr_rpc_client_close(server->rpc);
    server->rpc = NULL;

    if (active > 0) {
        active = wait_idle(server, FLUSH_MS);
    }

    MHD_stop_daemon(server->daemon);
    MR_INFO("gw.stop", NULL, "stopped; %d requests were cut off", active);
    server_free(server);
}
