/* disc_engine_events.c - how the engine thread waits: curl's event API
 * (CURLMOPT_SOCKETFUNCTION and CURLMOPT_TIMERFUNCTION) on an epoll
 * instance, plus an eventfd in the same set that wakes the thread for new
 * jobs and stop requests. A wait costs O(ready sockets), where poll(2)
 * over every transfer cost O(transfers). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "disc_engine_internal.h"
#include "mr_log.h"
#include "mr_util.h"

/* WAIT_MAX_MS bounds one wait. Deadlines, curl's timer and wake-ups all
 * end a wait on their own, so this only limits how long a lost wake-up
 * (a failed eventfd write) can delay a job. */
#define WAIT_MAX_MS 1000

/* EVENTS_MAX is the maximum number of ready descriptors that one
 * epoll_wait returns. The others stay ready for the next wait. */
#define EVENTS_MAX 64

/* watch_socket adds s to the epoll set or changes its events. socketp is
 * non-NULL once curl_multi_assign has marked s as added. */
static void
watch_socket(disc_engine *engine, curl_socket_t s, int what, void *socketp)
{
    struct epoll_event ev = {.data.fd = s};
    int op = socketp != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc;

    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
        ev.events |= EPOLLIN;
    }
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
        ev.events |= EPOLLOUT;
    }

    rc = epoll_ctl(engine->epoll_fd, op, s, &ev);
    if (rc != 0 && (errno == ENOENT || errno == EEXIST)) {
        /* The kernel drops a closed socket from the set by itself, and a
         * new socket may get the same number, so the other operation is
         * tried. */
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        rc = epoll_ctl(engine->epoll_fd, op, s, &ev);
    }
    if (rc != 0) {
        /* NOTE: the transfer then waits for its own timeout. */
        MR_WARN("disc.engine.epoll_ctl", NULL,
                "failed to watch socket %d with epoll: %s", (int)s,
                strerror(errno));
        return;
    }
    if (socketp == NULL) {
        curl_multi_assign(engine->multi, s, engine);
    }
}

/* on_socket is curl's CURLMOPT_SOCKETFUNCTION. It sets the events to wait
 * for on a socket, or removes a socket that curl no longer uses. */
static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    disc_engine *engine = userp;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        /* A socket that curl already closed has left the set by itself,
         * so an error here is expected. */
        epoll_ctl(engine->epoll_fd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    watch_socket(engine, s, what, socketp);
    return 0;
}

/* on_timer is curl's CURLMOPT_TIMERFUNCTION: curl wants
 * curl_multi_socket_action(CURL_SOCKET_TIMEOUT) in timeout_ms, or no
 * longer when timeout_ms is -1. curl must not be called from here. */
static int
on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    disc_engine *engine = userp;

    (void)multi;
    engine->curl_due_ms = timeout_ms < 0 ? -1 : mr_mono_ms() + timeout_ms;
    return 0;
}

mr_err
disc_engine__events_open(disc_engine *engine)
{
    struct epoll_event ev = {.events = EPOLLIN};
    CURLMcode rc = CURLM_OK;

    engine->curl_due_ms = -1;
    engine->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    engine->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (engine->epoll_fd < 0 || engine->wake_fd < 0) {
        return MR_EINTERNAL;
    }
    ev.data.fd = engine->wake_fd;
    if (epoll_ctl(engine->epoll_fd, EPOLL_CTL_ADD, engine->wake_fd, &ev) !=
        0) {
        return MR_EINTERNAL;
    }

    rc = curl_multi_setopt(engine->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    if (rc == CURLM_OK) {
        rc = curl_multi_setopt(engine->multi, CURLMOPT_SOCKETDATA, engine);
    }
    if (rc == CURLM_OK) {
        rc =
            curl_multi_setopt(engine->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    }
    if (rc == CURLM_OK) {
        rc = curl_multi_setopt(engine->multi, CURLMOPT_TIMERDATA, engine);
    }
    return rc == CURLM_OK ? MR_OK : MR_EINTERNAL;
}

void
disc_engine__events_close(disc_engine *engine)
{
    if (engine->epoll_fd >= 0) {
        close(engine->epoll_fd);
    }
    if (engine->wake_fd >= 0) {
        close(engine->wake_fd);
    }
    engine->epoll_fd = -1;
    engine->wake_fd = -1;
}

void
disc_engine__wake(disc_engine *engine)
{
    /* Only a counter at its maximum makes this fail, and the engine
     * thread resets the counter on every wake-up. */
    if (eventfd_write(engine->wake_fd, 1) != 0) {
        MR_WARN("disc.engine.wake", NULL,
                "failed to wake the discovery engine thread: %s",
                strerror(errno));
    }
}

void
disc_engine__run_curl_timer(disc_engine *engine)
{
    int still_running = 0;
    long timeout_ms = -1;

    if (engine->curl_due_ms < 0 || mr_mono_ms() < engine->curl_due_ms) {
        return;
    }
    curl_multi_socket_action(engine->multi, CURL_SOCKET_TIMEOUT, 0,
                             &still_running);

    /* curl calls on_timer only when its next timeout differs from the
     * one it last reported. A timer that ran early on this clock leaves
     * that timeout in place, so it is read back here. */
    curl_multi_timeout(engine->multi, &timeout_ms);
    engine->curl_due_ms = timeout_ms < 0 ? -1 : mr_mono_ms() + timeout_ms;
}

/* socket_events converts what epoll reported for a socket to curl's
 * CURL_CSELECT_ bits. An error or a hang-up counts as readable and
 * writable, so that curl's next read or write meets the error and
 * reports its cause. */
static int
socket_events(uint32_t events)
{
    int mask = 0;

    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        mask |= CURL_CSELECT_IN;
    }
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
        mask |= CURL_CSELECT_OUT;
    }
    return mask;
}

/* wait_ms returns how long to wait for until_ms, curl's timer and
 * WAIT_MAX_MS, whichever comes first. */
static int
wait_ms(const disc_engine *engine, int64_t until_ms)
{
    int64_t now = mr_mono_ms();
    int64_t due = now + WAIT_MAX_MS;

    if (engine->curl_due_ms >= 0 && engine->curl_due_ms < due) {
        due = engine->curl_due_ms;
    }
    if (until_ms < due) {
        due = until_ms;
    }
    return due > now ? (int)(due - now) : 0;
}

void
disc_engine__wait(disc_engine *engine, int64_t until_ms)
{
    struct epoll_event events[EVENTS_MAX];
    int still_running = 0;
    eventfd_t wakeups;
    int n = epoll_wait(engine->epoll_fd, events, EVENTS_MAX,
                       wait_ms(engine, until_ms));

    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;

        if (fd == engine->wake_fd) {
            eventfd_read(engine->wake_fd, &wakeups);
            continue;
        }
        curl_multi_socket_action(engine->multi, fd,
                                 socket_events(events[i].events),
                                 &still_running);
    }
}
