/* mr_log.c - JSON-lines logger: formats each line (mr_log_out.c writes
 * it). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mr_log.h"
#include "mr_log_internal.h"
#include "mr_util.h"

/* LINE_MAX_BYTES bounds one line; longer messages are cut. */
#define LINE_MAX_BYTES MR_LOG__LINE_MAX

static const char *service_name = "mcpreg";
static mr_log_level min_level = MR_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "none"};

/* MSG_RESERVE_MAX bounds the room kept for "msg" while the members before
 * it are written. */
#define MSG_RESERVE_MAX 512

/*
 * line is a bounded output buffer. Text past limit is dropped whole (an
 * escape is never split), and TAIL_RESERVE bytes stay free so that an open
 * string and the object can always be closed: a cut line stays JSON.
 */
typedef struct {
    char *buf; /* LINE_MAX_BYTES */
    size_t len;
    size_t limit; /* at most sizeof(buf) */
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

/* PLAIN16, CONTROL16 and UTF8_16 are 16 entries of escape_needed. */
#define PLAIN16   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define CONTROL16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define UTF8_16   2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2

/* escape_needed[c] is 1 for the bytes that cannot stand as themselves in a
 * JSON string (control bytes, quote, backslash and DEL) and 2 for the
 * bytes from 0x80 on, which stand only inside a valid UTF-8 character. */
/* clang-format off */
static const unsigned char escape_needed[256] = {
    CONTROL16, CONTROL16,                           /* 0x00-0x1f */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20-0x2f: " */
    PLAIN16, PLAIN16,                               /* 0x30-0x4f */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50-0x5f: \ */
    PLAIN16,                                        /* 0x60-0x6f */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* 0x70-0x7f: DEL */
    UTF8_16, UTF8_16, UTF8_16, UTF8_16,             /* 0x80-0xbf */
    UTF8_16, UTF8_16, UTF8_16, UTF8_16,             /* 0xc0-0xff */
};
/* clang-format on */

static void
put_raw(line *l, const char *s, size_t n)
{
    if (l->full || l->len + n + TAIL_RESERVE > l->limit) {
        l->full = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* whole_utf8 returns n, or less when the first n bytes of s end inside a
 * UTF-8 character, so that a cut line keeps whole characters. */
static size_t
whole_utf8(const char *s, size_t n)
{
    size_t tail = 0; /* continuation bytes at the end */
    unsigned char lead;
    size_t need;

    while (tail < 3 && tail < n &&
           ((unsigned char)s[n - 1 - tail] & 0xc0) == 0x80) {
        tail++;
    }
    if (tail == n) {
        return n;
    }

    lead = (unsigned char)s[n - 1 - tail];
    if (lead < 0xc0) {
        return n; /* ASCII, or continuation bytes without a lead */
    }
    need = 2;
    if (lead >= 0xf0) {
        need = 4;
    } else if (lead >= 0xe0) {
        need = 3;
    }
    return tail + 1 < need ? n - 1 - tail : n;
}

/* put_cut writes what fits of the n bytes at s, like the bytes one by
 * one would. */
static void
put_cut(line *l, const char *s, size_t n)
{
    size_t room = l->limit - TAIL_RESERVE - l->len;

    if (l->full) {
        return;
    }
    if (n > room) {
        n = whole_utf8(s, room);
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

/* PUT_LIT writes a string literal, without its terminating NUL. */
#define PUT_LIT(l, lit) put_raw((l), (lit), sizeof(lit) - 1)

/* BYTES8(b) is the 64-bit word whose eight bytes are all b. */
#define BYTES8(b) (0x0101010101010101ULL * (uint64_t)(b))

/* has_zero returns nonzero when a byte of x is zero, and below(x, n) when
 * a byte is under n, for n up to 0x80. A nonzero result may also mark
 * bytes after the first match, which is enough to stop at the word. */
static inline uint64_t
has_zero(uint64_t x)
{
    return (x - BYTES8(0x01)) & ~x & BYTES8(0x80);
}

static inline uint64_t
below(uint64_t x, uint8_t n)
{
    return (x - BYTES8(n)) & ~x & BYTES8(0x80);
}

/* plain_run returns the number of ASCII bytes at the start of s, of len,
 * that need no escape. It checks eight bytes at a time while it can. */
static size_t
plain_run(const char *s, size_t len)
{
    size_t i = 0;

    while (i + 8 <= len) {
        uint64_t x;

        memcpy(&x, s + i, sizeof(x));
        if ((below(x, 0x20) | has_zero(x ^ BYTES8('"')) |
             has_zero(x ^ BYTES8('\\')) | has_zero(x ^ BYTES8(0x7f)) |
             (x & BYTES8(0x80))) != 0) {
            break;
        }
        i += 8;
    }
    while (i < len && !escape_needed[(unsigned char)s[i]]) {
        i++;
    }
    return i;
}

/* utf8_take returns how many bytes of s, of len (at least 1), make the
 * character that starts it, and whether they are a valid UTF-8 character
 * (RFC 3629). An invalid sequence takes its longest valid start, or else
 * its first byte. That is the "maximal subpart" that the Unicode Standard
 * (since 5.2) recommends replacing with one U+FFFD. */
static size_t
utf8_take(const unsigned char *s, size_t len, bool *valid)
{
    unsigned char lo = 0x80; /* the range of the second byte */
    unsigned char hi = 0xbf;
    size_t need;
    size_t n;

    *valid = false;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        lo = s[0] == 0xe0 ? 0xa0 : lo; /* no overlong form */
        hi = s[0] == 0xed ? 0x9f : hi; /* no surrogate */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        lo = s[0] == 0xf0 ? 0x90 : lo; /* no overlong form */
        hi = s[0] == 0xf4 ? 0x8f : hi; /* nothing past U+10FFFF */
    } else {
        return 1;
    }

    if (len < 2 || s[1] < lo || s[1] > hi) {
        return 1;
    }
    for (n = 2; n < need && n < len; n++) {
        if ((s[n] & 0xc0) != 0x80) {
            return n;
        }
    }
    *valid = n == need;
    return n;
}

/* put_escaped writes s as the body of a JSON string. Control bytes become
 * \u escapes, valid UTF-8 characters pass whole, and each invalid
 * sequence becomes U+FFFD, so the line stays valid UTF-8. Runs of ASCII
 * that need no escape are copied at once. */
static void
put_escaped(line *l, const char *s)
{
    size_t len = strlen(s);
    char esc[8];

    while (len > 0 && !l->full) {
        size_t run = plain_run(s, len);
        unsigned char c;
        bool valid;

        put_cut(l, s, run);
        s += run;
        len -= run;
        if (len == 0) {
            break;
        }

        c = (unsigned char)*s;
        run = 1;
        if (c >= 0x80) {
            run = utf8_take((const unsigned char *)s, len, &valid);
            if (valid) {
                put_cut(l, s, run);
            } else {
                PUT_LIT(l, "\\ufffd");
            }
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put_raw(l, esc, 2);
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put_raw(l, esc, 6);
        }
        s += run;
        len -= run;
    }
}

/* close_string ends a string value, also when its text was cut: it may
 * use the reserved tail, which put_raw never does. */
static void
close_string(line *l)
{
    l->buf[l->len++] = '"';
}

/* drop_member removes the member that starts at start, whose name did
 * not fit, and leaves the room to later members, such as "msg". */
static void
drop_member(line *l, size_t start)
{
    l->len = start;
    l->full = false;
}

/* finish_member writes the escaped value of the member that starts at
 * start, or drops the member when its name did not fit. */
static void
finish_member(line *l, size_t start, const char *value)
{
    if (l->full) {
        drop_member(l, start);
        return;
    }
    put_escaped(l, value);
    close_string(l);
}

/* put_value writes a member from head, a literal with its name, quotes
 * and colon such as ",\"level\":\"", and from value, escaped. A member
 * whose head does not fit is left out. */
static void
put_value(line *l, const char *head, size_t head_len, const char *value)
{
    size_t start = l->len;

    put_raw(l, head, head_len);
    finish_member(l, start, value);
}

/* PUT_MEMBER writes the member of a literal name, such as "level". */
#define PUT_MEMBER(l, name, value)                                            \
    put_value((l), ",\"" name "\":\"", sizeof(",\"" name "\":\"") - 1, (value))

static void
put_member(line *l, const char *name, const char *value)
{
    size_t start = l->len;

    PUT_LIT(l, ",\"");
    put_escaped(l, name);
    PUT_LIT(l, "\":\"");
    finish_member(l, start, value);
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
    PUT_LIT(l, ",\"");
    put_escaped(l, f->name);
    PUT_LIT(l, "\":");
    put_raw(l, num, format_int(f->num, num));
    if (l->full) {
        drop_member(l, start);
    }
}

size_t
mr_log__format(char *out, mr_log_level level, int64_t ms, const char *msg_id,
               const char *request_id, const mr_log_field *fields,
               size_t nfields, const char *text)
{
    line l = {.buf = out, .len = 0, .limit = LINE_MAX_BYTES, .full = false};
    size_t text_len = strlen(text);
    char ts[32];

    /* The members before "msg" leave room for it, up to MSG_RESERVE_MAX
     * bytes of its text, so that a long field is cut instead of the
     * message. Escapes can still make "msg" longer than its room. */
    l.limit -= sizeof(",\"msg\":\"\"") - 1 +
               (text_len < MSG_RESERVE_MAX ? text_len : MSG_RESERVE_MAX);

    mr_format_time(ms, ts);
    PUT_LIT(&l, "{\"ts\":\"");
    put_str(&l, ts);
    PUT_LIT(&l, "\"");
    PUT_MEMBER(&l, "level", level_names[level]);
    PUT_MEMBER(&l, "service", service_name);
    PUT_MEMBER(&l, "msg_id", msg_id);
    if (request_id != NULL && request_id[0] != '\0') {
        PUT_MEMBER(&l, "request_id", request_id);
    }
    for (size_t i = 0; i < nfields; i++) {
        put_field(&l, &fields[i]);
    }
    l.limit = LINE_MAX_BYTES;
    l.full = false;
    PUT_MEMBER(&l, "msg", text);

    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    return l.len;
}

static void
vlog(mr_log_level level, bool deferred, const char *msg_id,
     const char *request_id, const mr_log_field *fields, size_t nfields,
     const char *fmt, va_list ap)
{
    char msg[1024];
    char out[MR_LOG__LINE_MAX];
    const char *text = fmt; /* a message without conversions is used as is */
    size_t len;

    if (strchr(fmt, '%') != NULL) {
        int n = vsnprintf(msg, sizeof(msg), fmt, ap);

        if (n >= (int)sizeof(msg)) {
            /* The cut message keeps whole UTF-8 characters. */
            msg[whole_utf8(msg, sizeof(msg) - 1)] = '\0';
        }
        text = msg;
    } else if (deferred && mr_log__defer(level, msg_id, request_id, fields,
                                         nfields, fmt)) {
        return;
    }

    /* NOTE: the time is taken before the output lock, so lines of
     * different threads can reach the file a few ms out of time order. */
    len = mr_log__format(out, level, mr_now_ms(), msg_id, request_id, fields,
                         nfields, text);
    mr_log__emit(level, deferred, out, len);
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
    vlog(level, false, msg_id, request_id, NULL, 0, fmt, ap);
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
    vlog(level, false, msg_id, request_id, fields, nfields, fmt, ap);
    va_end(ap);
}

void
mr_log_fields_deferred(mr_log_level level, const char *msg_id,
                       const char *request_id, const mr_log_field *fields,
                       size_t nfields, const char *fmt, ...)
{
    va_list ap;

    if (level < min_level) {
        return;
    }
    va_start(ap, fmt);
    vlog(level, true, msg_id, request_id, fields, nfields, fmt, ap);
    va_end(ap);
}
