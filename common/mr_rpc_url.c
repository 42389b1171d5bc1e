/* mr_rpc_url.c - addresses that nng takes but can never connect. */
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "mr_rpc.h"

/* IPC_PATH_MAX is the longest path a Unix socket address takes, without
 * its terminating NUL: 107 bytes on Linux. */
#define IPC_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

bool
mr_rpc_check_url(const char *url, char *why, size_t whylen)
{
    size_t len;

    if (strncmp(url, "ipc://", 6) != 0) {
        return true;
    }

    /* nng 1.5.2 takes paths of up to 127 bytes, so a path too long for the
     * kernel fails only when a connection is made, and a dialer retries it
     * forever. */
    len = strlen(url + 6);
    if (len <= IPC_PATH_MAX) {
        return true;
    }
    snprintf(why, whylen,
             "the socket path of %s is %zu bytes, and a Unix socket path "
             "takes at most %zu",
             url, len, IPC_PATH_MAX);
    return false;
}
