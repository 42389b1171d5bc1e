/* disc_url.h - URL parsing, origins, well-known URLs and the host policy
 * of outbound fetches. */
#ifndef DISC_URL_H
#define DISC_URL_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

#include "mr_allow.h"
#include "mr_err.h"

/* DISC_URL_MAX is the longest URL accepted, in bytes. */
#define DISC_URL_MAX 4096

/* disc_url is an absolute http or https URL split into its parts. */
typedef struct {
    char *scheme; /* "http" or "https" */
    char *host;   /* lower case; an IPv6 literal keeps its brackets */
    int port;     /* the explicit port, else the scheme's default */
    char *path;   /* never empty: at least "/" */
    char *query;  /* without the "?"; NULL when the URL has none */
} disc_url;

/* disc_well_known is where a well-known URL puts the path of the URL it
 * is built from. */
typedef enum {
    DISC_WK_ROOT,   /* origin/.well-known/SUFFIX */
    DISC_WK_INSERT, /* origin/.well-known/SUFFIX/PATH (RFC 8414, 9728) */
    DISC_WK_APPEND, /* origin/PATH/.well-known/SUFFIX (OpenID Connect) */
} disc_well_known;

/*
 * disc_url_parse parses text with curl's URL API into *out. It accepts
 * only absolute http and https URLs of at most DISC_URL_MAX bytes, with a
 * host and without user information or fragment. On failure it returns
 * MR_EINVALID_FIELD and points *why at a static phrase such as "is not an
 * absolute URL", or MR_ENOMEM. Free *out with disc_url_free.
 */
mr_err disc_url_parse(const char *text, disc_url *out, const char **why);

/* disc_url_free frees the parts of url and zeroes it. */
void disc_url_free(disc_url *url);

/* disc_url_origin returns "scheme://host[:port]", with the port left out
 * when it is the scheme's default; the caller frees it. NULL when memory
 * runs out. */
char *disc_url_origin(const disc_url *url);

/* disc_url_same_origin returns whether a and b have the same scheme, host
 * and port. */
bool disc_url_same_origin(const disc_url *a, const disc_url *b);

/*
 * disc_url_path_within returns whether the path of outer, with a "/"
 * appended unless it ends in one, is a prefix of the path of inner treated
 * the same way. "/mcp" is then within "/mcp" and "/mcp/x" but not within
 * "/mcpx". Origins and queries are not compared.
 */
bool disc_url_path_within(const disc_url *outer, const disc_url *inner);

/*
 * disc_url_has_path returns whether url has a path other than "/", which
 * decides between path insertion and the root well-known URL.
 */
bool disc_url_has_path(const disc_url *url);

/*
 * disc_url_well_known builds the well-known URL for suffix (such as
 * "oauth-protected-resource") from url's origin and, by mode, its path
 * with one trailing "/" removed. DISC_WK_INSERT keeps url's query, as
 * RFC 9728 section 3.1 requires. The caller frees the result; NULL when
 * memory runs out.
 */
char *disc_url_well_known(const disc_url *url, const char *suffix,
                          disc_well_known mode);

/*
 * disc_url_redact returns a copy of text for logs and error details: the
 * scheme, host, port and path only, so a query cannot leak a credential.
 * Text that does not parse becomes "(invalid URL)". The caller frees the
 * result; NULL when memory runs out.
 */
char *disc_url_redact(const char *text);

/*
 * disc_url_check parses text as disc_url_parse does and applies the fetch
 * policy: https always, http only where mr_allow_http allows it. It
 * returns MR_EINVALID_FIELD (with *why set) for a URL that does not
 * parse, MR_EBLOCKED_ADDRESS for http to another host, or MR_ENOMEM. On
 * success *out contains the parsed URL when out is not NULL.
 */
mr_err disc_url_check(const char *text, const mr_allow_list *allow,
                      disc_url *out, const char **why);

/*
 * disc_addr_is_public returns whether addr (AF_INET or AF_INET6) is a
 * globally routable unicast address. Loopback, private, shared (CGNAT),
 * link-local, documentation, benchmarking, multicast, reserved and
 * unspecified addresses are not, and neither are IPv4 addresses embedded
 * in IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 IPv6 addresses unless the
 * embedded address is public. Other families return false.
 */
bool disc_addr_is_public(const struct sockaddr *addr);

#endif
