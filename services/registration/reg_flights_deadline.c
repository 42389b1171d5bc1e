/* reg_flights_deadline.c - the deadline thread of the single-flight table:
 * each waiting call fails at its own deadline while its job goes on. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "mr_log.h"
#include "mr_util.h"
#include "reg_flights_internal.h"

#define WAITER_TIMEOUT_DETAIL                                                 \
    "Retry later: the registration did not finish within the request's "      \
    "deadline; it goes on, and a later call returns its result"

void
reg_flights__wake_for(reg_providers *p, const waiter *w)
{
    if (w->deadline_ms < p->next_wake_ms) {
        pthread_cond_signal(&p->wake);
    }
}

/* Moves the waiters whose deadline is at or before now_ms from every
 * flight to *expired, and returns the earliest deadline left (INT64_MAX
 * when none). The caller holds p->lock. */
static int64_t
take_expired(reg_providers *p, int64_t now_ms, waiter **expired)
{
    int64_t next = INT64_MAX;

    for (flight *f = p->flights; f != NULL; f = f->next) {
        waiter **link = &f->waiters;

        while (*link != NULL) {
            waiter *w = *link;

            if (w->deadline_ms > now_ms) {
                next = w->deadline_ms < next ? w->deadline_ms : next;
                link = &w->next;
                continue;
            }
            *link = w->next;
            w->next = *expired;
            *expired = w;
        }
    }
    return next;
}

/* Waits on p->wake until deadline_ms, on mr_mono_ms's clock, or until a
 * signal. The caller holds p->lock. */
static void
sleep_until(reg_providers *p, int64_t deadline_ms)
{
    struct timespec until;

    if (deadline_ms == INT64_MAX) {
        pthread_cond_wait(&p->wake, &p->lock);
        return;
    }
    until = mr_mono_timespec(deadline_ms);
    pthread_cond_timedwait(&p->wake, &p->lock, &until);
}

/* Fails each waiting call at its own deadline with MR_ETIMEDOUT, while
 * its job goes on for the other waiters and for the store. Runs on its
 * own thread until reg_providers_close. */
void *
reg_flights__expire_waiters(void *arg)
{
    reg_providers *p = arg;

    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        waiter *expired = NULL;
        int64_t next = take_expired(p, mr_mono_ms(), &expired);

        if (expired == NULL) {
            p->next_wake_ms = next;
            sleep_until(p, next);
            p->next_wake_ms = INT64_MIN;
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        while (expired != NULL) {
            waiter *w = expired;

            expired = w->next;
            MR_INFO("reg.job.waiter_timeout", mr_rpc_request_id(w->call),
                    "the caller's deadline passed while its discovery job "
                    "runs; the job goes on");
            reg_rpc_fail(w->call, w->started_ms, MR_ETIMEDOUT,
                         WAITER_TIMEOUT_DETAIL, 1);
            free(w);
        }
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}
