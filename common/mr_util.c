/* mr_util.c - ids, clocks, hashing, printable copies of text and signals. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "mr_util.h"

mr_err
mr_util_init(void)
{
    if (sodium_init() < 0) {
        return MR_EINTERNAL;
    }
    return MR_OK;
}

/* RANDOM_POOL_BYTES is how much randomness one getrandom(2) call fetches
 * for UUIDs. One call per request id was a visible cost of the repeat
 * call. */
#define RANDOM_POOL_BYTES 4096

/* take_random copies n bytes from this thread's pool, refilled from the
 * operating system's generator when it runs out. */
static void
take_random(uint8_t *out, size_t n)
{
    static _Thread_local uint8_t pool[RANDOM_POOL_BYTES];
    static _Thread_local size_t used = RANDOM_POOL_BYTES;

    if (used + n > sizeof(pool)) {
        randombytes_buf(pool, sizeof(pool));
        used = 0;
    }
    memcpy(out, pool + used, n);
    sodium_memzero(pool + used, n);
    used += n;
}

char *
mr_copy(char *dst, size_t size, const char *src)
{
    size_t len = strnlen(src, size - 1);

    memcpy(dst, src, len);
    dst[len] = '\0';
    return dst;
}

void
mr_uuid_v4(char out[MR_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];

    take_random(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 9562 variant */

    /* Hex digits by hand: each request id comes from here. */
    for (int i = 0, at = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[at++] = '-';
        }
        out[at++] = hex[b[i] >> 4];
        out[at++] = hex[b[i] & 0x0f];
    }
    out[MR_UUID_LEN] = '\0';
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool
mr_uuid_canonical(const char *text, char out[MR_UUID_LEN + 1])
{
    if (text == NULL || strlen(text) != MR_UUID_LEN) {
        return false;
    }

    for (int i = 0; i < MR_UUID_LEN; i++) {
        char c = text[i];
        bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash_position ? c != '-' : hex_value(c) < 0) {
            return false;
        }
        out[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    }
    out[MR_UUID_LEN] = '\0';
    return true;
}

void
mr_sha256(const void *data, size_t len, uint8_t out[MR_SHA256_LEN])
{
    crypto_hash_sha256(out, data, len);
}

bool
mr_equal_ct(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

void
mr_random_token(size_t nbytes, char *out, size_t outlen)
{
    uint8_t buf[64];

    if (nbytes > sizeof(buf)) {
        nbytes = sizeof(buf);
    }
    randombytes_buf(buf, nbytes);
    sodium_bin2base64(out, outlen, buf, nbytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(buf, sizeof(buf));
}

int64_t
mr_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mr_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec
mr_mono_timespec(int64_t mono_ms)
{
    struct timespec ts = {
        .tv_sec = (time_t)(mono_ms / 1000),
        .tv_nsec = (long)(mono_ms % 1000) * 1000000L,
    };

    return ts;
}

void
mr_cond_init_mono(pthread_cond_t *cond)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

void
mr_format_time(int64_t ms, char out[32])
{
    /* Each log line formats the time; the date and seconds change once a
     * second, so each thread keeps them. */
    static _Thread_local int64_t cached_secs = -1;
    static _Thread_local char date[24];
    int64_t secs = ms / 1000;
    int milli = (int)(ms % 1000);

    if (secs != cached_secs) {
        time_t t = (time_t)secs;
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_secs = secs;
    }
    memcpy(out, date, 19);
    out[19] = '.';
    out[20] = (char)('0' + milli / 100);
    out[21] = (char)('0' + milli / 10 % 10);
    out[22] = (char)('0' + milli % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

static void
term_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void
mr_signals_block(void)
{
    sigset_t set;

    term_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
mr_signals_wait(void)
{
    sigset_t set;
    int sig = 0;

    term_set(&set);
    while (sigwait(&set, &sig) != 0) {
    }
    return sig;
}

void
mr_sanitize(char *out, size_t outlen, const char *text)
{
    size_t n = 0;

    for (; text[n] != '\0' && n < outlen - 1; n++) {
        unsigned char c = (unsigned char)text[n];

        out[n] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
    }
    out[n] = '\0';

    if (text[n] != '\0') {
        memcpy(out + n - 3, "...", 3);
    }
}
