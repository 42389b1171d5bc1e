/* cli_dial.c - a check, before nng dials, that separates a stopped
 * service, a wrong peer and a paused service. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "mr_rpc.h"
#include "mr_util.h"

/* HOST_MAX bounds the host part of a tcp:// URL. */
#define HOST_MAX 256

/* Connects fd to addr, waiting up to timeout_ms. Returns 0 or an errno
 * value, ETIMEDOUT when the wait ran out. */
static int
connect_within(int fd, const struct sockaddr *addr, socklen_t len,
               int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int error = 0;
    socklen_t error_len = sizeof(error);
    int ready;

    if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        return errno;
    }
    if (connect(fd, addr, len) == 0) {
        return 0;
    }
    if (errno != EINPROGRESS) {
        return errno;
    }

    ready = poll(&pfd, 1, timeout_ms);
    if (ready <= 0) {
        return ready == 0 ? ETIMEDOUT : errno;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0) {
        return errno;
    }
    return error;
}

void
cli_hold_signals(sigset_t *old)
{
    /* Signals of a fault must not be blocked, and stopping the process
     * closes nothing. SIGKILL and SIGSTOP cannot be blocked. */
    static const int unblocked[] = {
        SIGSEGV, SIGBUS,  SIGFPE,  SIGILL,  SIGTRAP, SIGABRT, SIGSYS,
        SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT, SIGCHLD, SIGWINCH};
    sigset_t signals;

    sigfillset(&signals);
    for (size_t i = 0; i < sizeof(unblocked) / sizeof(unblocked[0]); i++) {
        sigdelset(&signals, unblocked[i]);
    }
    pthread_sigmask(SIG_BLOCK, &signals, old);
}

void
cli_release_signals(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* SP_HEADER_LEN is the size of the header that each side of an nng
 * connection sends first: 0, 'S', 'P', 0, the sender's protocol (16 bits,
 * big endian) and two zero bytes. */
#define SP_HEADER_LEN 8
#define SP_PROTO_REQ  0x30
#define SP_PROTO_REP  0x31

/* HANDSHAKE_LINGER_MS is how much longer than its deadline the check
 * waits for a peer's header before it closes the connection. */
#define HANDSHAKE_LINGER_MS 1000

/* Returns the milliseconds from now to deadline (mr_mono_ms), at least 0
 * and at most INT_MAX. */
static int
ms_until(int64_t deadline)
{
    int64_t left = deadline - mr_mono_ms();

    if (left <= 0) {
        return 0;
    }
    return left < INT_MAX ? (int)left : INT_MAX;
}

/* Reads from fd, non-blocking, into buf until *got of len bytes are in
 * or deadline passes. Returns 0, ETIMEDOUT, ECONNRESET when the peer
 * closed first, or an errno value. */
static int
read_within(int fd, uint8_t *buf, size_t len, size_t *got, int64_t deadline)
{
    while (*got < len) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, ms_until(deadline));
        ssize_t n;

        if (ready == 0) {
            return ETIMEDOUT;
        }
        if (ready < 0 && errno != EINTR) {
            return errno;
        }

        n = read(fd, buf + *got, len - *got);
        if (n == 0) {
            return ECONNRESET;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return errno;
        }
        *got += n > 0 ? (size_t)n : 0;
    }
    return 0;
}

/*
 * Exchanges nng's connection headers on fd, connected and non-blocking,
 * as a REQ socket, and waits until deadline for the peer's. Returns 0 for
 * a REP socket, EPROTO for another protocol or none of nng's, ETIMEDOUT,
 * ETIME for a header that came only after deadline, ECONNRESET when the
 * peer closed first, or an errno value. After the
 * exchange, closing fd is an ordinary disconnect to nng. A close before
 * it can break nng 1.5.2's ipc listener (docs/KNOWN_ISSUES.md), so a
 * peer that is late gets HANDSHAKE_LINGER_MS more to finish it.
 */
static int
sp_handshake(int fd, int64_t deadline)
{
    uint8_t ours[SP_HEADER_LEN] = {0, 'S', 'P', 0};
    uint8_t theirs[SP_HEADER_LEN];
    size_t got = 0;
    int rv;

    ours[5] = SP_PROTO_REQ; /* big endian, in bytes 4 and 5 */

    /* A new connection's send buffer takes 8 bytes at once. */
    if (send(fd, ours, sizeof(ours), MSG_NOSIGNAL) != (ssize_t)sizeof(ours)) {
        return errno == EPIPE ? ECONNRESET : errno;
    }
    rv = read_within(fd, theirs, sizeof(theirs), &got, deadline);

    /* A slow peer gets a little longer before the close, which would cut
     * its handshake short. The outcome stays a timeout. */
    if (rv == ETIMEDOUT) {
        rv = read_within(fd, theirs, sizeof(theirs), &got,
                         mr_mono_ms() + HANDSHAKE_LINGER_MS);
        return rv == 0 ? ETIME : ETIMEDOUT;
    }
    if (rv != 0) {
        return rv;
    }
    if (memcmp(theirs, ours, 4) != 0 || theirs[6] != 0 || theirs[7] != 0) {
        return EPROTO;
    }
    return theirs[4] == 0 && theirs[5] == SP_PROTO_REP ? 0 : EPROTO;
}

/* Connects fd to the Unix socket at path. Returns 0 or an errno value:
 * ECONNREFUSED when nothing listens on the socket file, and EAGAIN when
 * its queue of pending connections is full. A Unix socket connects or
 * fails at once, so connect_within never waits. */
static int
connect_unix(int fd, const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(path);

    /* mr_rpc_check_url has already limited the length. */
    if (len >= sizeof(addr.sun_path)) {
        return ENAMETOOLONG;
    }
    memcpy(addr.sun_path, path, len + 1);
    return connect_within(fd, (struct sockaddr *)&addr, sizeof(addr), 0);
}

/* valid_port returns whether text is a decimal port from 1 to 65535.
 * getaddrinfo would take 99999 and connect to it modulo 65536. */
static bool
valid_port(const char *text)
{
    long value = 0;

    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9' || value > 65535) {
            return false;
        }
        value = value * 10 + (*c - '0');
    }
    return text[0] != '\0' && value >= 1 && value <= 65535;
}

/* Splits "host:port" or "[v6]:port" into host and *port. Returns false
 * when either is missing or invalid, or the host does not fit. */
static bool
split_host_port(const char *text, char host[HOST_MAX], const char **port)
{
    const char *end;
    size_t len;

    if (text[0] == '[') {
        end = strchr(text, ']');
        if (end == NULL || end[1] != ':') {
            return false;
        }
        text++;
    } else {
        end = strrchr(text, ':');
        if (end == NULL) {
            return false;
        }
    }

    len = (size_t)(end - text);
    if (len == 0 || len >= HOST_MAX) {
        return false;
    }
    memcpy(host, text, len);
    host[len] = '\0';
    *port = end + (end[0] == ']' ? 2 : 1);
    return valid_port(*port);
}

/* Connects to the addresses in list in turn until one accepts, and
 * exchanges nng's headers on that connection. Returns ECONNREFUSED when
 * every address refuses, and otherwise the result of the first that does
 * not. *connected is true when the result is the handshake's. */
static int
try_addresses(const struct addrinfo *list, int64_t deadline, bool *connected)
{
    *connected = false;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        int error = fd < 0 ? errno
                           : connect_within(fd, ai->ai_addr, ai->ai_addrlen,
                                            ms_until(deadline));

        /* A reset at connect means that the peer accepted and closed. */
        if (error == 0 || error == ECONNRESET) {
            *connected = true;
        }
        if (error == 0) {
            error = sp_handshake(fd, deadline);
        }
        if (fd >= 0) {
            close(fd);
        }
        if (error != ECONNREFUSED || *connected) {
            return error;
        }
    }
    return ECONNREFUSED;
}

/* Returns the outcome of rv, the result of sp_handshake with the peer at
 * url, and writes the reason for any outcome but CLI_ADDRESS_USABLE. */
static cli_address
handshake_outcome(const char *url, int rv, int timeout_ms, char *reason,
                  size_t size)
{
    if (rv == 0) {
        return CLI_ADDRESS_USABLE;
    }
    if (rv == ETIMEDOUT) {
        snprintf(reason, size,
                 "'%s' accepted the connection but did not answer nng's "
                 "handshake within %d ms and %d ms of grace",
                 url, timeout_ms, HANDSHAKE_LINGER_MS);
        return CLI_ADDRESS_SILENT;
    }
    if (rv == ETIME) {
        snprintf(reason, size,
                 "'%s' answered nng's handshake only after the %d ms that "
                 "were left; raise --timeout-ms",
                 url, timeout_ms);
        return CLI_ADDRESS_SILENT;
    }
    if (rv == EPROTO) {
        snprintf(reason, size, "the peer at '%s' speaks another protocol",
                 url);
    } else if (rv == ECONNRESET) {
        snprintf(reason, size,
                 "the peer at '%s' closed the connection during nng's "
                 "handshake",
                 url);
    } else {
        snprintf(reason, size,
                 "the peer at '%s' closed the connection during nng's "
                 "handshake (%s)",
                 url, strerror(rv));
    }
    return CLI_ADDRESS_WRONG_PEER;
}

/* Checks the tcp:// address text, "host:port", of url. */
static cli_address
check_tcp(const char *url, const char *text, int family, int timeout_ms,
          char *reason, size_t size)
{
    struct addrinfo hints = {.ai_family = family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    int64_t deadline = mr_mono_ms() + timeout_ms;
    struct addrinfo *list = NULL;
    char host[HOST_MAX];
    const char *port;
    bool connected;
    int rv;

    if (!split_host_port(text, host, &port)) {
        snprintf(reason, size,
                 "'%s' is not HOST:PORT with a port from 1 to 65535", url);
        return CLI_ADDRESS_INVALID;
    }
    rv = getaddrinfo(host, port, &hints, &list);
    if (rv != 0) {
        snprintf(reason, size, "cannot resolve the host of '%s': %s", url,
                 gai_strerror(rv));
        return CLI_ADDRESS_UNRESOLVED;
    }

    rv = try_addresses(list, deadline, &connected);
    freeaddrinfo(list);
    if (connected) {
        return handshake_outcome(url, rv, timeout_ms, reason, size);
    }

    /* nng's blocking dial would wait out the kernel's connect timeout,
     * so a connect that is still pending ends the call here. Closing it
     * reaches no listener. */
    if (rv == ETIMEDOUT) {
        snprintf(reason, size,
                 "'%s' neither accepted nor refused the connection within "
                 "%d ms",
                 url, timeout_ms);
        return CLI_ADDRESS_SILENT;
    }
    if (rv == ECONNREFUSED) {
        snprintf(reason, size, "'%s' refused the connection", url);
    } else {
        snprintf(reason, size, "cannot connect to '%s': %s", url,
                 strerror(rv));
    }
    return CLI_ADDRESS_NOTHING_LISTENS;
}

/* Checks the socket file at path, the address of url. */
static cli_address
check_ipc(const char *url, const char *path, int timeout_ms, char *reason,
          size_t size)
{
    int64_t deadline = mr_mono_ms() + timeout_ms;
    bool connected = false;
    sigset_t mask;
    struct stat st;
    int fd;
    int rv;

    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            return CLI_ADDRESS_USABLE;
        }
        snprintf(reason, size, "'%s' is missing", url);
        return CLI_ADDRESS_NOTHING_LISTENS;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(reason, size, "'%s' is not a socket", url);
        return CLI_ADDRESS_NOTHING_LISTENS;
    }

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return CLI_ADDRESS_USABLE;
    }
    cli_hold_signals(&mask);
    rv = connect_unix(fd, path);
    if (rv == 0) {
        connected = true;
        rv = sp_handshake(fd, deadline);
    }
    close(fd);
    cli_release_signals(&mask);

    if (rv == ECONNREFUSED && !connected) {
        snprintf(reason, size,
                 "'%s' refused the connection (a socket file left by a "
                 "service that stopped)",
                 url);
        return CLI_ADDRESS_NOTHING_LISTENS;
    }

    /* A full queue of connections that the service has not accepted. */
    if (rv == EAGAIN && !connected) {
        snprintf(reason, size,
                 "'%s' did not accept the connection: its queue of "
                 "pending connections is full",
                 url);
        return CLI_ADDRESS_SILENT;
    }

    /* Another failure, such as a file the user may not write: nng's dial
     * reports it. */
    if (!connected) {
        return CLI_ADDRESS_USABLE;
    }
    return handshake_outcome(url, rv, timeout_ms, reason, size);
}

cli_address
cli_check_address(const char *url, int timeout_ms, char *reason, size_t size)
{
    const char *path = mr_rpc_ipc_path(url);

    if (!mr_rpc_check_url(url, reason, size)) {
        return CLI_ADDRESS_INVALID;
    }
    if (path != NULL) {
        return check_ipc(url, path, timeout_ms, reason, size);
    }
    if (strncasecmp(url, "tcp://", 6) == 0) {
        return check_tcp(url, url + 6, AF_UNSPEC, timeout_ms, reason, size);
    }
    if (strncasecmp(url, "tcp4://", 7) == 0) {
        return check_tcp(url, url + 7, AF_INET, timeout_ms, reason, size);
    }
    if (strncasecmp(url, "tcp6://", 7) == 0) {
        return check_tcp(url, url + 7, AF_INET6, timeout_ms, reason, size);
    }
    return CLI_ADDRESS_USABLE;
}
