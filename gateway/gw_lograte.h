/* gw_lograte.h - at most one log line per interval for a repeated event. */
#ifndef GW_LOGRATE_H
#define GW_LOGRATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* GW_LOGRATE_INTERVAL_MS is the interval the gateway uses: at most one
 * line per second for each repeated event. */
#define GW_LOGRATE_INTERVAL_MS 1000

/* GW_LOGRATE_KEYS is the number of keys a gw_lograte_table tracks apart;
 * events of further keys share one entry. */
#define GW_LOGRATE_KEYS 16

/*
 * gw_lograte is the state of one rate-limited log line: at most one line
 * per interval, and a count of the events whose lines were held back. It
 * has no lock, so the caller serialises the calls.
 */
typedef struct {
    int64_t interval_ms;
    int64_t last_ms; /* mr_mono_ms time of the last line */
    bool logged;     /* false until the first line */
    uint64_t held;   /* events since the last line */
} gw_lograte;

/* gw_lograte_init sets up rate for at most one line per interval_ms. */
void gw_lograte_init(gw_lograte *rate, int64_t interval_ms);

/*
 * gw_lograte_event counts one event at now_ms (mr_mono_ms). It returns the
 * number of events that the caller's line reports, this one and those held
 * back since the last line, or 0 when the line must be left out.
 */
uint64_t gw_lograte_event(gw_lograte *rate, int64_t now_ms);

/*
 * gw_lograte_flush returns the number of events held back when a line is
 * allowed at now_ms, and counts that line. It returns 0 when no event is
 * held or the interval has not passed. Calling it periodically reports the
 * last events of a burst.
 */
uint64_t gw_lograte_flush(gw_lograte *rate, int64_t now_ms);

/*
 * gw_lograte_table is one gw_lograte per key, such as the format string of
 * a library's messages, behind a mutex. Keys are compared as pointers, so
 * each must be a string that lives as long as the table.
 */
typedef struct {
    pthread_mutex_t lock;
    size_t count;
    const char *keys[GW_LOGRATE_KEYS];
    gw_lograte rates[GW_LOGRATE_KEYS];
    gw_lograte shared; /* events of keys past GW_LOGRATE_KEYS */
} gw_lograte_table;

/* gw_lograte_table_init sets up an empty table whose lines are at most one
 * per interval_ms for each key. */
void gw_lograte_table_init(gw_lograte_table *table, int64_t interval_ms);

/* gw_lograte_table_destroy releases the mutex of table. */
void gw_lograte_table_destroy(gw_lograte_table *table);

/* gw_lograte_table_event is gw_lograte_event on the entry of key. */
uint64_t gw_lograte_table_event(gw_lograte_table *table, const char *key,
                                int64_t now_ms);

#endif
