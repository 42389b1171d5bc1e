/* mr_log.c - JSON-lines logger: formats each line (mr_log_out.c writes
 * it). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mr_log.h"
#include "mr_log_internal.h"
#include "mr_util.h"

/* LINE_MAX_BYTES bounds one line; longer messages are cut. */
#define LINE_MAX_BYTES 2048

static const char *service_name = "mcpreg";
static mr_log_level min_level = MR_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "none"};

/*
 * line is a bounded output buffer. Text that does not fit is dropped whole
 * (an escape is never split), and TAIL_RESERVE bytes stay free so that an
 * open string and the object can always be closed: a cut line stays JSON.
 */
typedef struct {
    char buf[LINE_MAX_BYTES];
    size_t len;
    bool full;
} line;

/* TAIL_RESERVE is room for the closing quote, brace and newline. */
#define TAIL_RESERVE 3

void
mr_log_init(const char *service, mr_log_level level, int fd)
{
    service_name = service;
    min_level = level;
    mr_log__set_fd(fd);
}

int
mr_log_parse_level(const char *text, mr_log_level *level)
{
    for (int i = 0; i <= MR_LOG_NONE; i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *level = (mr_log_level)i;
            return 0;
        }
    }
    return -1;
}

/* PLAIN16 and CONTROL16 are 16 entries of escape_needed. */
#define PLAIN16   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define CONTROL16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1

/* escape_needed[c] is 1 for the bytes that cannot stand as themselves in a
 * JSON string: control bytes, quote, backslash and DEL. Bytes from 0x80 on
 * pass, so UTF-8 stays intact. */
/* clang-format off */
static const unsigned char escape_needed[256] = {
    CONTROL16, CONTROL16,                           /* 0x00-0x1f */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20-0x2f: " */
    PLAIN16, PLAIN16,                               /* 0x30-0x4f */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50-0x5f: \ */
    PLAIN16,                                        /* 0x60-0x6f */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* 0x70-0x7f: DEL */
    PLAIN16, PLAIN16, PLAIN16, PLAIN16,             /* 0x80-0xbf */
    PLAIN16, PLAIN16, PLAIN16, PLAIN16,             /* 0xc0-0xff */
};
/* clang-format on */

static void
put_raw(line *l, const char *s, size_t n)
{
    if (l->full || l->len + n + TAIL_RESERVE > sizeof(l->buf)) {
        l->full = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* put_cut writes what fits of the n bytes at s, like the bytes one by
 * one would. */
static void
put_cut(line *l, const char *s, size_t n)
{
    size_t room = sizeof(l->buf) - TAIL_RESERVE - l->len;

    if (l->full) {
        return;
    }
    if (n > room) {
        n = room;
        l->full = true;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void
put_str(line *l, const char *s)
{
    put_raw(l, s, strlen(s));
}

/* put_escaped writes s as the body of a JSON string. Control bytes become
 * \u escapes; other bytes pass through, so UTF-8 stays intact. Runs of
 * bytes that need no escape are copied at once. */
static void
put_escaped(line *l, const char *s)
{
    char esc[8];

    while (*s != '\0' && !l->full) {
        size_t run = 0;
        unsigned char c;

        /* The NUL that ends s needs an escape too, so it ends the run. */
        while (!escape_needed[(unsigned char)s[run]]) {
            run++;
        }
        put_cut(l, s, run);
        s += run;

        c = (unsigned char)*s;
        if (c == '\0') {
            break;
        }
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put_raw(l, esc, 2);
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put_raw(l, esc, 6);
        }
        s++;
    }
}

/* close_string ends a string value, also when its text was cut: it may
 * use the reserved tail, which put_raw never does. */
static void
close_string(line *l)
{
    l->buf[l->len++] = '"';
}

static void
put_member(line *l, const char *name, const char *value)
{
    size_t start = l->len;

    put_str(l, ",\"");
    put_escaped(l, name);
    put_str(l, "\":\"");
    if (l->full) {
        l->len = start; /* drop a member whose name did not fit */
        return;
    }
    put_escaped(l, value);
    close_string(l);
}

/* format_int writes value in decimal into out, which has room for 21
 * bytes or more, and returns its length. snprintf took a third of the
 * instructions of an access line, for its two numbers. */
static size_t
format_int(long long value, char *out)
{
    char digits[24];
    unsigned long long left = value < 0 ? 0ULL - (unsigned long long)value
                                        : (unsigned long long)value;
    size_t n = 0;
    size_t len = 0;

    do {
        digits[n++] = (char)('0' + left % 10);
        left /= 10;
    } while (left > 0);

    if (value < 0) {
        out[len++] = '-';
    }
    while (n > 0) {
        out[len++] = digits[--n];
    }
    return len;
}

static void
put_field(line *l, const mr_log_field *f)
{
    char num[32];
    size_t start;

    if (f->str != NULL) {
        put_member(l, f->name, f->str);
        return;
    }
    start = l->len;
    put_str(l, ",\"");
    put_escaped(l, f->name);
    put_str(l, "\":");
    put_raw(l, num, format_int(f->num, num));
    if (l->full) {
        l->len = start;
    }
}

static void
vlog(mr_log_level level, const char *msg_id, const char *request_id,
     const mr_log_field *fields, size_t nfields, const char *fmt, va_list ap)
{
    line l = {.len = 0, .full = false};
    char ts[32];
    char msg[1024];
    const char *text = fmt; /* a message without conversions is used as is */

    /* NOTE: the time is taken before the output lock, so lines of
     * different threads can reach the file a few ms out of time order. */
    mr_format_time(mr_now_ms(), ts);
    if (strchr(fmt, '%') != NULL) {
        vsnprintf(msg, sizeof(msg), fmt, ap);
        text = msg;
    }

    put_str(&l, "{\"ts\":\"");
    put_str(&l, ts);
    put_str(&l, "\"");
    put_member(&l, "level", level_names[level]);
    put_member(&l, "service", service_name);
    put_member(&l, "msg_id", msg_id);
    if (request_id != NULL && request_id[0] != '\0') {
        put_member(&l, "request_id", request_id);
    }
    for (size_t i = 0; i < nfields; i++) {
        put_field(&l, &fields[i]);
    }
    put_member(&l, "msg", text);

    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    mr_log__emit(level, l.buf, l.len);
}

void
mr_log(mr_log_level level, const char *msg_id, const char *request_id,
       const char *fmt, ...)
{
    va_list ap;

    if (level < min_level) {
        return;
    }
    va_start(ap, fmt);
    vlog(level, msg_id, request_id, NULL, 0, fmt, ap);
    va_end(ap);
}

void
mr_log_fields(mr_log_level level, const char *msg_id, const char *request_id,
              const mr_log_field *fields, size_t nfields, const char *fmt, ...)
{
    va_list ap;

    if (level < min_level) {
        return;
    }
    va_start(ap, fmt);
    vlog(level, msg_id, request_id, fields, nfields, fmt, ap);
    va_end(ap);
}
