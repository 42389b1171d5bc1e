/* gw_accept_test.c - the acceptor in front of a two-worker daemon, on a
 * free 127.0.0.1 port. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_accept.h"
#include "mr_test.h"
#include "mr_util.h"

#define CLIENTS 8

/* The workers that served the requests, in order of arrival. */
typedef struct {
    pthread_mutex_t lock;
    struct MHD_Daemon *workers[CLIENTS];
    int served;
} served_by;

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload,
       size_t *upload_size, void **state)
{
    served_by *log = cls;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)method, (void)version, (void)upload, (void)upload_size;

    /* libmicrohttpd 0.9.75 closes the connection after a response queued
     * in the first call, so the response waits for the second. */
    if (*state == NULL) {
        *state = log;
        return MHD_YES;
    }
    /* Holds the worker, so that connections added meanwhile wait for
     * it. */
    if (strcmp(url, "/slow") == 0) {
        usleep(300 * 1000);
    }
    pthread_mutex_lock(&log->lock);
    if (log->served < CLIENTS && info != NULL) {
        log->workers[log->served++] = info->daemon;
    }
    pthread_mutex_unlock(&log->lock);

    resp = MHD_create_response_from_buffer(2, "ok", MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Starts a daemon of two workers without a listening socket, and acc's
 * thread to feed it with at most limit connections. */
static struct MHD_Daemon *
start_workers(served_by *log, gw_acceptor *acc, unsigned int limit)
{
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
            MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
        0, NULL, NULL, answer, log, MHD_OPTION_THREAD_POOL_SIZE, 2u,
        MHD_OPTION_NOTIFY_CONNECTION, gw_acceptor_notify, acc, MHD_OPTION_END);

    MR_CHECK(daemon != NULL);
    MR_CHECK_INT(gw_acceptor_start(acc, daemon, limit), ==, MR_OK);
    return daemon;
}

/* Stops acc's thread before the daemon, whose closes acc counts, and
 * frees both. */
static void
stop_workers(gw_acceptor *acc, struct MHD_Daemon *daemon)
{
    gw_acceptor_stop(acc);
    MHD_stop_daemon(daemon);
    gw_acceptor_close(acc);
}

/* Fills addr with 127.0.0.1:port. */
static socklen_t
loopback(struct sockaddr_storage *addr, uint16_t port)
{
    struct sockaddr_in *in = (struct sockaddr_in *)addr;

    memset(addr, 0, sizeof(*addr));
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof(*in);
}

/* Connects fd to 127.0.0.1:port. Returns 0 or -1 with errno set. */
static int
connect_to(int fd, uint16_t port)
{
    struct sockaddr_storage addr;
    socklen_t len = loopback(&addr, port);

    return connect(fd, (struct sockaddr *)&addr, len);
}

/* Sends a GET of path on fd. */
static bool
send_get_of(int fd, const char *path)
{
    char request[128];
    int len = snprintf(request, sizeof(request),
                       "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);

    return send(fd, request, (size_t)len, 0) == len;
}

/* Sends a GET of / on fd. */
static bool
send_get(int fd)
{
    return send_get_of(fd, "/");
}

/* Reads until the 2-byte body has arrived. Returns true when the response
 * is a 200 with that body. */
static bool
read_ok(int fd)
{
    char buf[512];
    size_t got = 0;
    ssize_t n;

    while (got < sizeof(buf) - 1) {
        n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0) {
            return false;
        }
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\nok") != NULL) {
            return strncmp(buf, "HTTP/1.1 200", 12) == 0;
        }
    }
    return false;
}

/* Sends one GET on fd and reads its response. */
static bool
get_ok(int fd)
{
    return send_get(fd) && read_ok(fd);
}

static gw_acceptor *
open_any_port(void)
{
    struct sockaddr_storage addr;
    socklen_t len = loopback(&addr, 0);
    gw_acceptor *acc = NULL;

    MR_CHECK_INT(gw_acceptor_open(&addr, len, &acc), ==, MR_OK);
    return acc;
}

/* Keep-alive connections opened one after the other go to both workers
 * in turn, where libmicrohttpd's own accept may put them all on one. A
 * descriptor opened meanwhile, such as the time zone file that the first
 * response reads, can shift the turn by one. */
static void
connections_spread_over_workers(void)
{
    served_by log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    gw_acceptor *acc = open_any_port();
    struct MHD_Daemon *daemon = start_workers(&log, acc, 1024);
    int fds[CLIENTS];
    int first = 0;
    int second;

    /* Every client socket exists before the first accept, so that the
     * accepted descriptors follow each other. */
    for (int i = 0; i < CLIENTS; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        MR_CHECK_INT(fds[i], >=, 0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        MR_CHECK_INT(connect_to(fds[i], gw_acceptor_port(acc)), ==, 0);
        MR_CHECK(get_ok(fds[i]));
    }

    MR_CHECK_INT(log.served, ==, CLIENTS);
    for (int i = 0; i < log.served; i++) {
        first += log.workers[i] == log.workers[0];
    }
    second = log.served - first;
    MR_CHECK_INT(first, >=, CLIENTS / 2 - 1);
    MR_CHECK_INT(second, >=, CLIENTS / 2 - 1);

    for (int i = 0; i < CLIENTS; i++) {
        close(fds[i]);
    }
    stop_workers(acc, daemon);
}

/* Port 0 picks a free port, which a second acceptor cannot take. */
static void
port_reported_and_kept(void)
{
    gw_acceptor *acc = open_any_port();
    gw_acceptor *second = NULL;
    struct sockaddr_storage addr;
    socklen_t len;

    MR_CHECK_INT(gw_acceptor_port(acc), >, 0);
    len = loopback(&addr, gw_acceptor_port(acc));
    MR_CHECK_INT(gw_acceptor_open(&addr, len, &second), ==, MR_EUNAVAILABLE);
    MR_CHECK_INT(errno, ==, EADDRINUSE);
    MR_CHECK(second == NULL);
    gw_acceptor_close(acc);
}

/* Stopping wakes the thread blocked in accept, and the port then refuses
 * connections although the socket stays open until the close. */
static void
stop_refuses_new_connections(void)
{
    served_by log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    gw_acceptor *acc = open_any_port();
    struct MHD_Daemon *daemon = start_workers(&log, acc, 1024);
    int fd;

    gw_acceptor_stop(acc);
    gw_acceptor_stop(acc);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    MR_CHECK_INT(connect_to(fd, gw_acceptor_port(acc)), ==, -1);
    MR_CHECK_INT(errno, ==, ECONNREFUSED);
    close(fd);
    MR_CHECK_INT(log.served, ==, 0);

    MHD_stop_daemon(daemon);
    gw_acceptor_close(acc);
}

/* With the daemon at the limit, a further connection waits in the backlog
 * unanswered, and is served once a slot frees. */
static void
limit_holds_connections_back(void)
{
    served_by log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    gw_acceptor *acc = open_any_port();
    struct MHD_Daemon *daemon = start_workers(&log, acc, 2);
    struct pollfd waiting = {.events = POLLIN};
    int fds[2];

    for (int i = 0; i < 2; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        MR_CHECK_INT(connect_to(fds[i], gw_acceptor_port(acc)), ==, 0);
        MR_CHECK(get_ok(fds[i]));
    }

    waiting.fd = socket(AF_INET, SOCK_STREAM, 0);
    MR_CHECK_INT(connect_to(waiting.fd, gw_acceptor_port(acc)), ==, 0);
    MR_CHECK(send_get(waiting.fd));
    MR_CHECK_INT(poll(&waiting, 1, 300), ==, 0);
    MR_CHECK_INT(log.served, ==, 2);

    close(fds[0]);
    MR_CHECK(read_ok(waiting.fd));
    MR_CHECK_INT(log.served, ==, 3);

    close(fds[1]);
    close(waiting.fd);
    stop_workers(acc, daemon);
}

/* A connection added to a busy worker counts towards the limit before
 * the worker takes it up. */
static void
limit_counts_connections_on_their_way(void)
{
    served_by log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    gw_acceptor *acc = open_any_port();
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
            MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
        0, NULL, NULL, answer, &log, MHD_OPTION_NOTIFY_CONNECTION,
        gw_acceptor_notify, acc, MHD_OPTION_END);
    struct pollfd waiting = {.events = POLLIN};
    int busy = socket(AF_INET, SOCK_STREAM, 0);
    int idle = socket(AF_INET, SOCK_STREAM, 0);

    MR_CHECK(daemon != NULL);
    MR_CHECK_INT(gw_acceptor_start(acc, daemon, 2), ==, MR_OK);
    MR_CHECK_INT(connect_to(busy, gw_acceptor_port(acc)), ==, 0);
    MR_CHECK(send_get_of(busy, "/slow"));
    usleep(100 * 1000); /* the worker is in the handler */

    /* idle waits for the worker, and the third for a slot. */
    MR_CHECK_INT(connect_to(idle, gw_acceptor_port(acc)), ==, 0);
    waiting.fd = socket(AF_INET, SOCK_STREAM, 0);
    MR_CHECK_INT(connect_to(waiting.fd, gw_acceptor_port(acc)), ==, 0);
    MR_CHECK(send_get(waiting.fd));
    MR_CHECK(read_ok(busy));
    MR_CHECK_INT(poll(&waiting, 1, 300), ==, 0);

    close(busy);
    MR_CHECK(read_ok(waiting.fd));

    close(idle);
    close(waiting.fd);
    stop_workers(acc, daemon);
}

/* At the limit, a close wakes the thread at once: 20 connections one
 * after the other through one slot take far less than the 100 ms that
 * the thread waits without a wake-up, each. */
static void
close_frees_slot_at_once(void)
{
    served_by log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    gw_acceptor *acc = open_any_port();
    struct MHD_Daemon *daemon = start_workers(&log, acc, 1);
    int64_t start;

    start = mr_mono_ms();
    for (int i = 0; i < 20; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        MR_CHECK_INT(connect_to(fd, gw_acceptor_port(acc)), ==, 0);
        MR_CHECK(get_ok(fd));
        close(fd);
    }
    MR_CHECK_INT(mr_mono_ms() - start, <, 1000);

    stop_workers(acc, daemon);
}

/* An acceptor whose thread never started closes without waiting. */
static void
close_without_start(void)
{
    gw_acceptor_close(open_any_port());
    gw_acceptor_close(NULL);
}

static const mr_test_case cases[] = {
    {"connections_spread_over_workers", connections_spread_over_workers},
    {"port_reported_and_kept", port_reported_and_kept},
    {"stop_refuses_new_connections", stop_refuses_new_connections},
    {"limit_holds_connections_back", limit_holds_connections_back},
    {"limit_counts_connections_on_their_way",
     limit_counts_connections_on_their_way},
    {"close_frees_slot_at_once", close_frees_slot_at_once},
    {"close_without_start", close_without_start},
};

MR_TEST_MAIN(cases)
