/* gw_watchdog_test.c - read deadlines on socket pairs. The watchdog
 * shuts down one end, and a read on the other end returns end-of-file. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_watchdog.h"
#include "mr_log.h"
#include "mr_test.h"
#include "mr_util.h"

/* A connected pair: the watchdog watches ends[0], the test reads
 * ends[1]. */
static void
open_pair(int ends[2])
{
    MR_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, ends), ==, 0);
}

static void
close_pair(const int ends[2])
{
    close(ends[0]);
    close(ends[1]);
}

/* Returns whether the peer of ends[1] was shut down: a read without
 * waiting returns end-of-file (0) instead of failing with EAGAIN. */
static bool
peer_shut_down(const int ends[2])
{
    char byte;

    return recv(ends[1], &byte, 1, MSG_DONTWAIT) == 0;
}

static void
expired_deadline_shuts_down(void)
{
    gw_watchdog *watchdog = NULL;
    int ends[2];
    gw_watch *watch;
    int64_t after;

    open_pair(ends);
    MR_CHECK_INT(gw_watchdog_start(1000, 0, &watchdog), ==, MR_OK);
    watch = gw_watchdog_add(watchdog, ends[0], "127.0.0.1:1");
    after = mr_mono_ms();
    MR_CHECK(watch != NULL);
    MR_CHECK(!peer_shut_down(ends));

    MR_CHECK_INT(gw_watchdog_sweep(watchdog, after + 1000), ==, 1);
    MR_CHECK(peer_shut_down(ends));

    gw_watchdog_remove(watch);
    gw_watchdog_stop(watchdog);
    close_pair(ends);
}

static void
deadline_not_reached_kept(void)
{
    gw_watchdog *watchdog = NULL;
    int ends[2];
    gw_watch *watch;
    int64_t before;

    open_pair(ends);
    MR_CHECK_INT(gw_watchdog_start(1000, 0, &watchdog), ==, MR_OK);
    before = mr_mono_ms();
    watch = gw_watchdog_add(watchdog, ends[0], "127.0.0.1:1");

    /* The deadline is at least before + 1000. */
    MR_CHECK_INT(gw_watchdog_sweep(watchdog, before + 999), ==, 0);
    MR_CHECK(!peer_shut_down(ends));

    gw_watchdog_remove(watch);
    gw_watchdog_stop(watchdog);
    close_pair(ends);
}

static void
disarmed_connection_kept(void)
{
    gw_watchdog *watchdog = NULL;
    int ends[2];
    gw_watch *watch;

    open_pair(ends);
    MR_CHECK_INT(gw_watchdog_start(1000, 0, &watchdog), ==, MR_OK);
    watch = gw_watchdog_add(watchdog, ends[0], "127.0.0.1:1");
    gw_watchdog_disarm(watch);

    MR_CHECK_INT(gw_watchdog_sweep(watchdog, mr_mono_ms() + 10 * 1000), ==, 0);
    MR_CHECK(!peer_shut_down(ends));

    gw_watchdog_remove(watch);
    gw_watchdog_stop(watchdog);
    close_pair(ends);
}

static void
rearm_counts_from_now(void)
{
    gw_watchdog *watchdog = NULL;
    int ends[2];
    gw_watch *watch;
    int64_t before;
    int64_t after;

    open_pair(ends);
    MR_CHECK_INT(gw_watchdog_start(1000, 0, &watchdog), ==, MR_OK);
    watch = gw_watchdog_add(watchdog, ends[0], "127.0.0.1:1");
    gw_watchdog_disarm(watch);

    /* 20 ms later, so the first deadline is before the rearmed one. */
    usleep(20 * 1000);
    before = mr_mono_ms();
    gw_watchdog_rearm(watch);
    after = mr_mono_ms();

    MR_CHECK_INT(gw_watchdog_sweep(watchdog, before + 999), ==, 0);
    MR_CHECK(!peer_shut_down(ends));
    MR_CHECK_INT(gw_watchdog_sweep(watchdog, after + 1000), ==, 1);
    MR_CHECK(peer_shut_down(ends));

    gw_watchdog_remove(watch);
    gw_watchdog_stop(watchdog);
    close_pair(ends);
}

static void
cut_connection_cut_once(void)
{
    gw_watchdog *watchdog = NULL;
    int ends[2];
    gw_watch *watch;
    int64_t later;

    open_pair(ends);
    MR_CHECK_INT(gw_watchdog_start(1000, 0, &watchdog), ==, MR_OK);
    watch = gw_watchdog_add(watchdog, ends[0], "127.0.0.1:1");
    later = mr_mono_ms() + 2000;

    MR_CHECK_INT(gw_watchdog_sweep(watchdog, later), ==, 1);
    MR_CHECK_INT(gw_watchdog_sweep(watchdog, later + 1000), ==, 0);

    gw_watchdog_remove(watch);
    gw_watchdog_stop(watchdog);
    close_pair(ends);
}

/* A removed entry is never touched again, even past its deadline. */
static void
removed_connection_not_touched(void)
{
    gw_watchdog *watchdog = NULL;
    int kept[2];
    int removed[2];
    gw_watch *kept_watch;
    gw_watch *removed_watch;

    open_pair(kept);
    open_pair(removed);
    MR_CHECK_INT(gw_watchdog_start(1000, 0, &watchdog), ==, MR_OK);
    kept_watch = gw_watchdog_add(watchdog, kept[0], "127.0.0.1:1");
    removed_watch = gw_watchdog_add(watchdog, removed[0], "127.0.0.1:2");
    gw_watchdog_remove(removed_watch);

    MR_CHECK_INT(gw_watchdog_sweep(watchdog, mr_mono_ms() + 2000), ==, 1);
    MR_CHECK(peer_shut_down(kept));
    MR_CHECK(!peer_shut_down(removed));

    gw_watchdog_remove(kept_watch);
    gw_watchdog_stop(watchdog);
    close_pair(kept);
    close_pair(removed);
}

/* Only the expired one of several entries is cut, wherever it sits in
 * the table. */
static void
only_expired_entry_cut(void)
{
    gw_watchdog *watchdog = NULL;
    int ends[3][2];
    gw_watch *watches[3];

    MR_CHECK_INT(gw_watchdog_start(1000, 0, &watchdog), ==, MR_OK);
    for (int i = 0; i < 3; i++) {
        open_pair(ends[i]);
        watches[i] = gw_watchdog_add(watchdog, ends[i][0], "127.0.0.1:1");
    }
    gw_watchdog_disarm(watches[0]);
    gw_watchdog_disarm(watches[2]);

    MR_CHECK_INT(gw_watchdog_sweep(watchdog, mr_mono_ms() + 2000), ==, 1);
    MR_CHECK(!peer_shut_down(ends[0]));
    MR_CHECK(peer_shut_down(ends[1]));
    MR_CHECK(!peer_shut_down(ends[2]));

    for (int i = 0; i < 3; i++) {
        gw_watchdog_remove(watches[i]);
        close_pair(ends[i]);
    }
    gw_watchdog_stop(watchdog);
}

/* The thread cuts a connection after the timeout, within a bound. */
static void
thread_cuts_after_timeout(void)
{
    gw_watchdog *watchdog = NULL;
    int ends[2];
    struct pollfd pfd;
    gw_watch *watch;
    int64_t start;
    int64_t elapsed;

    open_pair(ends);
    MR_CHECK_INT(gw_watchdog_start(200, 20, &watchdog), ==, MR_OK);
    start = mr_mono_ms();
    watch = gw_watchdog_add(watchdog, ends[0], "127.0.0.1:1");

    pfd.fd = ends[1];
    pfd.events = POLLIN;
    MR_CHECK_INT(poll(&pfd, 1, 5000), ==, 1);
    elapsed = mr_mono_ms() - start;
    MR_CHECK(peer_shut_down(ends));
    MR_CHECK_INT(elapsed, >=, 200);
    MR_CHECK_INT(elapsed, <, 5000);

    gw_watchdog_remove(watch);
    gw_watchdog_stop(watchdog);
    close_pair(ends);
}

/* Stopping with entries left frees them and leaves their sockets open. */
static void
stop_leaves_sockets_open(void)
{
    gw_watchdog *watchdog = NULL;
    int ends[2];

    open_pair(ends);
    MR_CHECK_INT(gw_watchdog_start(1000, 20, &watchdog), ==, MR_OK);
    MR_CHECK(gw_watchdog_add(watchdog, ends[0], "127.0.0.1:1") != NULL);
    gw_watchdog_stop(watchdog);

    MR_CHECK(!peer_shut_down(ends));
    MR_CHECK_INT(errno, ==, EAGAIN);
    close_pair(ends);
}

/* Returns the number of "gw.conn.read_timeout" lines in the log file fd
 * from offset on, and of those with needle. */
static int
count_cut_lines(int fd, off_t offset, const char *needle, int *with_needle)
{
    char text[8192];
    ssize_t len = pread(fd, text, sizeof(text) - 1, offset);
    int count = 0;

    *with_needle = 0;
    text[len > 0 ? len : 0] = '\0';
    for (char *line = strtok(text, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        if (strstr(line, "\"gw.conn.read_timeout\"") != NULL) {
            count++;
            *with_needle += strstr(line, needle) != NULL;
        }
    }
    return count;
}

/* Three cuts in one sweep make one line at once; the two held back are
 * reported by the first sweep after the interval. */
static void
cut_lines_rate_limited(void)
{
    char path[] = "/tmp/gw_watchdog_test.XXXXXX";
    int fd = mkstemp(path);
    gw_watchdog *watchdog = NULL;
    int ends[3][2];
    gw_watch *watches[3];
    int64_t later;
    int with;

    MR_CHECK(fd >= 0);
    unlink(path);
    mr_log_init("gateway-test", MR_LOG_INFO, fd);
    MR_CHECK_INT(gw_watchdog_start(1000, 0, &watchdog), ==, MR_OK);
    for (int i = 0; i < 3; i++) {
        open_pair(ends[i]);
        watches[i] = gw_watchdog_add(watchdog, ends[i][0], "127.0.0.1:1");
    }
    later = mr_mono_ms() + 2000;

    MR_CHECK_INT(gw_watchdog_sweep(watchdog, later), ==, 3);
    MR_CHECK_INT(count_cut_lines(fd, 0, "\"cuts\":1,", &with), ==, 1);
    MR_CHECK_INT(with, ==, 1);

    MR_CHECK_INT(gw_watchdog_sweep(watchdog, later + 999), ==, 0);
    MR_CHECK_INT(count_cut_lines(fd, 0, "\"cuts\":2,", &with), ==, 1);

    MR_CHECK_INT(gw_watchdog_sweep(watchdog, later + 1000), ==, 0);
    MR_CHECK_INT(count_cut_lines(fd, 0, "\"cuts\":2,", &with), ==, 2);
    MR_CHECK_INT(with, ==, 1);

    for (int i = 0; i < 3; i++) {
        gw_watchdog_remove(watches[i]);
        close_pair(ends[i]);
    }
    gw_watchdog_stop(watchdog);
    mr_log_init("gateway-test", MR_LOG_INFO, 2);
    close(fd);
}

static const mr_test_case cases[] = {
    {"expired_deadline_shuts_down", expired_deadline_shuts_down},
    {"deadline_not_reached_kept", deadline_not_reached_kept},
    {"disarmed_connection_kept", disarmed_connection_kept},
    {"rearm_counts_from_now", rearm_counts_from_now},
    {"cut_connection_cut_once", cut_connection_cut_once},
    {"removed_connection_not_touched", removed_connection_not_touched},
    {"only_expired_entry_cut", only_expired_entry_cut},
    {"thread_cuts_after_timeout", thread_cuts_after_timeout},
    {"stop_leaves_sockets_open", stop_leaves_sockets_open},
    {"cut_lines_rate_limited", cut_lines_rate_limited},
};

MR_TEST_MAIN(cases)
