/* gw_accept.c - accepts connections and spreads them over the workers. */
#define _GNU_SOURCE /* accept4, pthread_setname_np */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw_accept.h"
#include "gw_lograte.h"
#include "mr_log.h"
#include "mr_util.h"

/* How long the thread pauses after an accept fails for lack of
 * descriptors or memory, so that it does not spin meanwhile. */
#define RETRY_PAUSE_MS 100

/* How long the thread waits at most, at the connection limit, between
 * looks at the counts, when no close wakes it. */
#define SLOT_WAIT_MS 100

/* A connection that no worker took up this long after the last one was
 * added counts as dropped. libmicrohttpd 0.9.75 closes a connection
 * without notice when it has no memory for it.
 * NOTE: a worker that stalls this long, as on a blocked stdout, lets the
 * thread accept one connection over the limit each time. */
#define PENDING_MAX_MS 5000

struct gw_acceptor {
    int fd;
    uint16_t port;
    struct MHD_Daemon *daemon;
    unsigned int limit;  /* connections the daemon may hold */
    atomic_uint pending; /* added, not yet taken up by a worker */
    atomic_uint open;    /* taken up by a worker, not yet closed */
    int64_t last_add_ms; /* of the accept thread */

    /* The thread sleeps on freed while at the limit, with waiting set,
     * and a close signals it. */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    atomic_bool waiting;

    pthread_t thread;
    bool started;
    atomic_bool stopping;
    gw_lograte failures; /* one warn line a second while accept fails */
};

/* Binds and listens on a new socket. Returns the descriptor, or -1 with
 * errno set. */
static int
listen_on(const struct sockaddr_storage *addr, socklen_t len)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    int saved;

    if (fd < 0) {
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
        goto fail;
    }
    if (addr->ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
        goto fail;
    }
    if (bind(fd, (const struct sockaddr *)addr, len) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        goto fail;
    }
    return fd;

fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

/* Returns the port fd is bound to, or 0. */
static uint16_t
bound_port(int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);

    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        return 0;
    }
    if (addr.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    }
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

mr_err
gw_acceptor_open(const struct sockaddr_storage *addr, socklen_t len,
                 gw_acceptor **out)
{
    gw_acceptor *acc = calloc(1, sizeof(*acc));

    if (acc == NULL) {
        return MR_ENOMEM;
    }
    acc->fd = listen_on(addr, len);
    if (acc->fd < 0) {
        free(acc);
        return MR_EUNAVAILABLE;
    }
    acc->port = bound_port(acc->fd);
    atomic_init(&acc->stopping, false);
    atomic_init(&acc->pending, 0);
    atomic_init(&acc->open, 0);
    atomic_init(&acc->waiting, false);
    pthread_mutex_init(&acc->lock, NULL);
    mr_cond_init_mono(&acc->freed);
    gw_lograte_init(&acc->failures, GW_LOGRATE_INTERVAL_MS);
    *out = acc;
    return MR_OK;
}

uint16_t
gw_acceptor_port(const gw_acceptor *acc)
{
    return acc->port;
}

/* Sleeps for ms milliseconds. */
static void
pause_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&pause, NULL);
}

/*
 * Returns the number of connections open or on their way to a worker.
 * pending is read first, so a connection taken up between the two reads
 * counts twice: the error makes the thread wait, never exceed the limit.
 */
static unsigned int
connections_in_use(gw_acceptor *acc)
{
    unsigned int pending = atomic_load(&acc->pending);

    if (pending > 0 && mr_mono_ms() - acc->last_add_ms > PENDING_MAX_MS) {
        atomic_store(&acc->pending, 0);
        pending = 0;
    }
    return pending + atomic_load(&acc->open);
}

/*
 * Waits while the daemon is at its connection limit. Further connections
 * then wait in the listen backlog, as with libmicrohttpd's own accept,
 * instead of being accepted and closed at once. waiting is set before
 * the counts are read, so a close either shows in them or signals.
 */
static void
wait_for_slot(gw_acceptor *acc)
{
    pthread_mutex_lock(&acc->lock);
    atomic_store(&acc->waiting, true);
    while (!atomic_load(&acc->stopping) &&
           connections_in_use(acc) >= acc->limit) {
        struct timespec until = mr_mono_timespec(mr_mono_ms() + SLOT_WAIT_MS);

        pthread_cond_timedwait(&acc->freed, &acc->lock, &until);
    }
    atomic_store(&acc->waiting, false);
    pthread_mutex_unlock(&acc->lock);
}

/* Wakes the thread if it waits for a slot. */
static void
wake(gw_acceptor *acc)
{
    if (!atomic_load(&acc->waiting)) {
        return;
    }
    pthread_mutex_lock(&acc->lock);
    pthread_cond_signal(&acc->freed);
    pthread_mutex_unlock(&acc->lock);
}

/* Takes one from *count, never below 0: connections_in_use may have
 * dropped pending. */
static void
count_down(atomic_uint *count)
{
    unsigned int value = atomic_load(count);

    while (value > 0 &&
           !atomic_compare_exchange_weak(count, &value, value - 1)) {
    }
}

/* Adds fd to the daemon, which reports it once a worker takes it up. */
static void
add_connection(gw_acceptor *acc, int fd, const struct sockaddr_storage *addr,
               socklen_t len)
{
    /* Counted before the call, because the worker may take it up and
     * report it before the call returns. */
    atomic_fetch_add(&acc->pending, 1);
    acc->last_add_ms = mr_mono_ms();

    /* On failure MHD closes fd and logs why. */
    if (MHD_add_connection(acc->daemon, fd, (const struct sockaddr *)addr,
                           len) != MHD_YES) {
        count_down(&acc->pending);
    }
}

void
gw_acceptor_track(gw_acceptor *acc, enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&acc->open, 1);
        count_down(&acc->pending);
        return;
    }
    count_down(&acc->open);
    wake(acc);
}

void
gw_acceptor_notify(void *cls, struct MHD_Connection *conn,
                   void **socket_context,
                   enum MHD_ConnectionNotificationCode code)
{
    (void)conn, (void)socket_context;
    gw_acceptor_track(cls, code);
}

/* Logs a failed accept at most once a second, then pauses, because an
 * immediate retry would most likely fail the same way. */
static void
accept_failed(gw_acceptor *acc, int error)
{
    uint64_t count = gw_lograte_event(&acc->failures, mr_mono_ms());

    if (count > 0) {
        MR_WARN("gw.accept.failed", NULL,
                "accepting a connection failed: %s (%llu failures since the "
                "last such line); new connections wait in the backlog",
                strerror(error), (unsigned long long)count);
    }
    pause_ms(RETRY_PAUSE_MS);
}

/* The thread: accepts until gw_acceptor_stop shuts the socket down. */
static void *
accept_main(void *arg)
{
    gw_acceptor *acc = arg;

    pthread_setname_np(pthread_self(), "gw:accept");
    while (!atomic_load(&acc->stopping)) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int fd;

        wait_for_slot(acc);
        fd = accept4(acc->fd, (struct sockaddr *)&addr, &len, SOCK_CLOEXEC);
        if (fd >= 0) {
            add_connection(acc, fd, &addr, len);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN ||
            atomic_load(&acc->stopping)) {
            continue;
        }
        accept_failed(acc, errno);
    }
    return NULL;
}

mr_err
gw_acceptor_start(gw_acceptor *acc, struct MHD_Daemon *daemon,
                  unsigned int limit)
{
    acc->daemon = daemon;
    acc->limit = limit;
    if (pthread_create(&acc->thread, NULL, accept_main, acc) != 0) {
        return MR_EINTERNAL;
    }
    acc->started = true;
    return MR_OK;
}

void
gw_acceptor_stop(gw_acceptor *acc)
{
    if (atomic_exchange(&acc->stopping, true)) {
        return;
    }

    /* The signal wakes a thread that waits for a slot. On Linux, shutting
     * a listening socket down wakes a blocked accept with EINVAL. */
    pthread_mutex_lock(&acc->lock);
    pthread_cond_signal(&acc->freed);
    pthread_mutex_unlock(&acc->lock);
    shutdown(acc->fd, SHUT_RDWR);
    if (acc->started) {
        pthread_join(acc->thread, NULL);
    }
}

void
gw_acceptor_close(gw_acceptor *acc)
{
    if (acc == NULL) {
        return;
    }
    gw_acceptor_stop(acc);
    close(acc->fd);
    pthread_cond_destroy(&acc->freed);
    pthread_mutex_destroy(&acc->lock);
    free(acc);
}
