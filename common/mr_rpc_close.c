/* mr_rpc_close.c - closing an nng socket within a deadline. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "mr_rpc_internal.h"
#include "mr_util.h"

/* closer is the rendezvous of mr_rpc__close with its thread. Whichever of
 * the two finishes with it last frees it. */
typedef struct {
    nng_socket sock;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;      /* nng_close returned */
    bool abandoned; /* the caller stopped waiting */
} closer;

static void
closer_free(closer *c)
{
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void *
close_thread(void *arg)
{
    closer *c = arg;
    bool abandoned;

    nng_close(c->sock);

    pthread_mutex_lock(&c->lock);
    c->done = true;
    abandoned = c->abandoned;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);

    if (abandoned) {
        closer_free(c);
    }
    return NULL;
}

/* closer_new returns a closer for sock with a monotonic condition, or
 * NULL without memory. */
static closer *
closer_new(nng_socket sock)
{
    closer *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->sock = sock;
    pthread_mutex_init(&c->lock, NULL);
    mr_cond_init_mono(&c->cond);
    return c;
}

/* AFTER_STALL_MS bounds every close after one has stalled. A stalled
 * close was seen waiting for nng's reaper thread, which stays blocked
 * in stopping a connection, so later closes that need it stall too. */
#define AFTER_STALL_MS 100

static atomic_bool stalled;

/* NOTE: why nng 1.5.2's reaper blocks is not known; it was seen after a
 * caller left while the service was frozen. The bound only guards the
 * exit, and the stuck thread and socket are left to it. */
bool
mr_rpc__close(nng_socket sock, int timeout_ms)
{
    closer *c = closer_new(sock);
    struct timespec until;
    pthread_t thread;
    int rc = 0;
    bool done;

    if (atomic_load(&stalled) && timeout_ms > AFTER_STALL_MS) {
        timeout_ms = AFTER_STALL_MS;
    }
    until = mr_mono_timespec(mr_mono_ms() + timeout_ms);

    /* Without memory or a thread, the close can only be waited for. */
    if (c == NULL || pthread_create(&thread, NULL, close_thread, c) != 0) {
        if (c != NULL) {
            closer_free(c);
        }
        nng_close(sock);
        return true;
    }
    pthread_detach(thread);

    pthread_mutex_lock(&c->lock);
    while (!c->done && rc == 0) {
        rc = pthread_cond_timedwait(&c->cond, &c->lock, &until);
    }
    done = c->done;
    c->abandoned = !done;
    pthread_mutex_unlock(&c->lock);

    if (done) {
        closer_free(c);
    } else {
        atomic_store(&stalled, true);
    }
    return done;
}
