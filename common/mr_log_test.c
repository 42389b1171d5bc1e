/* mr_log_test.c - log lines are one JSON object each, even when cut. */
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

static const mr_test_case cases[] = {
    {"line_is_json", test_line_is_json},
    {"long_line_stays_json", test_long_line_stays_json},
};

MR_TEST_MAIN(cases)
