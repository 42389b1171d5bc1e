/* disc_allow.h - the development allow-list of outbound fetches
 * (--dev-allow-hosts): host names, IP addresses and CIDR ranges, and the
 * decisions it makes for each URL and each connection. */
#ifndef DISC_ALLOW_H
#define DISC_ALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "mr_err.h"

/* disc_cidr is one address range of the allow-list. */
typedef struct {
    int family;        /* AF_INET or AF_INET6 */
    uint8_t bytes[16]; /* network address; IPv4 uses the first 4 bytes */
    unsigned prefix;   /* prefix length in bits; the bits after it are 0 */
} disc_cidr;

/* disc_allow_list is the parsed --dev-allow-hosts value: host names and
 * IP literals (lower case, IPv6 literals without brackets) and CIDR
 * ranges. */
typedef struct {
    char **hosts;
    size_t count;
    disc_cidr *ranges;
    size_t nranges;
} disc_allow_list;

/* disc_connect_verdict is what disc_allow_connect decides for one
 * connection. */
typedef enum {
    DISC_CONNECT_OK,
    DISC_CONNECT_SCHEME,  /* http to a host that may not use http */
    DISC_CONNECT_ADDRESS, /* an address that is not public and not allowed */
} disc_connect_verdict;

/*
 * disc_allow_list_parse parses a comma-separated list of entries into
 * *out. An entry is a host name, an IP address ("127.0.0.1", "::1" or
 * "[::1]") or a CIDR range ("127.0.0.0/8", "::1/128"). Whitespace around
 * entries and empty entries are skipped. An invalid entry returns
 * MR_EINVALID_FIELD and points *bad into text at the start of that entry,
 * which disc_allow_list_error then describes. Invalid are a character that
 * no host name or address has, a ':' outside an IPv6 address, a prefix
 * length over 32 or 128, and address bits set after the prefix. It
 * returns MR_ENOMEM when memory runs out. Free *out with
 * disc_allow_list_free.
 */
mr_err disc_allow_list_parse(const char *text, disc_allow_list *out,
                             const char **bad);

/*
 * disc_allow_list_error writes into out, cut to fit outlen, why the entry
 * that starts at bad is invalid, as "entry \"10.0.0.0/33\" has prefix
 * length 33, ...". bad is what disc_allow_list_parse stored.
 */
void disc_allow_list_error(const char *bad, char *out, size_t outlen);

/* disc_allow_list_free frees the entries of list and zeroes it. */
void disc_allow_list_free(disc_allow_list *list);

/*
 * disc_allow_list_contains returns whether host (brackets allowed around
 * an IPv6 literal) is one of list's host entries: the same name but for
 * ASCII case, or the same IP address however it is written. CIDR ranges
 * do not count.
 */
bool disc_allow_list_contains(const disc_allow_list *list, const char *host);

/*
 * disc_allow_list_covers returns whether addr (AF_INET or AF_INET6) lies
 * in one of list's CIDR ranges. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) also matches the IPv4 ranges that contain a.b.c.d.
 */
bool disc_allow_list_covers(const disc_allow_list *list,
                            const struct sockaddr *addr);

/*
 * disc_allow_http returns whether a URL whose host is host may use plain
 * http: host is one of list's host entries, or an IP literal in one of
 * its CIDR ranges. A host name that merely resolves into a range needs
 * https. TLS then checks that the server at that address has a
 * certificate for the name, so a name whose owner points it at an
 * internal address (DNS rebinding) fails the handshake.
 */
bool disc_allow_http(const disc_allow_list *list, const char *host);

/*
 * disc_allow_connect decides whether a connection to addr may be opened
 * for a URL whose host is host, using https when https is set. Plain http
 * needs disc_allow_http, and when host is allowed only as an IP literal
 * in a range, addr must lie in a range too. Then addr must be public (as
 * disc_addr_is_public in disc_url.h decides) or lie in a CIDR range, or
 * host must be one of list's host entries.
 */
disc_connect_verdict disc_allow_connect(const disc_allow_list *list,
                                        bool https, const char *host,
                                        const struct sockaddr *addr);

#endif
