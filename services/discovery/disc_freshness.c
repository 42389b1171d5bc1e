/* disc_freshness.c - the caching header fields of a response and the
 * freshness lifetime they give. */
#include <stdlib.h>
#include <string.h>

#include "disc_freshness.h"

/* ---- capturing the header fields ---- */

static bool
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static char
ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* span_is returns whether the len bytes at text equal name, which is in
 * lower case, ignoring ASCII case. */
static bool
span_is(const char *text, size_t len, const char *name)
{
    if (strlen(name) != len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (ascii_lower(text[i]) != name[i]) {
            return false;
        }
    }
    return true;
}

/* trim moves *start past leading whitespace and returns the length without
 * trailing whitespace and line ends. */
static size_t
trim(const char **start, size_t len)
{
    while (len > 0 && is_ows(**start)) {
        (*start)++;
        len--;
    }
    while (len > 0 && strchr(" \t\r\n", (*start)[len - 1]) != NULL) {
        len--;
    }
    return len;
}

/* append adds len bytes of value to *field, after separator when *field
 * is set already. It returns false when memory runs out. */
static bool
append(char **field, const char *separator, const char *value, size_t len)
{
    size_t old_len = *field != NULL ? strlen(*field) : 0;
    size_t sep_len = *field != NULL ? strlen(separator) : 0;
    char *grown = realloc(*field, old_len + sep_len + len + 1);

    if (grown == NULL) {
        return false;
    }
    memcpy(grown + old_len, separator, sep_len);
    memcpy(grown + old_len + sep_len, value, len);
    grown[old_len + sep_len + len] = '\0';
    *field = grown;
    return true;
}

/* field_for returns where the value of the field named by the len bytes at
 * name is kept, or NULL for a field that is not kept. */
static char **
field_for(disc_cache_headers *headers, const char *name, size_t len)
{
    if (span_is(name, len, "cache-control")) {
        return &headers->cache_control;
    }
    if (span_is(name, len, "expires")) {
        return &headers->expires;
    }
    if (span_is(name, len, "date")) {
        return &headers->date;
    }
    if (span_is(name, len, "age")) {
        return &headers->age;
    }
    if (span_is(name, len, "retry-after")) {
        return &headers->retry_after;
    }
    return NULL;
}

bool
disc_cache_headers_add(disc_cache_headers *headers, const char *line,
                       size_t len)
{
    const char *colon = memchr(line, ':', len);
    const char *value;
    char **field;

    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        disc_cache_headers_free(headers);
        return true;
    }
    if (len > 0 && is_ows(line[0])) {
        value = line;
        len = trim(&value, len);
        if (headers->folding == NULL || len == 0) {
            return true;
        }
        return append(headers->folding, " ", value, len);
    }

    headers->folding = NULL;
    if (colon == NULL) {
        return true;
    }
    field = field_for(headers, line, (size_t)(colon - line));
    if (field == NULL ||
        (*field != NULL && field != &headers->cache_control)) {
        return true; /* not kept, or a repeated single-value field */
    }

    value = colon + 1;
    len = trim(&value, len - (size_t)(value - line));
    if (field == &headers->cache_control) {
        headers->folding = field;
    }
    return append(field, ", ", value, len);
}

void
disc_cache_headers_free(disc_cache_headers *headers)
{
    free(headers->cache_control);
    free(headers->expires);
    free(headers->date);
    free(headers->age);
    free(headers->retry_after);
    memset(headers, 0, sizeof(*headers));
}

/* ---- Cache-Control ---- */

/* is_tchar returns whether c may appear in a token (RFC 9110 5.6.2). */
static bool
is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* directive is one parsed cache directive. The value of a quoted string
 * excludes the quotes but still contains the backslash escapes. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* NULL without "=" or when malformed */
    size_t value_len;
    bool quoted;
} directive;

/* skip_quoted returns the position after the closing quote of the quoted
 * string that starts at p, or NULL when it is not closed. */
static const char *
skip_quoted(const char *p)
{
    for (p++; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* read_value reads the value after "=" at p into d and returns the
 * position after it. */
static const char *
read_value(const char *p, directive *d)
{
    const char *start = p;

    if (*p == '"') {
        const char *end = skip_quoted(p);

        if (end == NULL) {
            return p + strlen(p); /* unclosed: invalid, skip the rest */
        }
        d->value = start + 1;
        d->value_len = (size_t)(end - start - 2);
        d->quoted = true;
        return end;
    }
    while (is_tchar(*p)) {
        p++;
    }
    d->value = start;
    d->value_len = (size_t)(p - start);
    return p;
}

/* next_directive reads the directive at p into d and returns the position
 * of the comma that ends it, or of the end of the string. Bytes that do
 * not fit the grammar make the value NULL and are skipped up to the next
 * comma outside a quoted string. */
static const char *
next_directive(const char *p, directive *d)
{
    memset(d, 0, sizeof(*d));
    d->name = p;
    while (is_tchar(*p)) {
        p++;
    }
    d->name_len = (size_t)(p - d->name);
    while (is_ows(*p)) {
        p++;
    }
    if (*p == '=') {
        p++;
        while (is_ows(*p)) {
            p++;
        }
        p = read_value(p, d);
        while (is_ows(*p)) {
            p++;
        }
    }

    if (*p != ',' && *p != '\0') {
        d->value = NULL; /* junk after the directive */
    }
    while (*p != ',' && *p != '\0') {
        p = *p == '"' ? skip_quoted(p) : p + 1;
        if (p == NULL) {
            return "";
        }
    }
    return p;
}

/* parse_delta_seconds reads a delta-seconds value (RFC 9111 1.2.2) that
 * may be quoted, clamping it to DISC_DELTA_SECONDS_MAX. It returns false
 * unless the value is one or more digits. */
static bool
parse_delta_seconds(const char *value, size_t len, bool quoted, int64_t *out)
{
    int64_t seconds = 0;

    if (value == NULL || len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = value[i];

        if (quoted && c == '\\' && i + 1 < len) {
            c = value[++i];
        }
        if (c < '0' || c > '9') {
            return false;
        }
        seconds = seconds * 10 + (c - '0');
        if (seconds > DISC_DELTA_SECONDS_MAX) {
            seconds = DISC_DELTA_SECONDS_MAX;
        }
    }
    *out = seconds;
    return true;
}

void
disc_cache_control_parse(const char *value, disc_cache_control *out)
{
    const char *p = value != NULL ? value : "";
    bool max_age_seen = false;
    directive d;

    memset(out, 0, sizeof(*out));
    while (*p != '\0') {
        if (*p == ',' || is_ows(*p)) {
            p++;
            continue;
        }
        p = next_directive(p, &d);

        if (span_is(d.name, d.name_len, "no-store") ||
            span_is(d.name, d.name_len, "no-cache")) {
            out->no_reuse = true;
        } else if (span_is(d.name, d.name_len, "max-age") && !max_age_seen) {
            max_age_seen = true;
            out->has_max_age = true;
            /* RFC 9111 section 4.2.1 encourages treating an invalid
             * freshness lifetime as stale. */
            if (!parse_delta_seconds(d.value, d.value_len, d.quoted,
                                     &out->max_age_s)) {
                out->max_age_s = 0;
            }
        }
    }
}

/* ---- HTTP-date ---- */

static const char *const month_names[] = {"jan", "feb", "mar", "apr",
                                          "may", "jun", "jul", "aug",
                                          "sep", "oct", "nov", "dec"};

static const char *const day_names[] = {"monday",   "tuesday", "wednesday",
                                        "thursday", "friday",  "saturday",
                                        "sunday"};

/* civil_time is a date and time of day in UTC as a date states it. */
typedef struct {
    int year, month, day, hour, minute, second;
} civil_time;

/* digits reads exactly n digits at *p into *out and moves *p past them. */
static bool
digits(const char **p, int n, int *out)
{
    int value = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9') {
            return false;
        }
        value = value * 10 + (c - '0');
    }
    *p += n;
    *out = value;
    return true;
}

/* literal moves *p past text, which is in lower case, ignoring ASCII
 * case, and returns whether it was there. */
static bool
literal(const char **p, const char *text)
{
    size_t len = strlen(text);

    if (strlen(*p) < len || !span_is(*p, len, text)) {
        return false;
    }
    *p += len;
    return true;
}

/* month reads a three-letter month name into t->month (1 to 12). */
static bool
month(const char **p, civil_time *t)
{
    for (int i = 0; i < 12; i++) {
        if (literal(p, month_names[i])) {
            t->month = i + 1;
            return true;
        }
    }
    return false;
}

/* day_name reads a day name, the three-letter form or the full one. */
static bool
day_name(const char **p, bool full)
{
    for (int i = 0; i < 7; i++) {
        char short_name[4];

        memcpy(short_name, day_names[i], 3);
        short_name[3] = '\0';
        if (literal(p, full ? day_names[i] : short_name)) {
            return true;
        }
    }
    return false;
}

/* time_of_day reads "HH:MM:SS". */
static bool
time_of_day(const char **p, civil_time *t)
{
    return digits(p, 2, &t->hour) && literal(p, ":") &&
           digits(p, 2, &t->minute) && literal(p, ":") &&
           digits(p, 2, &t->second);
}

/* imf_fixdate reads "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool
imf_fixdate(const char *p, civil_time *t)
{
    return day_name(&p, false) && literal(&p, ", ") &&
           digits(&p, 2, &t->day) && literal(&p, " ") && month(&p, t) &&
           literal(&p, " ") && digits(&p, 4, &t->year) && literal(&p, " ") &&
           time_of_day(&p, t) && literal(&p, " gmt") && *p == '\0';
}

/* rfc850_date reads "Sunday, 06-Nov-94 08:49:37 GMT" and leaves the year
 * with two digits. */
static bool
rfc850_date(const char *p, civil_time *t)
{
    return day_name(&p, true) && literal(&p, ", ") && digits(&p, 2, &t->day) &&
           literal(&p, "-") && month(&p, t) && literal(&p, "-") &&
           digits(&p, 2, &t->year) && literal(&p, " ") && time_of_day(&p, t) &&
           literal(&p, " gmt") && *p == '\0';
}

/* asctime_date reads "Sun Nov  6 08:49:37 1994". */
static bool
asctime_date(const char *p, civil_time *t)
{
    bool ok = day_name(&p, false) && literal(&p, " ") && month(&p, t) &&
              literal(&p, " ");

    if (ok && *p == ' ') {
        p++;
        ok = digits(&p, 1, &t->day);
    } else if (ok) {
        ok = digits(&p, 2, &t->day);
    }
    return ok && literal(&p, " ") && time_of_day(&p, t) && literal(&p, " ") &&
           digits(&p, 4, &t->year) && *p == '\0';
}

static bool
is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* valid_time checks the ranges of every part. A second of 60 is a leap
 * second. */
static bool
valid_time(const civil_time *t)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
    int days;

    if (t->month < 1 || t->month > 12) {
        return false;
    }
    days = month_days[t->month - 1] + (t->month == 2 && is_leap(t->year));
    return t->day >= 1 && t->day <= days && t->hour <= 23 && t->minute <= 59 &&
           t->second <= 60;
}

/* days_from_civil returns the days from 1970-01-01 to a date of the
 * proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int year, int month_of_year, int day)
{
    int64_t y = year - (month_of_year <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t year_of_era = y - era * 400;
    int64_t day_of_year =
        (153 * (month_of_year + (month_of_year > 2 ? -3 : 9)) + 2) / 5 + day -
        1;
    int64_t day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

    return era * 146097 + day_of_era - 719468;
}

/* full_year places a two-digit year: in the century of now_s, or the one
 * before when that is more than 50 years ahead (RFC 9110 5.6.7). The
 * current year is estimated from the mean Gregorian year, which is off by
 * at most a day around New Year. */
static int
full_year(int two_digits, int64_t now_s)
{
    int64_t now_year = 1970 + now_s / 31556952;
    int64_t year = now_year - now_year % 100 + two_digits;

    if (year > now_year + 50) {
        year -= 100;
    }
    return (int)year;
}

bool
disc_http_date_parse(const char *text, int64_t now_s, int64_t *out_s)
{
    civil_time t = {0};

    if (text == NULL) {
        return false;
    }
    if (rfc850_date(text, &t)) {
        t.year = full_year(t.year, now_s);
    } else if (!imf_fixdate(text, &t) && !asctime_date(text, &t)) {
        return false;
    }
    if (!valid_time(&t)) {
        return false;
    }

    *out_s = days_from_civil(t.year, t.month, t.day) * 86400 + t.hour * 3600 +
             t.minute * 60 + t.second;
    return true;
}

/* ---- Retry-After ---- */

int64_t
disc_retry_after_s(const disc_cache_headers *headers, int64_t now_s)
{
    const char *value = headers != NULL ? headers->retry_after : NULL;
    int64_t seconds = 0;
    int64_t at = 0;

    if (value == NULL) {
        return 0;
    }
    if (parse_delta_seconds(value, strlen(value), false, &seconds)) {
        return seconds;
    }
    if (disc_http_date_parse(value, now_s, &at) && at > now_s) {
        return at - now_s;
    }
    return 0;
}

/* ---- freshness lifetime ---- */

/* expires_lifetime_s returns Expires minus Date, which is 0 for an
 * invalid Expires (RFC 9111 5.3) and uses now_s for a missing or invalid
 * Date. */
static int64_t
expires_lifetime_s(const disc_cache_headers *headers, int64_t now_s)
{
    int64_t expires = 0;
    int64_t date = now_s;

    if (!disc_http_date_parse(headers->expires, now_s, &expires)) {
        return 0;
    }
    (void)disc_http_date_parse(headers->date, now_s, &date);
    if (expires <= date) {
        return 0;
    }
    return expires - date < DISC_DELTA_SECONDS_MAX ? expires - date
                                                   : DISC_DELTA_SECONDS_MAX;
}

int64_t
disc_freshness_lifetime_ms(const disc_cache_headers *headers, int64_t now_s)
{
    disc_cache_control control;
    int64_t lifetime_s;
    int64_t age_s = 0;
    const char *age;

    if (headers == NULL) {
        return DISC_FRESHNESS_NONE;
    }
    disc_cache_control_parse(headers->cache_control, &control);
    if (control.no_reuse) {
        return 0;
    }
    if (control.has_max_age) {
        lifetime_s = control.max_age_s;
    } else if (headers->expires != NULL) {
        lifetime_s = expires_lifetime_s(headers, now_s);
    } else {
        return DISC_FRESHNESS_NONE;
    }

    /* An Age that is not a delta-seconds is ignored. */
    age = headers->age;
    if (age != NULL && parse_delta_seconds(age, strlen(age), false, &age_s)) {
        lifetime_s = age_s < lifetime_s ? lifetime_s - age_s : 0;
    }
    return lifetime_s * 1000;
}

void
disc_freshness_add(disc_freshness *freshness,
                   const disc_cache_headers *headers, int64_t now_ms,
                   int64_t now_s)
{
    int64_t lifetime_ms = disc_freshness_lifetime_ms(headers, now_s);

    if (lifetime_ms == DISC_FRESHNESS_NONE) {
        return;
    }
    if (!freshness->limited || now_ms + lifetime_ms < freshness->expires_ms) {
        freshness->limited = true;
        freshness->expires_ms = now_ms + lifetime_ms;
    }
}

int64_t
disc_freshness_ttl_ms(const disc_freshness *freshness, int64_t now_ms,
                      int64_t default_ms, int64_t max_ms)
{
    int64_t ttl_ms = default_ms;

    if (freshness->limited) {
        ttl_ms = freshness->expires_ms - now_ms;
    }
    if (ttl_ms > max_ms) {
        ttl_ms = max_ms;
    }
    return ttl_ms > 0 ? ttl_ms : 0;
}
