/* gw_lograte_test.c - at most one log line per interval, with the count of
 * the events held back. */
#include "gw_lograte.h"
#include "mr_test.h"

static void
first_event_logged_at_once(void)
{
    gw_lograte rate;

    gw_lograte_init(&rate, 1000);
    MR_CHECK_INT(gw_lograte_event(&rate, 5000), ==, 1);
    MR_CHECK_INT(gw_lograte_flush(&rate, 5000), ==, 0);
}

static void
burst_held_then_counted(void)
{
    gw_lograte rate;

    gw_lograte_init(&rate, 1000);
    MR_CHECK_INT(gw_lograte_event(&rate, 0), ==, 1);
    MR_CHECK_INT(gw_lograte_event(&rate, 10), ==, 0);
    MR_CHECK_INT(gw_lograte_event(&rate, 999), ==, 0);

    /* The next event after the interval reports the two held back. */
    MR_CHECK_INT(gw_lograte_event(&rate, 1000), ==, 3);
    MR_CHECK_INT(gw_lograte_event(&rate, 1500), ==, 0);
}

static void
flush_reports_held_after_interval(void)
{
    gw_lograte rate;

    gw_lograte_init(&rate, 1000);
    MR_CHECK_INT(gw_lograte_event(&rate, 0), ==, 1);
    MR_CHECK_INT(gw_lograte_event(&rate, 100), ==, 0);
    MR_CHECK_INT(gw_lograte_event(&rate, 200), ==, 0);

    MR_CHECK_INT(gw_lograte_flush(&rate, 999), ==, 0);
    MR_CHECK_INT(gw_lograte_flush(&rate, 1000), ==, 2);

    /* The flush counts as a line: nothing is held, and the next event
     * waits for the interval again. */
    MR_CHECK_INT(gw_lograte_flush(&rate, 5000), ==, 0);
    MR_CHECK_INT(gw_lograte_event(&rate, 1200), ==, 0);
    MR_CHECK_INT(gw_lograte_event(&rate, 2000), ==, 2);
}

static void
table_limits_each_key(void)
{
    static const char *const keys[GW_LOGRATE_KEYS + 2] = {
        "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8",
        "k9", "ka", "kb", "kc", "kd", "ke", "kf", "kg", "kh",
    };
    gw_lograte_table table;

    gw_lograte_table_init(&table, 1000);
    MR_CHECK_INT(gw_lograte_table_event(&table, keys[0], 0), ==, 1);
    MR_CHECK_INT(gw_lograte_table_event(&table, keys[1], 0), ==, 1);
    MR_CHECK_INT(gw_lograte_table_event(&table, keys[0], 10), ==, 0);
    MR_CHECK_INT(gw_lograte_table_event(&table, keys[1], 10), ==, 0);
    MR_CHECK_INT(gw_lograte_table_event(&table, keys[0], 1000), ==, 2);

    /* Keys past the table's size share one limit. */
    for (int i = 2; i < GW_LOGRATE_KEYS; i++) {
        MR_CHECK_INT(gw_lograte_table_event(&table, keys[i], 0), ==, 1);
    }
    MR_CHECK_INT(gw_lograte_table_event(&table, keys[GW_LOGRATE_KEYS], 0), ==,
                 1);
    MR_CHECK_INT(gw_lograte_table_event(&table, keys[GW_LOGRATE_KEYS + 1], 0),
                 ==, 0);
    gw_lograte_table_destroy(&table);
}

static const mr_test_case cases[] = {
    {"first_event_logged_at_once", first_event_logged_at_once},
    {"burst_held_then_counted", burst_held_then_counted},
    {"flush_reports_held_after_interval", flush_reports_held_after_interval},
    {"table_limits_each_key", table_limits_each_key},
};

MR_TEST_MAIN(cases)
