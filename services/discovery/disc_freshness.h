/* disc_freshness.h - how long a response may be reused, from its
 * Cache-Control, Expires, Date and Age header fields (RFC 9111 section 4.2)
 * as a private cache reads them, and the delay that its Retry-After
 * requests. Without I/O: the caller passes the clock. */
#ifndef DISC_FRESHNESS_H
#define DISC_FRESHNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* DISC_DELTA_SECONDS_MAX is the value that a larger or overflowing
 * delta-seconds becomes, 2^31 as RFC 9111 section 1.2.2 suggests. */
#define DISC_DELTA_SECONDS_MAX INT64_C(2147483648)

/* DISC_FRESHNESS_NONE is what disc_freshness_lifetime_ms returns for a
 * response that states no explicit lifetime. */
#define DISC_FRESHNESS_NONE (-1)

/* disc_cache_headers contains the caching header field values of one
 * response, and its Retry-After, each NULL when absent. The strings are
 * owned by the struct when disc_cache_headers_add filled it. */
typedef struct {
    char *cache_control; /* every Cache-Control line, joined with ", " */
    char *expires;       /* the first Expires line */
    char *date;          /* the first Date line */
    char *age;           /* the first Age line */
    char *retry_after;   /* the first Retry-After line */
    char **folding;      /* the field that a folded line extends, or NULL */
} disc_cache_headers;

/*
 * disc_cache_headers_add reads one header line as libcurl delivers it,
 * CRLF included. It keeps the value when the field is one of the five
 * above and ignores other fields. A status line ("HTTP/...") starts the
 * next response of a redirect chain and clears what was kept, so the
 * struct ends with the final response's fields. An obsolete folded line
 * (starting with a space or tab) extends Cache-Control when it follows
 * one. It returns false when memory runs out.
 */
bool disc_cache_headers_add(disc_cache_headers *headers, const char *line,
                            size_t len);

/* disc_cache_headers_free frees the kept values and empties headers. */
void disc_cache_headers_free(disc_cache_headers *headers);

/* disc_cache_control is what a Cache-Control value means to a private
 * cache. */
typedef struct {
    bool no_reuse;     /* no-store or no-cache, with or without a value */
    bool has_max_age;  /* a max-age directive, valid or not */
    int64_t max_age_s; /* 0 when invalid; at most DISC_DELTA_SECONDS_MAX */
} disc_cache_control;

/*
 * disc_cache_control_parse reads a Cache-Control value (RFC 9111 section
 * 5.2). Directive names are compared ignoring ASCII case, values may be
 * tokens or quoted strings, and commas inside quotes do not split. Only
 * the first max-age counts, and a value that is not all digits gives a
 * max-age of 0, so the response is stale. s-maxage is for shared caches
 * and is ignored, like every other directive. value may be NULL.
 */
void disc_cache_control_parse(const char *value, disc_cache_control *out);

/*
 * disc_http_date_parse reads an HTTP-date (RFC 9110 section 5.6.7) in any
 * of its three formats into seconds since the epoch and returns true, or
 * returns false when text is not a valid date. now_s, the current time,
 * places the two-digit years of the obsolete RFC 850 format: a year more
 * than 50 years ahead is taken from the century before.
 */
bool disc_http_date_parse(const char *text, int64_t now_s, int64_t *out_s);

/*
 * disc_retry_after_s returns the delay in seconds that the Retry-After of
 * headers requests (RFC 9110 section 10.2.3) at now_s: its delay-seconds,
 * at most DISC_DELTA_SECONDS_MAX, or the time until its HTTP-date. It
 * returns 0 without the field, for a date in the past, and for a value
 * that is neither, such as "5x", "+5" or "7.5". headers may be NULL.
 */
int64_t disc_retry_after_s(const disc_cache_headers *headers, int64_t now_s);

/*
 * disc_freshness_lifetime_ms returns how many ms a response with headers
 * may still be reused after its receipt at now_s: max-age, else Expires
 * minus Date (Date defaults to now_s, and an invalid Expires is in the
 * past), minus Age, and 0 for no-store or no-cache. It returns
 * DISC_FRESHNESS_NONE when the response states no lifetime. The
 * difference between Date and now_s is not counted as age, so a server
 * with a wrong clock cannot make an entry expire early. headers may be
 * NULL.
 */
int64_t disc_freshness_lifetime_ms(const disc_cache_headers *headers,
                                   int64_t now_s);

/* disc_freshness is the earliest expiry among responses, on a monotonic
 * clock in ms. The zero value means no response stated a lifetime. */
typedef struct {
    bool limited;
    int64_t expires_ms;
} disc_freshness;

/*
 * disc_freshness_add counts one response received at now_ms (monotonic)
 * and now_s (wall clock) into freshness: its expiry, when it states a
 * lifetime, becomes the expiry if it is earlier.
 */
void disc_freshness_add(disc_freshness *freshness,
                        const disc_cache_headers *headers, int64_t now_ms,
                        int64_t now_s);

/*
 * disc_freshness_ttl_ms returns how many ms from now_ms an entry built
 * from the responses counted in freshness may be reused: until the
 * earliest expiry, or default_ms when none stated a lifetime, and at most
 * max_ms. It is never below 0, and 0 means the entry must not be reused.
 */
int64_t disc_freshness_ttl_ms(const disc_freshness *freshness, int64_t now_ms,
                              int64_t default_ms, int64_t max_ms);

#endif
