/* fuzz_disc_freshness.c - libFuzzer target of the caching header fields.
 * The input is split after each newline into header lines, which are
 * captured as the fetch captures a response's lines. The captured values
 * then give a lifetime. The whole input is also read as one Cache-Control
 * value and as one HTTP-date. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disc_freshness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* NOW_S is a fixed current time, Sun, 06 Nov 1994 08:49:37 GMT. */
#define NOW_S INT64_C(784111777)

/* LATEST_DATE_S is Fri, 31 Dec 9999 23:59:59 GMT plus a leap second, the
 * latest time a four-digit year can state. */
#define LATEST_DATE_S INT64_C(253402300800)

/* EARLIEST_DATE_S is Sat, 01 Jan 0000 00:00:00 GMT. */
#define EARLIEST_DATE_S INT64_C(-62167219200)

static void
check_lifetime(const disc_cache_headers *headers)
{
    int64_t lifetime_ms = disc_freshness_lifetime_ms(headers, NOW_S);

    if (lifetime_ms != DISC_FRESHNESS_NONE &&
        (lifetime_ms < 0 || lifetime_ms > DISC_DELTA_SECONDS_MAX * 1000)) {
        abort();
    }
}

static void
capture_lines(const char *text, size_t size)
{
    disc_cache_headers headers = {0};
    size_t start = 0;

    while (start < size) {
        const char *newline = memchr(text + start, '\n', size - start);
        size_t len = newline != NULL ? (size_t)(newline - text) + 1 - start
                                     : size - start;

        if (!disc_cache_headers_add(&headers, text + start, len)) {
            break;
        }
        start += len;
    }
    check_lifetime(&headers);
    disc_cache_headers_free(&headers);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    disc_cache_control control;
    int64_t seconds = 0;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    capture_lines(text, size);

    disc_cache_control_parse(text, &control);
    if (control.has_max_age && (control.max_age_s < 0 ||
                                control.max_age_s > DISC_DELTA_SECONDS_MAX)) {
        abort();
    }
    if (disc_http_date_parse(text, NOW_S, &seconds) &&
        (seconds < EARLIEST_DATE_S || seconds > LATEST_DATE_S)) {
        abort();
    }
    free(text);
    return 0;
}
