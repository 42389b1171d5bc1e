/* fuzz_log.c - libFuzzer target of the log line writer. The input's first
 * byte picks where the rest splits into a field name, a field value and a
 * message. Whatever bytes these carry, each line must be one JSON object
 * of valid UTF-8, at most 2048 bytes long. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "mr_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LOG_LINE_MAX is mr_log.c's bound on one line, newline included. */
#define LOG_LINE_MAX 2048

static int fds[2] = {-1, -1};

/* open_pipe sends the log to a pipe that check_line reads, once. */
static void
open_pipe(void)
{
    if (fds[0] >= 0) {
        return;
    }
    if (pipe(fds) != 0) {
        abort();
    }
    mr_log_init("fuzz", MR_LOG_DEBUG, fds[1]);
}

/* split copies the n bytes at data into a new string; the caller frees
 * it. */
static char *
split(const uint8_t *data, size_t n)
{
    char *text = malloc(n + 1);

    if (text == NULL) {
        abort();
    }
    memcpy(text, data, n);
    text[n] = '\0';
    return text;
}

/* check_line reads the line just logged and aborts unless it is one
 * valid JSON object with "msg", newline-terminated, within LOG_LINE_MAX. */
static void
check_line(void)
{
    char buf[LOG_LINE_MAX * 2];
    ssize_t n = read(fds[0], buf, sizeof(buf));
    json_error_t error;
    json_t *line;

    if (n <= 0 || n > LOG_LINE_MAX || buf[n - 1] != '\n' ||
        memchr(buf, '\n', (size_t)n - 1) != NULL) {
        abort();
    }
    line = json_loadb(buf, (size_t)n, 0, &error);
    if (!json_is_object(line) || json_object_get(line, "msg_id") == NULL ||
        !json_is_string(json_object_get(line, "msg"))) {
        abort();
    }
    json_decref(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mr_log_field fields[2];
    size_t name_len;
    size_t value_len;
    char *name;
    char *value;
    char *msg;

    open_pipe();
    if (size < 2) {
        return 0;
    }

    name_len = data[0] % 64 < size - 1 ? data[0] % 64 : size - 1;
    value_len = (size - 1 - name_len) / 2;
    name = split(data + 1, name_len);
    value = split(data + 1 + name_len, value_len);
    msg = split(data + 1 + name_len + value_len,
                size - 1 - name_len - value_len);

    fields[0] = MR_FSTR(name[0] != '\0' ? name : "n", value);
    fields[1] = MR_FINT("number", (long long)size);

    mr_log_fields(MR_LOG_WARN, "fuzz.log", value, fields, 2, "%s", msg);
    check_line();

    /* A message without '%' is written as it is, not formatted. */
    if (strchr(msg, '%') == NULL) {
        mr_log_fields(MR_LOG_WARN, "fuzz.log", NULL, fields, 2, msg);
        check_line();
    }

    free(name);
    free(value);
    free(msg);
    return 0;
}
