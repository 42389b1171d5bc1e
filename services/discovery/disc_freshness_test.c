/* disc_freshness_test.c - unit tests of the caching header fields: their
 * capture from header lines, Cache-Control, HTTP-dates and the lifetime
 * of one response and of several. */
#include <stdio.h>
#include <string.h>

#include "disc_freshness.h"
#include "mr_test.h"

/* NOW_S is Sun, 06 Nov 1994 08:49:37 GMT, the date of RFC 9110's
 * examples, in seconds since the epoch. */
#define NOW_S INT64_C(784111777)

/* add_lines feeds each NUL-terminated line to headers, as libcurl would
 * deliver it. */
static void
add_lines(disc_cache_headers *headers, const char *const *lines)
{
    for (size_t i = 0; lines[i] != NULL; i++) {
        MR_CHECK(disc_cache_headers_add(headers, lines[i], strlen(lines[i])));
    }
}

static void
test_capture_kept_fields(void)
{
    static const char *const lines[] = {
        "HTTP/1.1 200 OK\r\n",
        "content-type: application/json\r\n",
        "Cache-Control:  public,  max-age=60 \r\n",
        "cache-control: no-transform\r\n",
        "EXPIRES: Sun, 06 Nov 1994 08:50:37 GMT\r\n",
        "Expires: Sun, 06 Nov 1994 09:00:00 GMT\r\n",
        "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
        "Age: 7\r\n",
        "\r\n",
        NULL,
    };
    disc_cache_headers headers = {0};

    add_lines(&headers, lines);
    MR_CHECK_STR(headers.cache_control, "public,  max-age=60, no-transform");
    MR_CHECK_STR(headers.expires, "Sun, 06 Nov 1994 08:50:37 GMT");
    MR_CHECK_STR(headers.date, "Sun, 06 Nov 1994 08:49:37 GMT");
    MR_CHECK_STR(headers.age, "7");
    disc_cache_headers_free(&headers);
    MR_CHECK(headers.cache_control == NULL);
}

/* A redirect's status line starts over, so only the final response's
 * fields remain. */
static void
test_capture_final_response_only(void)
{
    static const char *const lines[] = {
        "HTTP/1.1 301 Moved Permanently\r\n",
        "Cache-Control: max-age=3600\r\n",
        "Age: 10\r\n",
        "\r\n",
        "HTTP/1.1 200 OK\r\n",
        "Cache-Control: no-store\r\n",
        "\r\n",
        NULL,
    };
    disc_cache_headers headers = {0};

    add_lines(&headers, lines);
    MR_CHECK_STR(headers.cache_control, "no-store");
    MR_CHECK(headers.age == NULL);
    disc_cache_headers_free(&headers);
}

/* An obsolete folded line extends Cache-Control, and only Cache-Control. */
static void
test_capture_folded_line(void)
{
    static const char *const lines[] = {
        "HTTP/1.1 200 OK\r\n", "Cache-Control: max-age=60,\r\n",
        "\t no-store\r\n",     "X-Other: a\r\n",
        " max-age=1\r\n",      NULL,
    };
    disc_cache_headers headers = {0};

    add_lines(&headers, lines);
    MR_CHECK_STR(headers.cache_control, "max-age=60, no-store");
    disc_cache_headers_free(&headers);
}

/* parse returns the Cache-Control of value. */
static disc_cache_control
parse(const char *value)
{
    disc_cache_control control;

    disc_cache_control_parse(value, &control);
    return control;
}

static void
test_cache_control_max_age(void)
{
    MR_CHECK(!parse(NULL).has_max_age);
    MR_CHECK(!parse("").has_max_age);
    MR_CHECK_INT(parse("max-age=60").max_age_s, ==, 60);
    MR_CHECK_INT(parse("MAX-AGE=5, public").max_age_s, ==, 5);
    MR_CHECK_INT(parse("public,max-age=007").max_age_s, ==, 7);
    MR_CHECK_INT(parse("max-age=\"42\"").max_age_s, ==, 42);
    MR_CHECK_INT(parse("max-age = 9").max_age_s, ==, 9);
    MR_CHECK_INT(parse(" , ,max-age=3,,").max_age_s, ==, 3);
    MR_CHECK(parse("max-age=0").has_max_age);
    MR_CHECK_INT(parse("max-age=0").max_age_s, ==, 0);
    MR_CHECK(!parse("max-age=0").no_reuse);
}

static void
test_cache_control_max_age_overflow(void)
{
    disc_cache_control big = parse("max-age=99999999999999999999999999");

    MR_CHECK(big.has_max_age);
    MR_CHECK_INT(big.max_age_s, ==, DISC_DELTA_SECONDS_MAX);
    MR_CHECK_INT(parse("max-age=2147483647").max_age_s, ==, 2147483647);
    MR_CHECK_INT(parse("max-age=2147483649").max_age_s, ==,
                 DISC_DELTA_SECONDS_MAX);
}

/* A max-age whose value is not all digits gives 0, so the response is
 * stale, and every other directive that merely looks like it is ignored. */
static void
test_cache_control_bad_max_age(void)
{
    const char *invalid[] = {
        "max-age",     "max-age=",     "max-age=abc",     "max-age=-1",
        "max-age=1.5", "max-age=\"\"", "max-age=5x",      "max-age=\"5",
        "max-age=5 6", "MAX-AGE=x",    "max-age=\"1 2\"",
    };
    const char *other[] = {
        "s-maxage=10", "s-max-age=10",   "max-ages=10",
        "xmax-age=10", "\"max-age=10\"", "no-max-age=10",
    };

    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        disc_cache_control control = parse(invalid[i]);

        if (!control.has_max_age || control.max_age_s != 0 ||
            control.no_reuse) {
            mr_test__fail(__FILE__, __LINE__, "\"%s\" gave max-age %lld",
                          invalid[i], (long long)control.max_age_s);
        }
    }
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        disc_cache_control control = parse(other[i]);

        if (control.has_max_age || control.no_reuse) {
            mr_test__fail(__FILE__, __LINE__, "\"%s\" gave max-age %lld",
                          other[i], (long long)control.max_age_s);
        }
    }
}

/* Only the first max-age counts, even when it is invalid. */
static void
test_cache_control_first_max_age(void)
{
    MR_CHECK_INT(parse("max-age=5, max-age=100").max_age_s, ==, 5);
    MR_CHECK(parse("max-age=x, max-age=100").has_max_age);
    MR_CHECK_INT(parse("max-age=x, max-age=100").max_age_s, ==, 0);
}

static void
test_cache_control_no_reuse(void)
{
    MR_CHECK(parse("no-store").no_reuse);
    MR_CHECK(parse("No-Cache").no_reuse);
    MR_CHECK(parse("max-age=60, no-cache").no_reuse);
    MR_CHECK(parse("no-cache=\"Set-Cookie, X-A\", max-age=60").no_reuse);
    MR_CHECK(parse("public, NO-STORE").no_reuse);
    MR_CHECK(!parse("no-transform").no_reuse);
    MR_CHECK(!parse("no-stores").no_reuse);
    MR_CHECK(!parse("private, must-revalidate").no_reuse);
}

/* Commas inside a quoted value do not split it, and an escaped quote does
 * not end it. */
static void
test_cache_control_quoted_commas(void)
{
    disc_cache_control control =
        parse("private=\"a, no-store, max-age=1\", max-age=30");

    MR_CHECK(!control.no_reuse);
    MR_CHECK_INT(control.max_age_s, ==, 30);

    control = parse("ext=\"x\\\", no-store\", max-age=\"3\\0\"");
    MR_CHECK(!control.no_reuse);
    MR_CHECK_INT(control.max_age_s, ==, 30);
}

/* date returns the seconds of text, or -1 when it does not parse. */
static int64_t
date(const char *text)
{
    int64_t seconds = -1;

    if (!disc_http_date_parse(text, NOW_S, &seconds)) {
        return -1;
    }
    return seconds;
}

static void
test_http_date_formats(void)
{
    MR_CHECK_INT(date("Sun, 06 Nov 1994 08:49:37 GMT"), ==, NOW_S);
    MR_CHECK_INT(date("Sunday, 06-Nov-94 08:49:37 GMT"), ==, NOW_S);
    MR_CHECK_INT(date("Sun Nov  6 08:49:37 1994"), ==, NOW_S);
    MR_CHECK_INT(date("sun, 06 nov 1994 08:49:37 gmt"), ==, NOW_S);
    MR_CHECK_INT(date("Thu, 01 Jan 1970 00:00:00 GMT"), ==, 0);
    MR_CHECK_INT(date("Thu, 29 Feb 2024 23:59:60 GMT"), ==,
                 INT64_C(1709251200));
    MR_CHECK_INT(date("Fri, 31 Dec 9999 23:59:59 GMT"), ==,
                 INT64_C(253402300799));
}

/* A two-digit year more than 50 years ahead of now is in the century
 * before. */
static void
test_http_date_two_digit_year(void)
{
    const int64_t start_of_2025 = INT64_C(1735689600);
    int64_t seconds = 0;

    MR_CHECK(disc_http_date_parse("Sunday, 01-Jan-40 00:00:00 GMT",
                                  start_of_2025, &seconds));
    MR_CHECK_INT(seconds, ==, INT64_C(2208988800));
    MR_CHECK(disc_http_date_parse("Tuesday, 01-Jan-80 00:00:00 GMT",
                                  start_of_2025, &seconds));
    MR_CHECK_INT(seconds, ==, INT64_C(315532800));
}

static void
test_http_date_invalid(void)
{
    const char *bad[] = {
        "",
        "0",
        "-1",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun, 06 Nov 1994 08:49:37 UTC",
    };

    MR_CHECK_INT(date(NULL), ==, -1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (date(bad[i]) != -1) {
            mr_test__fail(__FILE__, __LINE__, "\"%s\" parsed as a date",
                          bad[i]);
        }
    }
}

/* lifetime returns the lifetime in ms of a response with these values. */
static int64_t
lifetime(const char *cache_control, const char *expires, const char *date_,
         const char *age)
{
    disc_cache_headers headers = {
        .cache_control = (char *)cache_control,
        .expires = (char *)expires,
        .date = (char *)date_,
        .age = (char *)age,
    };

    return disc_freshness_lifetime_ms(&headers, NOW_S);
}

static void
test_lifetime_sources(void)
{
    const char *at_now = "Sun, 06 Nov 1994 08:49:37 GMT";
    const char *minute_later = "Sun, 06 Nov 1994 08:50:37 GMT";
    const char *hour_later = "Sun, 06 Nov 1994 09:49:37 GMT";

    MR_CHECK_INT(disc_freshness_lifetime_ms(NULL, NOW_S), ==,
                 DISC_FRESHNESS_NONE);
    MR_CHECK_INT(lifetime(NULL, NULL, at_now, NULL), ==, DISC_FRESHNESS_NONE);
    MR_CHECK_INT(lifetime("public", NULL, NULL, "5"), ==, DISC_FRESHNESS_NONE);
    MR_CHECK_INT(lifetime("max-age=90", NULL, NULL, NULL), ==, 90000);

    /* max-age wins over Expires, whichever is shorter, and an invalid
     * max-age makes the response stale. */
    MR_CHECK_INT(lifetime("max-age=90", minute_later, at_now, NULL), ==,
                 90000);
    MR_CHECK_INT(lifetime("max-age=x", minute_later, at_now, NULL), ==, 0);

    /* Expires minus Date, both on the server's clock. Without a valid
     * Date, the current time is used. */
    MR_CHECK_INT(lifetime(NULL, hour_later, minute_later, NULL), ==, 3540000);
    MR_CHECK_INT(lifetime(NULL, minute_later, NULL, NULL), ==, 60000);
    MR_CHECK_INT(lifetime(NULL, minute_later, "garbage", NULL), ==, 60000);
    MR_CHECK_INT(lifetime(NULL, at_now, minute_later, NULL), ==, 0);
}

/* retry_after_of returns disc_retry_after_s at NOW_S for a response whose
 * header lines are lines. */
static int64_t
retry_after_of(const char *const *lines)
{
    disc_cache_headers headers = {0};
    int64_t seconds;

    add_lines(&headers, lines);
    seconds = disc_retry_after_s(&headers, NOW_S);
    disc_cache_headers_free(&headers);
    return seconds;
}

/* Retry-After is delay-seconds or an HTTP-date (RFC 9110 section 10.2.3).
 * Anything else, and a date in the past, gives no delay. */
static void
test_retry_after_values(void)
{
    static const struct {
        const char *value;
        int64_t seconds;
    } cases[] = {
        {"120", 120},
        {"  7 ", 7},
        {"0", 0},
        {"99999999999999999999", DISC_DELTA_SECONDS_MAX},
        {"Sun, 06 Nov 1994 08:50:37 GMT", 60},
        {"Sunday, 06-Nov-94 09:49:37 GMT", 3600},
        {"Sun Nov  6 08:49:47 1994", 10},
        {"Sun, 06 Nov 1994 08:48:37 GMT", 0},
        {"5x", 0},
        {"+5", 0},
        {"-5", 0},
        {"7.5", 0},
        {"5, 10", 0},
        {"garbage", 0},
    };
    char line[96];
    const char *lines[] = {"HTTP/1.1 503 Service Unavailable\r\n", line,
                           "\r\n", NULL};

    MR_CHECK_INT(disc_retry_after_s(NULL, NOW_S), ==, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(line, sizeof(line), "Retry-After: %s\r\n", cases[i].value);
        if (retry_after_of(lines) != cases[i].seconds) {
            fprintf(stderr, "    Retry-After: %s\n", cases[i].value);
        }
        MR_CHECK_INT(retry_after_of(lines), ==, cases[i].seconds);
    }
}

/* Only the final response of a redirect chain counts, and of two fields
 * the first. */
static void
test_retry_after_final_first(void)
{
    static const char *const redirected[] = {
        "HTTP/1.1 302 Found\r\n",
        "Retry-After: 999\r\n",
        "\r\n",
        "HTTP/1.1 503 Service Unavailable\r\n",
        "\r\n",
        NULL,
    };
    static const char *const twice[] = {
        "HTTP/1.1 429 Too Many Requests\r\n",
        "Retry-After: 30\r\n",
        "retry-after: 60\r\n",
        "\r\n",
        NULL,
    };

    MR_CHECK_INT(retry_after_of(redirected), ==, 0);
    MR_CHECK_INT(retry_after_of(twice), ==, 30);
}

/* RFC 9111 5.3: an invalid Expires, "0" above all, is in the past. */
static void
test_lifetime_invalid_expires(void)
{
    MR_CHECK_INT(lifetime(NULL, "0", NULL, NULL), ==, 0);
    MR_CHECK_INT(lifetime(NULL, "tomorrow", NULL, NULL), ==, 0);
}

/* RFC 9111 4.2.1: an invalid max-age is stale, not the default lifetime. */
static void
test_lifetime_invalid_max_age(void)
{
    MR_CHECK_INT(lifetime("max-age=abc", NULL, NULL, NULL), ==, 0);
    MR_CHECK_INT(lifetime("max-age=-1", NULL, NULL, NULL), ==, 0);
    MR_CHECK_INT(lifetime("public, max-age", NULL, NULL, "5"), ==, 0);
}

static void
test_lifetime_no_reuse(void)
{
    MR_CHECK_INT(lifetime("no-store, max-age=60", NULL, NULL, NULL), ==, 0);
    MR_CHECK_INT(
        lifetime("no-cache", "Sun, 06 Nov 1994 09:49:37 GMT", NULL, NULL), ==,
        0);
    MR_CHECK_INT(lifetime("max-age=0", NULL, NULL, NULL), ==, 0);
}

/* Age, from caches on the way, is subtracted. An invalid Age is ignored. */
static void
test_lifetime_minus_age(void)
{
    MR_CHECK_INT(lifetime("max-age=60", NULL, NULL, "45"), ==, 15000);
    MR_CHECK_INT(lifetime("max-age=60", NULL, NULL, "60"), ==, 0);
    MR_CHECK_INT(lifetime("max-age=60", NULL, NULL, "99999999999999"), ==, 0);
    MR_CHECK_INT(lifetime("max-age=60", NULL, NULL, "-5"), ==, 60000);
    MR_CHECK_INT(lifetime("max-age=60", NULL, NULL, "ten"), ==, 60000);
}

static void
test_lifetime_clamped(void)
{
    MR_CHECK_INT(lifetime("max-age=99999999999999", NULL, NULL, NULL), ==,
                 DISC_DELTA_SECONDS_MAX * 1000);
    MR_CHECK_INT(lifetime(NULL, "Fri, 31 Dec 9999 23:59:59 GMT",
                          "Thu, 01 Jan 1970 00:00:00 GMT", NULL),
                 ==, DISC_DELTA_SECONDS_MAX * 1000);
}

/* The earliest expiry among responses counts, and a response without a
 * lifetime does not limit it. */
static void
test_freshness_earliest_expiry(void)
{
    disc_cache_headers long_lived = {.cache_control = "max-age=60"};
    disc_cache_headers short_lived = {.cache_control = "max-age=10"};
    disc_cache_headers silent = {0};
    disc_freshness freshness = {0};

    disc_freshness_add(&freshness, &silent, 1000, NOW_S);
    disc_freshness_add(&freshness, NULL, 1000, NOW_S);
    MR_CHECK(!freshness.limited);

    disc_freshness_add(&freshness, &long_lived, 1000, NOW_S);
    disc_freshness_add(&freshness, &short_lived, 3000, NOW_S);
    disc_freshness_add(&freshness, &long_lived, 4000, NOW_S);
    MR_CHECK(freshness.limited);
    MR_CHECK_INT(freshness.expires_ms, ==, 13000);
}

static void
test_ttl_default_and_bounds(void)
{
    disc_freshness none = {0};
    disc_freshness until_13s = {.limited = true, .expires_ms = 13000};

    MR_CHECK_INT(disc_freshness_ttl_ms(&none, 5000, 300000, 300000), ==,
                 300000);
    MR_CHECK_INT(disc_freshness_ttl_ms(&none, 5000, 300000, 2000), ==, 2000);
    MR_CHECK_INT(disc_freshness_ttl_ms(&until_13s, 5000, 300000, 300000), ==,
                 8000);
    MR_CHECK_INT(disc_freshness_ttl_ms(&until_13s, 5000, 300000, 2000), ==,
                 2000);
    MR_CHECK_INT(disc_freshness_ttl_ms(&until_13s, 20000, 300000, 300000), ==,
                 0);
    MR_CHECK_INT(disc_freshness_ttl_ms(&until_13s, 5000, 300000, 0), ==, 0);
}

static const mr_test_case cases[] = {
    {"capture_kept_fields", test_capture_kept_fields},
    {"capture_final_response_only", test_capture_final_response_only},
    {"capture_folded_line", test_capture_folded_line},
    {"cache_control_max_age", test_cache_control_max_age},
    {"cache_control_max_age_overflow", test_cache_control_max_age_overflow},
    {"cache_control_bad_max_age", test_cache_control_bad_max_age},
    {"cache_control_first_max_age", test_cache_control_first_max_age},
    {"cache_control_no_reuse", test_cache_control_no_reuse},
    {"cache_control_quoted_commas", test_cache_control_quoted_commas},
    {"http_date_formats", test_http_date_formats},
    {"http_date_two_digit_year", test_http_date_two_digit_year},
    {"http_date_invalid", test_http_date_invalid},
    {"lifetime_sources", test_lifetime_sources},
    {"lifetime_invalid_expires", test_lifetime_invalid_expires},
    {"lifetime_invalid_max_age", test_lifetime_invalid_max_age},
    {"lifetime_no_reuse", test_lifetime_no_reuse},
    {"lifetime_minus_age", test_lifetime_minus_age},
    {"lifetime_clamped", test_lifetime_clamped},
    {"freshness_earliest_expiry", test_freshness_earliest_expiry},
    {"ttl_default_and_bounds", test_ttl_default_and_bounds},
    {"retry_after_values", test_retry_after_values},
    {"retry_after_final_first", test_retry_after_final_first},
};

MR_TEST_MAIN(cases)
