/* cli_dial_test.c - the CLI's address check against real nng sockets. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* Leaves a socket file at path that nothing listens on, as a killed
 * service leaves its ipc:// address. */
static void
leave_stale_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    MR_CHECK(fd >= 0 && strlen(path) < sizeof(addr.sun_path));
    memcpy(addr.sun_path, path, strlen(path) + 1);
    unlink(path);
    MR_CHECK_INT(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    MR_CHECK_INT(listen(fd, 1), ==, 0);
    close(fd);
}

/* Returns whether a REP socket dialing url gets a request from sock, a
 * listening REQ socket, within two seconds. */
static bool
serves_worker(nng_socket sock, const char *url)
{
    nng_socket worker;
    nng_msg *msg = NULL;
    bool got;

    MR_CHECK_INT(nng_rep0_open(&worker), ==, 0);
    nng_socket_set_ms(worker, NNG_OPT_RECVTIMEO, 2000);
    nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 2000);
    MR_CHECK_INT(nng_dial(worker, url, NULL, NNG_FLAG_NONBLOCK), ==, 0);
    MR_CHECK_INT(nng_send(sock, "job", 4, 0), ==, 0);
    got = nng_recvmsg(worker, &msg, 0) == 0;
    nng_msg_free(msg);
    nng_close(worker);
    return got;
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

    ipc_url(url, sizeof(url), "jobs");
    MR_CHECK_INT(nng_req0_open(&jobs), ==, 0);
    MR_CHECK_INT(nng_listen(jobs, url, NULL, 0), ==, 0);
    for (int i = 0; i < CHECKS; i++) {
        MR_CHECK_INT(cli_check_address(url, 2000, reason, sizeof(reason)), ==,
                     CLI_ADDRESS_WRONG_PEER);
    }
    MR_CHECK(strstr(reason, "speaks another protocol") != NULL);
    MR_CHECK(serves_worker(jobs, url));
    nng_close(jobs);
    unlink(url + 6);
}

/* A listening REP socket passes. A socket file that nothing listens on
 * is refused, and a missing one is named missing. */
static void
test_rep_passes_stale_refused(void)
{
    char url[128];
    char reason[512] = "";
    nng_socket rep;

    ipc_url(url, sizeof(url), "rep");
    MR_CHECK_INT(nng_rep0_open(&rep), ==, 0);
    MR_CHECK_INT(nng_listen(rep, url, NULL, 0), ==, 0);
    MR_CHECK_INT(cli_check_address(url, 2000, reason, sizeof(reason)), ==,
                 CLI_ADDRESS_USABLE);
    nng_close(rep);

    leave_stale_socket(url + 6);
    MR_CHECK_INT(cli_check_address(url, 2000, reason, sizeof(reason)), ==,
                 CLI_ADDRESS_NOTHING_LISTENS);
    MR_CHECK(strstr(reason, "refused the connection") != NULL);

    unlink(url + 6);
    MR_CHECK_INT(cli_check_address(url, 2000, reason, sizeof(reason)), ==,
                 CLI_ADDRESS_NOTHING_LISTENS);
    MR_CHECK(strstr(reason, "is missing") != NULL);
}

static const mr_test_case cases[] = {
    {"jobs_listener_kept", test_jobs_listener_kept},
    {"rep_passes_stale_refused", test_rep_passes_stale_refused},
};

MR_TEST_MAIN(cases)
