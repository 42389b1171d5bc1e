/* gw_lograte.c - at most one log line per interval for a repeated event. */
#include "gw_lograte.h"

void
gw_lograte_init(gw_lograte *rate, int64_t interval_ms)
{
    rate->interval_ms = interval_ms;
    rate->last_ms = 0;
    rate->logged = false;
    rate->held = 0;
}

/* Returns whether a line is allowed at now_ms, and if so counts it. */
static bool
take_line(gw_lograte *rate, int64_t now_ms)
{
    if (rate->logged && now_ms - rate->last_ms < rate->interval_ms) {
        return false;
    }
    rate->logged = true;
    rate->last_ms = now_ms;
    return true;
}

uint64_t
gw_lograte_flush(gw_lograte *rate, int64_t now_ms)
{
    uint64_t events;

    if (rate->held == 0 || !take_line(rate, now_ms)) {
        return 0;
    }
    events = rate->held;
    rate->held = 0;
    return events;
}

uint64_t
gw_lograte_event(gw_lograte *rate, int64_t now_ms)
{
    rate->held++;
    return gw_lograte_flush(rate, now_ms);
}

void
gw_lograte_table_init(gw_lograte_table *table, int64_t interval_ms)
{
    pthread_mutex_init(&table->lock, NULL);
    table->count = 0;
    for (size_t i = 0; i < GW_LOGRATE_KEYS; i++) {
        table->keys[i] = NULL;
        gw_lograte_init(&table->rates[i], interval_ms);
    }
    gw_lograte_init(&table->shared, interval_ms);
}

void
gw_lograte_table_destroy(gw_lograte_table *table)
{
    pthread_mutex_destroy(&table->lock);
}

/* Returns the entry of key, adding it while there is room; the lock is
 * held. */
static gw_lograte *
find_rate(gw_lograte_table *table, const char *key)
{
    for (size_t i = 0; i < table->count; i++) {
        if (table->keys[i] == key) {
            return &table->rates[i];
        }
    }
    if (table->count == GW_LOGRATE_KEYS) {
        return &table->shared;
    }
    table->keys[table->count] = key;
    return &table->rates[table->count++];
}

uint64_t
gw_lograte_table_event(gw_lograte_table *table, const char *key,
                       int64_t now_ms)
{
    uint64_t events;

    pthread_mutex_lock(&table->lock);
    events = gw_lograte_event(find_rate(table, key), now_ms);
    pthread_mutex_unlock(&table->lock);
    return events;
}
