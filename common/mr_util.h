/* mr_util.h - ids, clocks, hashing, printable copies of text and signals
 * shared by every process. */
#ifndef MR_UTIL_H
#define MR_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mr_err.h"

/* MR_UUID_LEN is the length of a canonical UUID string, without the NUL. */
#define MR_UUID_LEN 36

/* MR_SHA256_LEN is the size of a SHA-256 digest in bytes. */
#define MR_SHA256_LEN 32

/*
 * mr_util_init initialises libsodium, which the ids and hashes use. Call
 * it once at start-up; it returns MR_EINTERNAL when libsodium fails.
 */
mr_err mr_util_init(void);

/* mr_uuid_v4 writes a random version 4 UUID, lower case, into out. */
void mr_uuid_v4(char out[MR_UUID_LEN + 1]);

/*
 * mr_uuid_canonical checks that text is a UUID in the 8-4-4-4-12 hex form,
 * in either case, and writes its lower-case form into out. It returns true
 * when text is valid; out is then usable.
 */
bool mr_uuid_canonical(const char *text, char out[MR_UUID_LEN + 1]);

/* mr_copy copies src into the size bytes at dst, cut to size - 1 bytes
 * and terminated, as snprintf with "%s" does, without its formatting cost.
 * size must not be 0. It returns dst. */
char *mr_copy(char *dst, size_t size, const char *src);

/* mr_sha256 writes the SHA-256 digest of data into out. */
void mr_sha256(const void *data, size_t len, uint8_t out[MR_SHA256_LEN]);

/* mr_equal_ct compares two buffers in time independent of their content. */
bool mr_equal_ct(const void *a, const void *b, size_t len);

/* mr_random_token writes nbytes of random data as base64url into out,
 * which must hold 4 * nbytes / 3 + 2 bytes. */
void mr_random_token(size_t nbytes, char *out, size_t outlen);

/* mr_now_ms returns the wall-clock time in Unix milliseconds. */
int64_t mr_now_ms(void);

/* mr_mono_ms returns a monotonic clock in milliseconds, for deadlines. */
int64_t mr_mono_ms(void);

/* mr_mono_timespec returns the instant mono_ms of mr_mono_ms's clock as an
 * absolute time of CLOCK_MONOTONIC, for pthread_cond_timedwait on a
 * condition variable that uses that clock. */
struct timespec mr_mono_timespec(int64_t mono_ms);

/* mr_cond_init_mono initializes cond to time its waits on mr_mono_ms's
 * clock, so that steps of the wall clock neither stretch nor cut them. */
void mr_cond_init_mono(pthread_cond_t *cond);

/* mr_format_time writes ms (Unix milliseconds) as RFC 3339 UTC with
 * milliseconds, such as "2026-12-04T15:38:21.123Z", into out. */
void mr_format_time(int64_t ms, char out[32]);

/*
 * mr_sanitize copies text into out for an error message: bytes outside
 * printable ASCII become '?', and text that does not fit in outlen - 1
 * bytes is cut and ends in "...". outlen must be at least 4.
 */
void mr_sanitize(char *out, size_t outlen, const char *text);

/*
 * mr_signals_block blocks SIGINT, SIGTERM and SIGPIPE in the calling thread
 * and the threads it creates later. Call it first in main.
 */
void mr_signals_block(void);

/* mr_signals_wait waits for SIGINT or SIGTERM and returns its number. */
int mr_signals_wait(void);

#endif
