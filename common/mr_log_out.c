/* mr_log_out.c - where log lines go: straight to the fd, or through a
 * buffer that a thread flushes. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mr_log.h"
#include "mr_log_internal.h"

/* BUFFER_BYTES bounds the lines held between flushes; a line that does not
 * fit flushes the buffer first. */
#define BUFFER_BYTES (64 * 1024)

static int out_fd = 1;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static bool buffering;
static int flush_interval_ms;
static char pending[BUFFER_BYTES];
static size_t pending_len;

/* write_all writes len bytes of buf to out_fd, going on after a short
 * write. A failed log write has nowhere to be reported, so it is dropped. */
static void
write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(out_fd, buf, len);

        if (n <= 0) {
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* flush_locked writes the pending lines; the caller holds out_lock. */
static void
flush_locked(void)
{
    write_all(pending, pending_len);
    pending_len = 0;
}

void
mr_log__set_fd(int fd)
{
    out_fd = fd;
}

void
mr_log__emit(mr_log_level level, const char *buf, size_t len)
{
    if (!buffering) {
        /* One write(2) a line, so lines of concurrent threads do not mix. */
        write_all(buf, len);
        return;
    }

    pthread_mutex_lock(&out_lock);
    if (level >= MR_LOG_WARN || pending_len + len > sizeof(pending)) {
        flush_locked();
    }
    if (level >= MR_LOG_WARN || len > sizeof(pending)) {
        write_all(buf, len);
    } else {
        memcpy(pending + pending_len, buf, len);
        pending_len += len;
    }
    pthread_mutex_unlock(&out_lock);
}

void
mr_log_flush(void)
{
    pthread_mutex_lock(&out_lock);
    flush_locked();
    pthread_mutex_unlock(&out_lock);
}

/* flusher writes the pending lines every flush_interval_ms, for as long as
 * the process lives. */
static void *
flusher(void *arg)
{
    struct timespec pause = {
        .tv_sec = flush_interval_ms / 1000,
        .tv_nsec = (long)(flush_interval_ms % 1000) * 1000000L,
    };

    (void)arg;
    for (;;) {
        nanosleep(&pause, NULL);
        mr_log_flush();
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
    if (pthread_create(&thread, NULL, flusher, NULL) != 0) {
        return -1;
    }
    pthread_detach(thread);
    atexit(mr_log_flush);
    buffering = true;
    return 0;
}
