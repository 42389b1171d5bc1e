/* mr_log_test.c - log lines are one JSON object each, even when cut, and
 * buffered lines keep their order. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "mr_log.h"
#include "mr_test.h"

/* capture runs one log call with output sent to a pipe and returns the
 * line read back; the caller frees it. */
static char *
capture(const char *msg_id, const char *text, const char *field_value)
{
    int fds[2];
    char *buf = calloc(1, 8192);
    mr_log_field fields[] = {MR_FSTR("detail", field_value),
                             MR_FINT("status", 503)};
    ssize_t n;

    if (buf == NULL || pipe(fds) != 0) {
        free(buf);
        return NULL;
    }
    mr_log_init("test", MR_LOG_DEBUG, fds[1]);
    mr_log_fields(MR_LOG_WARN, msg_id, "rid-1", fields, 2, "%s", text);
    close(fds[1]);
    n = read(fds[0], buf, 8191);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static json_t *
parse_line(const char *text)
{
    json_error_t error;

    return json_loads(text, 0, &error);
}

/* read_json_line closes the write end of fds, reads the one line that
 * the pipe contains and returns it parsed, or NULL. */
static json_t *
read_json_line(int fds[2])
{
    char buf[1024] = "";
    ssize_t n;

    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    return parse_line(buf);
}

static void
test_line_is_json(void)
{
    char *text = capture("t.ok", "quote \" and \\ and \n", "a\tb");
    json_t *line = parse_line(text);

    MR_CHECK(line != NULL);
    MR_CHECK_STR(json_string_value(json_object_get(line, "msg_id")), "t.ok");
    MR_CHECK_STR(json_string_value(json_object_get(line, "request_id")),
                 "rid-1");
    MR_CHECK_STR(json_string_value(json_object_get(line, "detail")), "a\tb");
    MR_CHECK_INT(json_integer_value(json_object_get(line, "status")), ==, 503);
    MR_CHECK_STR(json_string_value(json_object_get(line, "msg")),
                 "quote \" and \\ and \n");
    MR_CHECK_INT(text[strlen(text) - 1], ==, '\n');
    json_decref(line);
    free(text);
}

/* Every ASCII byte comes back from the line as it went in, escaped where
 * JSON needs it. */
static void
test_ascii_bytes_round_trip(void)
{
    char value[128];
    char *text;
    json_t *line;

    for (int c = 1; c < 128; c++) {
        value[c - 1] = (char)c;
    }
    value[127] = '\0';
    text = capture("t.ascii", value, value);
    line = parse_line(text);

    MR_CHECK(line != NULL);
    MR_CHECK_STR(json_string_value(json_object_get(line, "detail")), value);
    MR_CHECK_STR(json_string_value(json_object_get(line, "msg")), value);
    json_decref(line);
    free(text);
}

/* fill_utf8 writes len bytes of letters and two-byte UTF-8 characters
 * (0xc3 0xa9 is "\u00e9") into value, with special at position at. When
 * special replaces one byte of a character, the other becomes 'x', so the
 * value stays valid UTF-8. */
static void
fill_utf8(char *value, size_t len, size_t at, char special)
{
    for (size_t i = 0; i < len; i++) {
        if (i % 4 == 2 && i + 1 < len) {
            value[i] = (char)0xc3;
        } else if (i % 4 == 3) {
            value[i] = (char)0xa9;
        } else {
            value[i] = (char)('a' + i % 26);
        }
    }
    value[at] = special;
    if (at % 4 == 2 && at + 1 < len) {
        value[at + 1] = 'x';
    } else if (at % 4 == 3) {
        value[at - 1] = 'x';
    }
    value[len] = '\0';
}

/* The escaping reads eight bytes at a time: each byte that needs an
 * escape, at every position of runs up to 40 bytes long among plain ASCII
 * and UTF-8, comes back from the line as it went in. */
static void
test_escape_at_every_position(void)
{
    static const char specials[] = {'"', '\\', '\n', 0x01, 0x1f, 0x7f};
    char value[41];
    char *text;
    json_t *line;

    for (size_t len = 1; len < sizeof(value); len++) {
        for (size_t at = 0; at < len; at++) {
            for (size_t k = 0; k < sizeof(specials); k++) {
                fill_utf8(value, len, at, specials[k]);
                text = capture("t.pos", "m", value);
                line = parse_line(text);
                MR_CHECK(line != NULL);
                if (line != NULL) {
                    MR_CHECK_STR(
                        json_string_value(json_object_get(line, "detail")),
                        value);
                }
                json_decref(line);
                free(text);
            }
        }
    }
}

/* A line or a message cut inside a four-byte UTF-8 character ends before
 * it, so the line stays valid UTF-8 and valid JSON. */
static void
test_cut_keeps_whole_characters(void)
{
    static const char smile[] = "\xf0\x9f\x98\x80";
    char value[3001];
    char *text;
    json_t *line;

    for (size_t lead = 0; lead < 8; lead++) {
        size_t len = lead;

        memset(value, 'a', lead);
        while (len + 4 < sizeof(value)) {
            memcpy(value + len, smile, 4);
            len += 4;
        }
        value[len] = '\0';

        text = capture("t.cut", value, value);
        line = parse_line(text);
        MR_CHECK(line != NULL);
        json_decref(line);
        free(text);
    }
}

/* Valid UTF-8 passes whole, the first and last characters of each length
 * included. Each invalid sequence becomes one U+FFFD ("\xef\xbf\xbd"):
 * a stray or impossible byte, an overlong form, a surrogate, a character
 * past U+10FFFF, and a character that breaks off or ends the value. */
static void
test_utf8_checked(void)
{
    static const char fffd[] = "\xef\xbf\xbd";
    static const char *const valid[] = {
        "\xc2\x80",     "\xdf\xbf",     "\xe0\xa0\x80",     "\xed\x9f\xbf",
        "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
    };
    static const struct {
        const char *in;
        int replaced; /* U+FFFD in the output, between "<" and ">" */
    } invalid[] = {
        {"<\x80>", 1},         {"<\xff>", 1},
        {"<\xc3>", 1},         {"<\xc0\xaf>", 2},
        {"<\xed\xa0\x80>", 3}, {"<\xf4\x90\x80\x80>", 4},
        {"<\xe2\x82>", 1},     {"<\xf0\x9f\x98>", 1},
        {"<\xc3", 1},          {"<\xf1\x80\x80\xe1\x80\xc2>", 3},
    };
    char want[64];
    char *text;
    json_t *line;

    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        text = capture("t.utf8", "m", valid[i]);
        line = parse_line(text);
        MR_CHECK(line != NULL);
        MR_CHECK_STR(json_string_value(json_object_get(line, "detail")),
                     valid[i]);
        json_decref(line);
        free(text);
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        size_t len = 0;

        want[len++] = '<';
        for (int k = 0; k < invalid[i].replaced; k++) {
            memcpy(want + len, fffd, 3);
            len += 3;
        }
        if (strchr(invalid[i].in, '>') != NULL) {
            want[len++] = '>';
        }
        want[len] = '\0';

        text = capture("t.utf8", invalid[i].in, invalid[i].in);
        line = parse_line(text);
        MR_CHECK(line != NULL);
        MR_CHECK_STR(json_string_value(json_object_get(line, "detail")), want);
        MR_CHECK_STR(json_string_value(json_object_get(line, "msg")), want);
        json_decref(line);
        free(text);
    }
}

/* A field value too long for the line is cut, and "msg" is still written
 * after it: whole when it is short, cut when it is long too. */
static void
test_long_value_keeps_msg(void)
{
    static char value[3000];
    static char long_msg[1000];
    char *text;
    json_t *line;
    const char *msg;

    memset(value, 'v', sizeof(value) - 1);
    memset(long_msg, 'm', sizeof(long_msg) - 1);

    text = capture("t.value", "the end", value);
    line = parse_line(text);
    MR_CHECK(line != NULL);
    MR_CHECK_INT(strlen(text), <=, 2048);
    MR_CHECK_STR(json_string_value(json_object_get(line, "msg")), "the end");
    MR_CHECK(json_object_get(line, "detail") != NULL);
    json_decref(line);
    free(text);

    text = capture("t.value", long_msg, value);
    line = parse_line(text);
    msg = json_string_value(json_object_get(line, "msg"));
    MR_CHECK(line != NULL);
    MR_CHECK_INT(strlen(text), <=, 2048);
    MR_CHECK(msg != NULL && strlen(msg) >= 500);
    json_decref(line);
    free(text);
}

/* A field whose name does not fit the line is left out, and the members
 * after it, "msg" last, are still written. */
static void
test_long_name_dropped_alone(void)
{
    static char name[3000];
    mr_log_field fields[] = {MR_FSTR(name, "v"), MR_FINT(name, 1),
                             MR_FINT("status", 7)};
    int fds[2];
    json_t *line;

    memset(name, 'n', sizeof(name) - 1);

    MR_CHECK_INT(pipe(fds), ==, 0);
    mr_log_init("test", MR_LOG_DEBUG, fds[1]);
    mr_log_fields(MR_LOG_WARN, "t.name", NULL, fields, 3, "the end");

    line = read_json_line(fds);
    MR_CHECK(line != NULL);
    MR_CHECK(json_object_get(line, name) == NULL);
    MR_CHECK_INT(json_integer_value(json_object_get(line, "status")), ==, 7);
    MR_CHECK_STR(json_string_value(json_object_get(line, "msg")), "the end");
    json_decref(line);
}

/* Numbers come back from the line as they went in, at both ends of their
 * range too. */
static void
test_numbers_round_trip(void)
{
    static const long long values[] = {0,         7,        -7, 1000000007LL,
                                       LLONG_MAX, LLONG_MIN};
    int fds[2];
    json_t *line;

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        mr_log_field field = MR_FINT("n", values[i]);

        MR_CHECK_INT(pipe(fds), ==, 0);
        mr_log_init("test", MR_LOG_DEBUG, fds[1]);
        mr_log_fields(MR_LOG_WARN, "t.num", NULL, &field, 1, "number");

        line = read_json_line(fds);
        MR_CHECK(line != NULL);
        MR_CHECK(json_integer_value(json_object_get(line, "n")) == values[i]);
        json_decref(line);
    }
}

/* A message without conversions is written as it is, quotes escaped. */
static void
test_plain_message_kept(void)
{
    int fds[2];
    json_t *line;

    MR_CHECK_INT(pipe(fds), ==, 0);
    mr_log_init("test", MR_LOG_DEBUG, fds[1]);
    MR_WARN("t.plain", NULL, "say \"hi\" 100 times");

    line = read_json_line(fds);
    MR_CHECK(line != NULL);
    MR_CHECK_STR(json_string_value(json_object_get(line, "msg")),
                 "say \"hi\" 100 times");
    json_decref(line);
}

static void
test_long_line_stays_json(void)
{
    char *value = malloc(4000);
    char *text;
    json_t *line;

    /* Control bytes become six-byte escapes, the worst case for the cut. */
    for (int fill = 0; fill < 2; fill++) {
        memset(value, fill ? 'x' : '\001', 3999);
        value[3999] = '\0';
        text = capture("t.long", value, value);
        line = parse_line(text);

        MR_CHECK(line != NULL);
        MR_CHECK_INT(strlen(text), <=, 2048);
        MR_CHECK_STR(json_string_value(json_object_get(line, "msg_id")),
                     "t.long");
        json_decref(line);
        free(text);
    }
    free(value);
}

/* read_now returns what the pipe contains now, without waiting; the caller
 * frees it. */
static char *
read_now(int fd)
{
    char *buf = calloc(1, 8192);
    ssize_t n = read(fd, buf, 8191);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* open_log_pipe sends log lines into a new pipe, whose read end fds[0]
 * does not block. */
static void
open_log_pipe(int fds[2])
{
    MR_CHECK_INT(pipe(fds), ==, 0);
    MR_CHECK_INT(fcntl(fds[0], F_SETFL, O_NONBLOCK), ==, 0);
    mr_log_init("test", MR_LOG_DEBUG, fds[1]);
}

/* Runs last: buffering cannot be turned off again. */
static void
test_buffer_keeps_order(void)
{
    int fds[2];
    char *text;

    open_log_pipe(fds);
    MR_CHECK_INT(mr_log_buffer(60000), ==, 0);

    MR_INFO("t.first", NULL, "first");
    text = read_now(fds[0]);
    MR_CHECK_STR(text, "");
    free(text);

    /* A warn line writes the buffered lines before itself. */
    MR_WARN("t.second", NULL, "second");
    text = read_now(fds[0]);
    MR_CHECK(strstr(text, "t.first") != NULL);
    MR_CHECK(strstr(text, "t.second") > strstr(text, "t.first"));
    free(text);

    MR_INFO("t.third", NULL, "third");
    mr_log_flush();
    text = read_now(fds[0]);
    MR_CHECK(strstr(text, "t.third") != NULL);
    free(text);
    close(fds[0]);
    close(fds[1]);
}

/* Runs after buffer_keeps_order, with lines buffered: a deferred warn line
 * waits in the buffer like an info line, and a plain warn line writes it
 * out before itself. */
static void
test_deferred_warn_buffered(void)
{
    mr_log_field field = MR_FINT("status", 503);
    int fds[2];
    char *text;

    open_log_pipe(fds);

    mr_log_fields_deferred(MR_LOG_WARN, "t.deferred", NULL, &field, 1,
                           "deferred");
    text = read_now(fds[0]);
    MR_CHECK_STR(text, "");
    free(text);

    MR_WARN("t.plain", NULL, "plain");
    text = read_now(fds[0]);
    MR_CHECK(strstr(text, "t.deferred") != NULL);
    MR_CHECK(strstr(text, "t.plain") > strstr(text, "t.deferred"));
    free(text);
    close(fds[0]);
    close(fds[1]);
}

/* after_ts returns the line at s from the member after "ts", and its
 * length up to the newline. */
static const char *
after_ts(const char *s, size_t *len)
{
    const char *from = strchr(s, ',');
    const char *end = from != NULL ? strchr(from, '\n') : NULL;

    *len = end != NULL ? (size_t)(end - from) : 0;
    return from != NULL ? from : "";
}

/* Runs with lines buffered: a deferred line keeps a copy of its inputs,
 * so the caller may change its strings at once, and becomes the line that
 * mr_log_fields makes of them. Lines with too many fields or too long a
 * value for a record are made at once, and keep their place. */
static void
test_deferred_line_made_later(void)
{
    char path[32] = "/v1/first";
    char big[1500];
    mr_log_field fields[17];
    mr_log_field same[] = {MR_FSTR("path", "/v1/first"),
                           MR_FINT("status", -42)};
    const char *first;
    const char *second;
    size_t first_len;
    size_t second_len;
    int fds[2];
    char *text;

    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    open_log_pipe(fds);

    fields[0] = (mr_log_field){"path", path, 0};
    fields[1] = MR_FINT("status", -42);
    mr_log_fields_deferred(MR_LOG_INFO, "t.later", "rid-7", fields, 2, "done");
    snprintf(path, sizeof(path), "%s", "/v1/changed");
    mr_log_fields(MR_LOG_INFO, "t.later", "rid-7", same, 2, "done");
    for (int i = 0; i < 17; i++) {
        fields[i] = MR_FINT("n", i);
    }
    mr_log_fields_deferred(MR_LOG_INFO, "t.many", NULL, fields, 17, "many");
    fields[0] = (mr_log_field){"big", big, 0};
    mr_log_fields_deferred(MR_LOG_INFO, "t.big", NULL, fields, 1, "big");
    mr_log_flush();
    text = read_now(fds[0]);

    first = after_ts(text, &first_len);
    second = after_ts(first + first_len, &second_len);
    MR_CHECK(first_len > 0 && first_len == second_len &&
             memcmp(first, second, first_len) == 0);
    MR_CHECK(strstr(text, "/v1/changed") == NULL);
    MR_CHECK(strstr(text, "\"n\":16") != NULL);
    MR_CHECK(strstr(text, big) > strstr(text, "\"n\":16"));
    free(text);
    close(fds[0]);
    close(fds[1]);
}

/* pile is what pile_reader collects from the pipe. */
typedef struct {
    int fd;
    char *seen;
    size_t got;
    size_t cap;
    int start_after_ms; /* lets the pipe fill first */
} pile;

/* Reads the pipe until it has been empty for a second. */
static void *
pile_reader(void *arg)
{
    pile *p = arg;

    usleep((useconds_t)p->start_after_ms * 1000);
    for (int idle = 0; idle < 200;) {
        ssize_t n = read(p->fd, p->seen + p->got, p->cap - p->got - 1);

        if (n <= 0) {
            idle++;
            usleep(5000);
            continue;
        }
        idle = 0;
        p->got += (size_t)n;
    }
    p->seen[p->got] = '\0';
    return NULL;
}

/* Returns the number of the last "line N" in text, and whether the lines
 * count up from 0 without a gap. */
static int
last_line(const char *text, bool *ordered)
{
    int last = -1;

    *ordered = true;
    while ((text = strstr(text, "line ")) != NULL) {
        int number = atoi(text + 5);

        *ordered &= number == last + 1;
        last = number;
        text += 5;
    }
    return last;
}

/* Runs after buffer_keeps_order, whose flush interval of a minute leaves
 * a pile of lines as the only reason to write. The flusher writes them in
 * order with no call to flush, and a full buffer waits for it rather than
 * dropping lines. */
static void
test_pile_of_lines_written(void)
{
    enum { LINES = 20000 };
    int fds[2];
    pile p = {.cap = 8u << 20};
    pthread_t reader;
    bool ordered = true;
    int last;

    MR_CHECK_INT(pipe(fds), ==, 0);
    MR_CHECK_INT(fcntl(fds[0], F_SETFL, O_NONBLOCK), ==, 0);
    p.fd = fds[0];
    p.seen = calloc(1, p.cap);
    MR_CHECK_INT(pthread_create(&reader, NULL, pile_reader, &p), ==, 0);
    mr_log_init("test", MR_LOG_DEBUG, fds[1]);
    for (int i = 0; i < LINES; i++) {
        MR_INFO("t.pile", NULL, "line %06d of a pile that fills the buffer",
                i);
    }
    pthread_join(reader, NULL);
    last = last_line(p.seen, &ordered);
    MR_CHECK(ordered);
    MR_CHECK_INT(last, >=, LINES / 2);

    /* Less than half a buffer waits for the interval, or for a flush. */
    MR_CHECK_INT(pthread_create(&reader, NULL, pile_reader, &p), ==, 0);
    mr_log_flush();
    pthread_join(reader, NULL);
    MR_CHECK_INT(last_line(p.seen, &ordered), ==, LINES - 1);
    MR_CHECK(ordered);
    free(p.seen);
    close(fds[0]);
    close(fds[1]);
}

/* Runs after pile_of_lines_written. A non-blocking pipe that fills up
 * makes write(2) fail with EAGAIN partway through the buffer. The writer
 * must wait for room, because giving up would cut a line and run the next
 * one into it. */
static void
test_nonblocking_fd_keeps_lines(void)
{
    enum { LINES = 8000 };
    int fds[2];
    pile p = {.cap = 8u << 20, .start_after_ms = 300};
    pthread_t reader;
    bool ordered = true;

    MR_CHECK_INT(pipe(fds), ==, 0);
    MR_CHECK_INT(fcntl(fds[0], F_SETFL, O_NONBLOCK), ==, 0);
    MR_CHECK_INT(fcntl(fds[1], F_SETFL, O_NONBLOCK), ==, 0);
    p.fd = fds[0];
    p.seen = calloc(1, p.cap);
    MR_CHECK_INT(pthread_create(&reader, NULL, pile_reader, &p), ==, 0);
    mr_log_init("test", MR_LOG_DEBUG, fds[1]);

    for (int i = 0; i < LINES; i++) {
        MR_INFO("t.nonblocking", NULL,
                "line %06d of a pile larger than the pipe", i);
    }
    mr_log_flush();
    pthread_join(reader, NULL);

    MR_CHECK_INT(last_line(p.seen, &ordered), ==, LINES - 1);
    MR_CHECK(ordered);
    free(p.seen);
    close(fds[0]);
    close(fds[1]);
}

static const mr_test_case cases[] = {
    {"line_is_json", test_line_is_json},
    {"ascii_bytes_round_trip", test_ascii_bytes_round_trip},
    {"plain_message_kept", test_plain_message_kept},
    {"numbers_round_trip", test_numbers_round_trip},
    {"escape_at_every_position", test_escape_at_every_position},
    {"long_line_stays_json", test_long_line_stays_json},
    {"cut_keeps_whole_characters", test_cut_keeps_whole_characters},
    {"utf8_checked", test_utf8_checked},
    {"long_name_dropped_alone", test_long_name_dropped_alone},
    {"long_value_keeps_msg", test_long_value_keeps_msg},
    {"buffer_keeps_order", test_buffer_keeps_order},
    {"deferred_warn_buffered", test_deferred_warn_buffered},
    {"deferred_line_made_later", test_deferred_line_made_later},
    {"pile_of_lines_written", test_pile_of_lines_written},
    {"nonblocking_fd_keeps_lines", test_nonblocking_fd_keeps_lines},
};

MR_TEST_MAIN(cases)
