/* cli_dial.c - a check, before nng dials, that distinguishes a stopped
 * service from a slow one. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mr_rpc.h"

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

/* Returns ENOENT when nothing exists at path, ENOTSOCK when it is not a
 * socket, and 0 otherwise. It does not connect: nng 1.5.2's ipc listener
 * can lose the requests of the connection that follows one closed before
 * the handshake. So a stale socket file left by a killed service passes,
 * and the refusals of nng's own dials show it later. */
static int
try_ipc(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        return errno;
    }
    return S_ISSOCK(st.st_mode) ? 0 : ENOTSOCK;
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
check_ipc(const char *url, const char *path, char *reason, size_t size)
{
    int error = try_ipc(path);

    if (error != ENOENT && error != ENOTSOCK) {
        return CLI_ADDRESS_USABLE;
    }
    snprintf(reason, size, "'%s' is %s", url,
             error == ENOENT ? "missing" : "not a socket");
    return CLI_ADDRESS_NOTHING_LISTENS;
}

cli_address
cli_check_address(const char *url, int timeout_ms, char *reason, size_t size)
{
    const char *path = mr_rpc_ipc_path(url);

    if (!mr_rpc_check_url(url, reason, size)) {
        return CLI_ADDRESS_INVALID;
    }
    if (path != NULL) {
        return check_ipc(url, path, reason, size);
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
