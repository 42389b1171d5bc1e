/* cli_dial_test.c - the CLI's address check against real nng sockets. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "cli.h"
#include "mr_test.h"

/* CHECKS is how many checks hit a listener in a row. When the CLI closed
 * connections before nng's handshake, 40 of them broke nng 1.5.2's ipc
 * listener in three of five runs. */
#define CHECKS 40

/* Writes an ipc:// URL under /tmp, unique to this process and name. */
static void
ipc_url(char *url, size_t len, const char *name)
{
    snprintf(url, len, "ipc:///tmp/cli_dial_test.%ld.%s", (long)getpid(),
             name);
}

/* Returns a Unix socket listening at path. */
static int
listen_unix(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    MR_CHECK(fd >= 0 && strlen(path) < sizeof(addr.sun_path));
    memcpy(addr.sun_path, path, strlen(path) + 1);
    unlink(path);
    MR_CHECK_INT(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    MR_CHECK_INT(listen(fd, 1), ==, 0);
    return fd;
}

/* Leaves a socket file at path that nothing listens on, as a killed
 * service leaves its ipc:// address. */
static void
leave_stale_socket(const char *path)
{
    close(listen_unix(path));
}

/* Returns whether a message sent by from reaches to within two seconds. */
static bool
delivers(nng_socket from, nng_socket to)
{
    char buf[8];
    size_t len = sizeof(buf);

    nng_socket_set_ms(from, NNG_OPT_SENDTIMEO, 2000);
    nng_socket_set_ms(to, NNG_OPT_RECVTIMEO, 2000);
    MR_CHECK_INT(nng_send(from, "ping", 5, 0), ==, 0);
    return nng_recv(to, buf, &len, 0) == 0 && len == 5;
}

/* Opens a socket of the given protocol, listening on url or dialing it. */
static nng_socket
open_socket(int (*open)(nng_socket *), const char *url, bool listen)
{
    nng_socket sock;

    MR_CHECK_INT(open(&sock), ==, 0);
    if (listen) {
        MR_CHECK_INT(nng_listen(sock, url, NULL, 0), ==, 0);
    } else {
        MR_CHECK_INT(nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK), ==, 0);
    }
    return sock;
}

/* The jobs address is a listening REQ socket. Each check names it the
 * wrong peer and closes only after nng's handshake, so a worker that
 * dials next still gets its jobs. */
static void
test_jobs_listener_kept(void)
{
    char url[128];
    char reason[512];
    nng_socket jobs;
    nng_socket worker;

    ipc_url(url, sizeof(url), "jobs");
    jobs = open_socket(nng_req0_open, url, true);
    for (int i = 0; i < CHECKS; i++) {
        MR_CHECK_INT(cli_check_address(url, 2000, reason, sizeof(reason)), ==,
                     CLI_ADDRESS_WRONG_PEER);
    }
    MR_CHECK(strstr(reason, "speaks another protocol") != NULL);

    worker = open_socket(nng_rep0_open, url, false);
    MR_CHECK(delivers(jobs, worker));
    nng_close(worker);
    nng_close(jobs);
    unlink(url + 6);
}

/* With no time left, the check times out before the peer's header comes,
 * but waits for it before closing. So the listener is never left with a
 * connection closed in the middle of the handshake. */
static void
test_late_header_awaited(void)
{
    char url[128];
    char reason[512];
    nng_socket rep;
    nng_socket client;

    ipc_url(url, sizeof(url), "late");
    rep = open_socket(nng_rep0_open, url, true);
    for (int i = 0; i < CHECKS; i++) {
        cli_address address =
            cli_check_address(url, 0, reason, sizeof(reason));

        MR_CHECK(address == CLI_ADDRESS_SILENT ||
                 address == CLI_ADDRESS_USABLE);
    }

    client = open_socket(nng_req0_open, url, false);
    MR_CHECK(delivers(client, rep));
    nng_close(client);
    nng_close(rep);
    unlink(url + 6);
}

/* Returns the value of listener's statistic name, or -1 when nng keeps
 * none. */
static long
listener_stat(nng_listener listener, const char *name)
{
    nng_stat *snapshot = NULL;
    nng_stat *stat;
    long value = -1;

    if (nng_stats_get(&snapshot) != 0) {
        return -1;
    }

    stat = nng_stat_find(nng_stat_find_listener(snapshot, listener), name);
    if (stat != NULL) {
        value = (long)nng_stat_value(stat);
    }
    nng_stats_free(snapshot);
    return value;
}

/* Closes sock once listener has accepted a connection and closed it.
 * Closing it sooner can block nng 1.5.2's reaper, which then never frees
 * the listener (docs/KNOWN_ISSUES.md). */
static void
close_when_idle(nng_socket sock, nng_listener listener)
{
    for (int waited_ms = 0; waited_ms < 2000; waited_ms += 10) {
        if (listener_stat(listener, "accept") >= 1 &&
            listener_stat(listener, "pipes") == 0) {
            break;
        }
        nng_msleep(10);
    }
    nng_close(sock);
}

/* A listening REP socket passes. A socket file that nothing listens on
 * is refused, and a missing one is named missing. */
static void
test_rep_passes_stale_refused(void)
{
    char url[128];
    char reason[512] = "";
    nng_socket rep;
    nng_listener listener;

    ipc_url(url, sizeof(url), "rep");
    MR_CHECK_INT(nng_rep0_open(&rep), ==, 0);
    MR_CHECK_INT(nng_listen(rep, url, &listener, 0), ==, 0);
    MR_CHECK_INT(cli_check_address(url, 2000, reason, sizeof(reason)), ==,
                 CLI_ADDRESS_USABLE);
    close_when_idle(rep, listener);

    leave_stale_socket(url + 6);
    MR_CHECK_INT(cli_check_address(url, 2000, reason, sizeof(reason)), ==,
                 CLI_ADDRESS_NOTHING_LISTENS);
    MR_CHECK(strstr(reason, "refused the connection") != NULL);

    unlink(url + 6);
    MR_CHECK_INT(cli_check_address(url, 2000, reason, sizeof(reason)), ==,
                 CLI_ADDRESS_NOTHING_LISTENS);
    MR_CHECK(strstr(reason, "is missing") != NULL);
}

/* Returns whether the connection fd is still open, without reading. */
static bool
still_open(int fd)
{
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Runs the check in a child process, sends it sig while it waits for a
 * late REP header from this process, and returns whether the connection
 * stayed open until the header was sent. The child must then die of
 * sig. */
static bool
header_outlives(int sig)
{
    const uint8_t rep_header[8] = {0, 'S', 'P', 0, 0, 0x31, 0, 0};
    uint8_t header[8];
    char url[128];
    char reason[512];
    bool open;
    int listener;
    int conn;
    int status;
    pid_t child;

    ipc_url(url, sizeof(url), "signal");
    listener = listen_unix(url + 6);
    child = fork();
    MR_CHECK(child >= 0);
    if (child == 0) {
        signal(sig, SIG_DFL);
        cli_check_address(url, 2000, reason, sizeof(reason));
        _exit(0);
    }

    conn = accept(listener, NULL, NULL);
    MR_CHECK(conn >= 0);
    MR_CHECK_INT(recv(conn, header, sizeof(header), MSG_WAITALL), ==, 8);
    kill(child, sig);
    usleep(300 * 1000);
    open = still_open(conn);
    send(conn, rep_header, sizeof(rep_header), MSG_NOSIGNAL);

    MR_CHECK_INT(waitpid(child, &status, 0), ==, child);
    MR_CHECK(WIFSIGNALED(status));
    MR_CHECK_INT(WTERMSIG(status), ==, sig);
    close(conn);
    close(listener);
    unlink(url + 6);
    return open;
}

/* A signal that ends a process by default, and that comes while the check
 * waits for a late REP header, ends it only after the header. So the
 * connection never closes in the middle of the handshake. */
static void
test_signal_waits_for_header(void)
{
    const int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR1};

    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
        MR_CHECK_INT(header_outlives(signals[i]), ==, true);
    }
}

static const mr_test_case cases[] = {
    {"jobs_listener_kept", test_jobs_listener_kept},
    {"rep_passes_stale_refused", test_rep_passes_stale_refused},
    {"late_header_awaited", test_late_header_awaited},
    {"signal_waits_for_header", test_signal_waits_for_header},
};

MR_TEST_MAIN(cases)
