/* mr_rpc_url.c - checks of nng addresses before nng dials or listens. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <nng/nng.h>

#include "mr_rpc.h"

/* IPC_PATH_MAX is the longest path a Unix socket address takes, without
 * its terminating NUL: 107 bytes on Linux. */
#define IPC_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* URL_QUOTE_MAX bounds the bytes of a rejected URL quoted in a reason, so
 * that the length and the limit before it are never cut. */
#define URL_QUOTE_MAX 120

const char *
mr_rpc_ipc_path(const char *url)
{
    if (strncasecmp(url, "ipc://", 6) == 0) {
        return url + 6;
    }
    if (strncasecmp(url, "unix://", 7) == 0) {
        return url + 7;
    }
    return NULL;
}

/* Returns how many bytes of text, at most URL_QUOTE_MAX, to quote without
 * cutting a UTF-8 character. */
static int
quote_len(const char *text)
{
    size_t len = strnlen(text, URL_QUOTE_MAX + 1);

    if (len <= URL_QUOTE_MAX) {
        return (int)len;
    }
    len = URL_QUOTE_MAX;
    while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80) {
        len--;
    }
    return (int)len;
}

/* Returns whether url parses as an nng URL, and whether it names an
 * abstract socket without a name (*empty_abstract). */
static bool
parse_url(const char *url, bool *empty_abstract)
{
    nng_url *parsed = NULL;

    if (nng_url_parse(&parsed, url) != 0) {
        return false;
    }
    *empty_abstract =
        strcmp(parsed->u_scheme, "abstract") == 0 && parsed->u_path[0] == '\0';
    nng_url_free(parsed);
    return true;
}

bool
mr_rpc_check_url(const char *url, char *why, size_t whylen)
{
    const char *path = mr_rpc_ipc_path(url);
    int quoted = quote_len(url);
    bool empty_abstract = false;
    size_t len;

    if (!parse_url(url, &empty_abstract)) {
        snprintf(why, whylen,
                 "%.*s%s is not an nng URL such as tcp://HOST:PORT or "
                 "ipc:///PATH",
                 quoted, url, url[quoted] != '\0' ? "..." : "");
        return false;
    }
    if (empty_abstract) {
        snprintf(why, whylen, "the abstract socket name is empty in %s", url);
        return false;
    }
    if (path == NULL) {
        return true;
    }
    len = strlen(path);
    if (len == 0) {
        snprintf(why, whylen, "the socket path is empty in %s", url);
        return false;
    }

    /* nng 1.5.2 takes paths of up to 127 bytes, so a path too long for the
     * kernel fails only when a connection is made, and a dialer keeps
     * retrying it. */
    if (len <= IPC_PATH_MAX) {
        return true;
    }
    snprintf(why, whylen,
             "the socket path is %zu bytes, and a Unix socket path takes at "
             "most %zu: %.*s%s",
             len, IPC_PATH_MAX, quoted, url, url[quoted] != '\0' ? "..." : "");
    return false;
}
