/* gw_target.c - the forms of a request target (RFC 9112 section 3.2). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "gw_target.h"

/* is_reg_name_char returns whether c may stand in a host name or IPv4
 * address of a URI, percent escapes aside (RFC 3986 section 3.2.2). */
static bool
is_reg_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* is_ipv6 returns whether the len bytes at text are an IPv6 address. The
 * other IP literals of RFC 3986, IPvFuture and RFC 6874 zone ids, are not
 * taken. */
static bool
is_ipv6(const char *text, size_t len)
{
    char copy[INET6_ADDRSTRLEN];
    struct in6_addr addr;

    if (len == 0 || len >= sizeof(copy)) {
        return false;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    return inet_pton(AF_INET6, copy, &addr) == 1;
}

/* host_len returns the length of the host at the start of the len bytes
 * at text, or 0 when it is empty or invalid: an IPv6 address in brackets,
 * or a name of unreserved characters, sub-delimiters and percent escapes.
 * Userinfo is invalid, since RFC 9110 section 4.2.4 forbids it in http
 * and https URIs. */
static size_t
host_len(const char *text, size_t len)
{
    const char *close;
    size_t i = 0;

    if (len > 0 && text[0] == '[') {
        close = memchr(text, ']', len);
        if (close == NULL || !is_ipv6(text + 1, (size_t)(close - text) - 1)) {
            return 0;
        }
        return (size_t)(close - text) + 1;
    }

    while (i < len && text[i] != ':') {
        if (text[i] == '%' && i + 2 < len &&
            isxdigit((unsigned char)text[i + 1]) &&
            isxdigit((unsigned char)text[i + 2])) {
            i += 3;
        } else if (is_reg_name_char(text[i])) {
            i++;
        } else {
            return 0;
        }
    }
    return i;
}

/* valid_authority returns whether the len bytes at text are a host with
 * an optional port of decimal digits. */
static bool
valid_authority(const char *text, size_t len)
{
    size_t i = host_len(text, len);

    if (i == 0) {
        return false;
    }
    if (i == len) {
        return true;
    }
    if (text[i] != ':') {
        return false;
    }
    for (i++; i < len; i++) {
        if (!isdigit((unsigned char)text[i])) {
            return false;
        }
    }
    return true;
}

const char *
gw_target_origin_path(const char *target)
{
    const char *authority;
    const char *end;

    if (strncasecmp(target, "http://", 7) == 0) {
        authority = target + 7;
    } else if (strncasecmp(target, "https://", 8) == 0) {
        authority = target + 8;
    } else {
        return target;
    }

    end = strchr(authority, '/');
    if (end == NULL) {
        end = authority + strlen(authority);
    }
    if (!valid_authority(authority, (size_t)(end - authority))) {
        return target;
    }
    return end[0] == '/' ? end : "/";
}
