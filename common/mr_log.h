/* mr_log.h - structured logging: one JSON object a line. */
#ifndef MR_LOG_H
#define MR_LOG_H

#include <stddef.h>

/* mr_log_level orders messages by severity; lower levels are dropped. */
typedef enum {
    MR_LOG_DEBUG,
    MR_LOG_INFO,
    MR_LOG_WARN,
    MR_LOG_ERROR,
    MR_LOG_NONE, /* as a minimum level: write nothing */
} mr_log_level;

/* mr_log_field is one extra member of a log line, a string or a number. */
typedef struct {
    const char *name;
    const char *str; /* NULL for a number */
    long long num;
} mr_log_field;

#define MR_FSTR(n, v) ((mr_log_field){(n), (v) ? (v) : "", 0})
#define MR_FINT(n, v) ((mr_log_field){(n), NULL, (long long)(v)})

/*
 * mr_log_init sets the service name written in every line, the minimum
 * level, and the file descriptor lines go to (1 for services, 2 for tools).
 * Call it once, before any thread logs.
 */
void mr_log_init(const char *service, mr_log_level min_level, int fd);

/*
 * mr_log_parse_level converts "debug", "info", "warn", "error" or "none" into
 * *level; it returns 0 on success and -1 for any other text.
 */
int mr_log_parse_level(const char *text, mr_log_level *level);

/*
 * mr_log_buffer makes debug and info lines wait in memory for a thread
 * that writes them out every flush_ms milliseconds, or sooner when they
 * pile up, before any warn or error line (which is written at once), and
 * at exit(3). Logging such a line then costs a copy, not a write(2), which
 * matters at one line per request. Lines still buffered when the process
 * is killed or crashes are lost. It returns 0, or -1 when the thread
 * cannot start (lines are then written at once). flush_ms <= 0 keeps one
 * write(2) a line.
 */
int mr_log_buffer(int flush_ms);

/* MR_LOG_FLUSH_MS is the flush interval the services use. */
#define MR_LOG_FLUSH_MS 100

/* mr_log_flush writes the buffered lines now. */
void mr_log_flush(void);

/*
 * mr_log writes one line with the level, a stable message id naming the call
 * site (such as "gw.request"), the request id (NULL when there is none), and
 * a printf-style message. Never pass a secret in any argument. A line is
 * written with one write(2), so lines of concurrent threads do not mix;
 * after mr_log_buffer, debug and info lines wait in the buffer.
 */
void mr_log(mr_log_level level, const char *msg_id, const char *request_id,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* mr_log_fields is mr_log with extra members appended to the line. */
void mr_log_fields(mr_log_level level, const char *msg_id,
                   const char *request_id, const mr_log_field *fields,
                   size_t nfields, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * mr_log_fields_deferred is mr_log_fields for lines whose number follows
 * the traffic, such as access lines. After mr_log_buffer they wait in the
 * buffer at every level, so that a burst of warn lines (a 503 for every
 * request while a peer is down) costs a copy each, not a write(2).
 * The buffer keeps their order among the other lines. A message without
 * conversions is not even formatted then: its inputs are copied, and the
 * flusher makes the line. So msg_id, the field names and fmt must outlive
 * the process, as string literals do.
 */
void mr_log_fields_deferred(mr_log_level level, const char *msg_id,
                            const char *request_id, const mr_log_field *fields,
                            size_t nfields, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#define MR_DEBUG(id, rid, ...) mr_log(MR_LOG_DEBUG, id, rid, __VA_ARGS__)
#define MR_INFO(id, rid, ...)  mr_log(MR_LOG_INFO, id, rid, __VA_ARGS__)
#define MR_WARN(id, rid, ...)  mr_log(MR_LOG_WARN, id, rid, __VA_ARGS__)
#define MR_ERROR(id, rid, ...) mr_log(MR_LOG_ERROR, id, rid, __VA_ARGS__)

#endif
