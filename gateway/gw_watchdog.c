/* gw_watchdog.c - a deadline for receiving each HTTP request. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gw_lograte.h"
#include "gw_watchdog.h"
#include "mr_log.h"
#include "mr_util.h"

/* gw_watch is one connection. The MHD threads set its deadline and
 * request count, atomics, without the lock once or twice per request. The
 * lock guards the list links. */
struct gw_watch {
    gw_watchdog *watchdog;
    gw_watch *prev;
    gw_watch *next;
    int fd;
    _Atomic int64_t deadline_ms; /* mr_mono_ms time; 0 when disarmed */
    atomic_ulong requests;       /* completed on the connection */
    char client[GW_CLIENT_MAX];
};

struct gw_watchdog {
    pthread_mutex_t lock; /* guards the list links and stopping */
    pthread_cond_t wake;  /* signalled by gw_watchdog_stop */
    gw_watch *head;
    uint32_t timeout_ms;
    uint32_t period_ms;
    bool stopping;
    bool has_thread;
    pthread_t thread;

    /* The "gw.conn.read_timeout" line, at most one per
     * GW_LOGRATE_INTERVAL_MS, and the latest cut that it names. */
    gw_lograte cut_lines;
    char last_client[GW_CLIENT_MAX];
    unsigned long last_requests;
    int64_t last_late_ms;
};

/* Logs the cuts since the last line, naming the latest. The caller holds
 * the lock, which the MHD threads take only to add or remove a connection. */
static void
log_cuts(const gw_watchdog *watchdog, uint64_t cuts)
{
    mr_log_field fields[] = {
        MR_FINT("cuts", cuts),
        MR_FSTR("client", watchdog->last_client),
        MR_FINT("requests", watchdog->last_requests),
        MR_FINT("timeout_ms", watchdog->timeout_ms),
        MR_FINT("late_ms", watchdog->last_late_ms),
    };

    mr_log_fields(MR_LOG_INFO, "gw.conn.read_timeout", NULL, fields,
                  sizeof(fields) / sizeof(fields[0]),
                  "closed connections that sent no whole request within "
                  "%u ms: %llu since the previous line, the latest of %s",
                  watchdog->timeout_ms, (unsigned long long)cuts,
                  watchdog->last_client);
}

/* Shuts down the socket of watch and logs it, unless a line went out less
 * than GW_LOGRATE_INTERVAL_MS ago; the lock is held. */
static void
cut(gw_watchdog *watchdog, gw_watch *watch, int64_t deadline_ms,
    int64_t now_ms)
{
    uint64_t cuts;

    /* ENOTCONN means the peer is gone already, so MHD closes it anyway. */
    (void)shutdown(watch->fd, SHUT_RDWR);

    snprintf(watchdog->last_client, sizeof(watchdog->last_client), "%s",
             watch->client);
    watchdog->last_requests = atomic_load(&watch->requests);
    watchdog->last_late_ms = now_ms - deadline_ms;
    cuts = gw_lograte_event(&watchdog->cut_lines, now_ms);
    if (cuts > 0) {
        log_cuts(watchdog, cuts);
    }
}

/* Cuts every armed entry past its deadline, then logs the cuts held back
 * once the interval allows; the lock is held. */
static int
sweep_locked(gw_watchdog *watchdog, int64_t now_ms)
{
    int count = 0;
    uint64_t held;

    for (gw_watch *watch = watchdog->head; watch != NULL;
         watch = watch->next) {
        int64_t deadline = atomic_load(&watch->deadline_ms);

        /* Disarming it first (the request arrived whole) wins the
         * exchange, and the connection stays. */
        if (deadline != 0 && now_ms >= deadline &&
            atomic_compare_exchange_strong(&watch->deadline_ms, &deadline,
                                           0)) {
            cut(watchdog, watch, deadline, now_ms);
            count++;
        }
    }

    held = gw_lograte_flush(&watchdog->cut_lines, now_ms);
    if (held > 0) {
        log_cuts(watchdog, held);
    }
    return count;
}

int
gw_watchdog_sweep(gw_watchdog *watchdog, int64_t now_ms)
{
    int count;

    pthread_mutex_lock(&watchdog->lock);
    count = sweep_locked(watchdog, now_ms);
    pthread_mutex_unlock(&watchdog->lock);
    return count;
}

/* The thread: sweeps every period_ms until gw_watchdog_stop. A spurious
 * wake-up only delays the next sweep by up to one period. */
static void *
run(void *arg)
{
    gw_watchdog *watchdog = arg;

    pthread_mutex_lock(&watchdog->lock);
    while (!watchdog->stopping) {
        struct timespec at =
            mr_mono_timespec(mr_mono_ms() + watchdog->period_ms);
        int rc = pthread_cond_timedwait(&watchdog->wake, &watchdog->lock, &at);

        if (rc == ETIMEDOUT && !watchdog->stopping) {
            sweep_locked(watchdog, mr_mono_ms());
        }
    }
    pthread_mutex_unlock(&watchdog->lock);
    return NULL;
}

static void
watchdog_free(gw_watchdog *watchdog)
{
    gw_watch *next;

    for (gw_watch *watch = watchdog->head; watch != NULL; watch = next) {
        next = watch->next;
        free(watch);
    }
    pthread_cond_destroy(&watchdog->wake);
    pthread_mutex_destroy(&watchdog->lock);
    free(watchdog);
}

mr_err
gw_watchdog_start(uint32_t timeout_ms, uint32_t period_ms, gw_watchdog **out)
{
    gw_watchdog *watchdog = calloc(1, sizeof(*watchdog));
    int rc;

    if (watchdog == NULL) {
        return MR_ENOMEM;
    }
    watchdog->timeout_ms = timeout_ms;
    watchdog->period_ms = period_ms;
    gw_lograte_init(&watchdog->cut_lines, GW_LOGRATE_INTERVAL_MS);
    pthread_mutex_init(&watchdog->lock, NULL);

    /* The monotonic clock, like the deadlines, so that wall-clock steps do
     * not stretch or cut the period. */
    mr_cond_init_mono(&watchdog->wake);

    if (period_ms > 0) {
        rc = pthread_create(&watchdog->thread, NULL, run, watchdog);
        if (rc != 0) {
            MR_ERROR("gw.watchdog.thread_failed", NULL,
                     "starting the request deadline thread failed: %s",
                     strerror(rc));
            watchdog_free(watchdog);
            return MR_EINTERNAL;
        }
        watchdog->has_thread = true;
    }
    *out = watchdog;
    return MR_OK;
}

void
gw_watchdog_stop(gw_watchdog *watchdog)
{
    if (watchdog->has_thread) {
        pthread_mutex_lock(&watchdog->lock);
        watchdog->stopping = true;
        pthread_cond_signal(&watchdog->wake);
        pthread_mutex_unlock(&watchdog->lock);
        pthread_join(watchdog->thread, NULL);
    }
    watchdog_free(watchdog);
}

gw_watch *
gw_watchdog_add(gw_watchdog *watchdog, int fd, const char *client)
{
    gw_watch *watch = calloc(1, sizeof(*watch));

    if (watch == NULL) {
        return NULL;
    }
    watch->watchdog = watchdog;
    watch->fd = fd;
    snprintf(watch->client, sizeof(watch->client), "%s", client);

    atomic_init(&watch->requests, 0);
    atomic_init(&watch->deadline_ms, mr_mono_ms() + watchdog->timeout_ms);

    pthread_mutex_lock(&watchdog->lock);
    watch->next = watchdog->head;
    if (watchdog->head != NULL) {
        watchdog->head->prev = watch;
    }
    watchdog->head = watch;
    pthread_mutex_unlock(&watchdog->lock);
    return watch;
}

void
gw_watchdog_disarm(gw_watch *watch)
{
    atomic_store(&watch->deadline_ms, 0);
}

void
gw_watchdog_rearm(gw_watch *watch)
{
    atomic_fetch_add(&watch->requests, 1);
    atomic_store(&watch->deadline_ms,
                 mr_mono_ms() + watch->watchdog->timeout_ms);
}

void
gw_watchdog_remove(gw_watch *watch)
{
    gw_watchdog *watchdog = watch->watchdog;

    pthread_mutex_lock(&watchdog->lock);
    if (watch->prev != NULL) {
        watch->prev->next = watch->next;
    } else {
        watchdog->head = watch->next;
    }
    if (watch->next != NULL) {
        watch->next->prev = watch->prev;
    }
    pthread_mutex_unlock(&watchdog->lock);
    free(watch);
}
