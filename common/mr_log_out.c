/* mr_log_out.c - where log lines go: straight to the fd, or through two
 * buffers that a thread writes out. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mr_log.h"
#include "mr_log_internal.h"
#include "mr_util.h"

/* BUFFER_BYTES is the size of each of the two buffers. Lines go into one
 * while the flusher writes the other, and the flusher is woken once the
 * filling one is half full, which at 10 MB of lines a second is every
 * 25 ms. */
#define BUFFER_BYTES (512 * 1024)

/*
 * Locks: out_lock guards the buffer being filled and is held only to copy
 * a line into it. write_lock is held by the thread that writes to the fd,
 * and is taken before out_lock, so that lines reach the fd in the order
 * they were logged.
 */
static int out_fd = 1;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t half_full; /* on the monotonic clock */
static bool buffering;
static int flush_interval_ms;

static char buffers[2][BUFFER_BYTES];
static char *filling = buffers[0];
static size_t filling_len;
static char *spare = buffers[1];

/* write_all writes len bytes of buf to out_fd, going on after a short
 * write. An fd that its opener made non-blocking is waited for, as a
 * blocking one would be, because giving up there would cut a line and
 * run the next one into it. A failed log write has nowhere to be
 * reported, so the rest of buf is dropped. */
static void
write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(out_fd, buf, len);

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd ready = {.fd = out_fd, .events = POLLOUT};

            poll(&ready, 1, -1);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* STAGE_BYTES is the room where the lines of records gather between two
 * writes. The stage is used under write_lock. */
#define STAGE_BYTES (64 * 1024)

static char stage[STAGE_BYTES];
static size_t staged;

static void
stage_flush(void)
{
    write_all(stage, staged);
    staged = 0;
}

/* stage_put adds n bytes to the stage, or writes them at once when they
 * would fill it. */
static void
stage_put(const char *s, size_t n)
{
    if (staged + n > STAGE_BYTES) {
        stage_flush();
    }
    if (n > STAGE_BYTES) {
        write_all(s, n);
        return;
    }
    memcpy(stage + staged, s, n);
    staged += n;
}

/* write_out writes len bytes of buffered lines and records, each record
 * as its line. The caller holds write_lock. */
static void
write_out(const char *buf, size_t len)
{
    char line[MR_LOG__LINE_MAX];

    while (len > 0) {
        const char *rec = memchr(buf, MR_LOG__RECORD, len);
        size_t plain = rec != NULL ? (size_t)(rec - buf) : len;
        size_t rec_len;

        stage_put(buf, plain);
        if (rec == NULL) {
            break;
        }

        rec_len = mr_log__record_len(rec);
        stage_put(line, mr_log__expand(rec, line));
        buf = rec + rec_len;
        len -= plain + rec_len;
    }
    stage_flush();
}

/* write_filling_locked writes the filling buffer, and line unless NULL,
 * at once. The caller holds write_lock and out_lock. */
static void
write_filling_locked(const char *line, size_t len)
{
    write_out(filling, filling_len);
    filling_len = 0;
    if (line != NULL) {
        write_out(line, len);
    }
}

/* append_locked copies a line that fits into the filling buffer, waking
 * the flusher when that buffer passes half full. The caller holds
 * out_lock. */
static void
append_locked(const char *buf, size_t len)
{
    bool was_below = filling_len < BUFFER_BYTES / 2;

    memcpy(filling + filling_len, buf, len);
    filling_len += len;
    if (was_below && filling_len >= BUFFER_BYTES / 2) {
        pthread_cond_signal(&half_full);
    }
}

bool
mr_log__buffering(void)
{
    return buffering;
}

void
mr_log__set_fd(int fd)
{
    out_fd = fd;
}

/*
 * A debug or info line, or a deferred one or its record, costs a copy
 * under out_lock. A
 * warn or error line, a line that does not fit, or a full buffer (the fd
 * takes lines slower than they come) takes write_lock and writes on the
 * caller's thread, so that no line is lost or overtaken.
 */
void
mr_log__emit(mr_log_level level, bool deferred, const char *buf, size_t len)
{
    bool buffered = level < MR_LOG_WARN || deferred;

    if (!buffering) {
        /* One write(2) a line, so lines of concurrent threads do not mix. */
        write_all(buf, len);
        return;
    }

    if (buffered) {
        pthread_mutex_lock(&out_lock);
        if (filling_len + len <= BUFFER_BYTES) {
            append_locked(buf, len);
            pthread_mutex_unlock(&out_lock);
            return;
        }
        pthread_mutex_unlock(&out_lock);
    }

    pthread_mutex_lock(&write_lock);
    pthread_mutex_lock(&out_lock);
    if (buffered && filling_len + len <= BUFFER_BYTES) {
        append_locked(buf, len); /* the flusher made room meanwhile */
    } else {
        write_filling_locked(buf, len);
    }
    pthread_mutex_unlock(&out_lock);
    pthread_mutex_unlock(&write_lock);
}

void
mr_log_flush(void)
{
    pthread_mutex_lock(&write_lock);
    pthread_mutex_lock(&out_lock);
    write_filling_locked(NULL, 0);
    pthread_mutex_unlock(&out_lock);
    pthread_mutex_unlock(&write_lock);
}

/* wait_for_lines returns once the filling buffer is half full or
 * flush_interval_ms have passed. The caller holds out_lock. */
static void
wait_for_lines(void)
{
    struct timespec at = mr_mono_timespec(mr_mono_ms() + flush_interval_ms);

    while (filling_len < BUFFER_BYTES / 2) {
        if (pthread_cond_timedwait(&half_full, &out_lock, &at) != 0) {
            return;
        }
    }
}

/* flusher swaps the buffers and writes the full one outside out_lock, so
 * that logging threads go on copying lines meanwhile, for as long as the
 * process lives. */
static void *
flusher(void *arg)
{
    (void)arg;
    for (;;) {
        char *full;
        size_t len;

        pthread_mutex_lock(&out_lock);
        wait_for_lines();
        pthread_mutex_unlock(&out_lock);

        pthread_mutex_lock(&write_lock);
        pthread_mutex_lock(&out_lock);
        full = filling;
        len = filling_len;
        filling = spare;
        filling_len = 0;
        spare = full;
        pthread_mutex_unlock(&out_lock);

        write_out(full, len);
        pthread_mutex_unlock(&write_lock);
    }
    return NULL;
}

int
mr_log_buffer(int flush_ms)
{
    pthread_t thread;

    if (flush_ms <= 0 || buffering) {
        return 0;
    }
    flush_interval_ms = flush_ms;
    mr_cond_init_mono(&half_full);
    if (pthread_create(&thread, NULL, flusher, NULL) != 0) {
        return -1;
    }
    pthread_detach(thread);
    atexit(mr_log_flush);
    buffering = true;
    return 0;
}
