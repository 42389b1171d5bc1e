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
 * mr_log writes one line with the level, a stable message id naming the call
 * site (such as "gw.request"), the request id (NULL when there is none), and
 * a printf-style message. Never pass a secret in any argument. A line is
 * written with one write(2), so lines of concurrent threads do not mix.
 */
void mr_log(mr_log_level level, const char *msg_id, const char *request_id,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* mr_log_fields is mr_log with extra members appended to the line. */
void mr_log_fields(mr_log_level level, const char *msg_id,
                   const char *request_id, const mr_log_field *fields,
                   size_t nfields, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#define MR_DEBUG(id, rid, ...) mr_log(MR_LOG_DEBUG, id, rid, __VA_ARGS__)
#define MR_INFO(id, rid, ...)  mr_log(MR_LOG_INFO, id, rid, __VA_ARGS__)
#define MR_WARN(id, rid, ...)  mr_log(MR_LOG_WARN, id, rid, __VA_ARGS__)
#define MR_ERROR(id, rid, ...) mr_log(MR_LOG_ERROR, id, rid, __VA_ARGS__)

#endif
