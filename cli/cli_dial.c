/* cli_dial.c - a check, before nng dials, that distinguishes a stopped
 * service from a slow one. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

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

/* HANDSHAKE_MS bounds the wait for a service's side of the SP handshake.
 * Once connected, something listens, whether its header comes or not. */
#define HANDSHAKE_MS 1000

/* SP_REQ0_HEADER is the 8-byte header that opens an SP connection: the
 * magic "\0SP\0", then the protocol number of REQ version 0 (0x30,
 * big-endian) and two zero bytes. */
static const unsigned char SP_REQ0_HEADER[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};

/* handshake sends the REQ header on fd and waits up to timeout_ms for the
 * peer's. A REP listener of nng 1.5.2 loses the requests of the next
 * connection after one that closes before the handshake, so the check
 * completes it, as nng's own dialer does, before it closes. */
static void
handshake(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    unsigned char peer[sizeof(SP_REQ0_HEADER)];
    size_t got = 0;

    if (write(fd, SP_REQ0_HEADER, sizeof(SP_REQ0_HEADER)) !=
        (ssize_t)sizeof(SP_REQ0_HEADER)) {
        return;
    }
    while (got < sizeof(peer) && poll(&pfd, 1, timeout_ms) > 0) {
        ssize_t n = read(fd, peer + got, sizeof(peer) - got);

        if (n <= 0) {
            return;
        }
        got += (size_t)n;
    }
}

/* Returns ENOENT when nothing exists at path, ENOTSOCK when it is not a
 * socket, ECONNREFUSED when it is a socket that nothing listens on (a
 * file left by a killed service), and 0 otherwise. */
static int
try_ipc(const char *path, int timeout_ms)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct stat st;
    int error;
    int fd;

    if (stat(path, &st) != 0) {
        return errno;
    }
    if (!S_ISSOCK(st.st_mode)) {
        return ENOTSOCK;
    }
    if (strlen(path) >= sizeof(addr.sun_path)) {
        return 0; /* nng reports the long path itself */
    }

    memcpy(addr.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    error = connect_within(fd, (const struct sockaddr *)&addr, sizeof(addr),
                           timeout_ms);
    if (error == 0) {
        handshake(fd, timeout_ms < HANDSHAKE_MS ? timeout_ms : HANDSHAKE_MS);
    }
    close(fd);
    return error == ECONNREFUSED ? ECONNREFUSED : 0;
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

/* Returns ECONNREFUSED when every address in list refuses a connection, 0
 * when one accepts it, and another errno value for an address that does
 * neither within timeout_ms. */
static int
try_addresses(const struct addrinfo *list, int timeout_ms)
{
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        int error = fd < 0 ? errno
                           : connect_within(fd, ai->ai_addr, ai->ai_addrlen,
                                            timeout_ms);

        if (fd >= 0) {
            close(fd);
        }
        if (error != ECONNREFUSED) {
            return error;
        }
    }
    return ECONNREFUSED;
}

/* Checks the tcp:// address text, "host:port", of url. */
static cli_address
check_tcp(const char *url, const char *text, int family, int timeout_ms,
          char *reason, size_t size)
{
    struct addrinfo hints = {.ai_family = family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    char host[HOST_MAX];
    const char *port;
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

    rv = try_addresses(list, timeout_ms);
    freeaddrinfo(list);
    if (rv == ECONNREFUSED) {
        snprintf(reason, size, "'%s' refused the connection", url);
        return CLI_ADDRESS_NOTHING_LISTENS;
    }
    return CLI_ADDRESS_USABLE;
}

/* Checks the socket file at path, the address of url. */
static cli_address
check_ipc(const char *url, const char *path, int timeout_ms, char *reason,
          size_t size)
{
    int error = try_ipc(path, timeout_ms);

    if (error == 0) {
        return CLI_ADDRESS_USABLE;
    }
    if (error == ECONNREFUSED) {
        snprintf(reason, size, "nothing listens on the socket file '%s'", url);
    } else {
        snprintf(reason, size, "'%s' is %s", url,
                 error == ENOENT ? "missing" : "not a socket");
    }
    return CLI_ADDRESS_NOTHING_LISTENS;
}

cli_address
cli_check_address(const char *url, int timeout_ms, char *reason, size_t size)
{
    if (strncmp(url, "ipc://", 6) == 0) {
        return check_ipc(url, url + 6, timeout_ms, reason, size);
    }
    if (strncmp(url, "tcp://", 6) == 0) {
        return check_tcp(url, url + 6, AF_UNSPEC, timeout_ms, reason, size);
    }
    if (strncmp(url, "tcp4://", 7) == 0) {
        return check_tcp(url, url + 7, AF_INET, timeout_ms, reason, size);
    }
    if (strncmp(url, "tcp6://", 7) == 0) {
        return check_tcp(url, url + 7, AF_INET6, timeout_ms, reason, size);
    }
    return CLI_ADDRESS_USABLE;
}
