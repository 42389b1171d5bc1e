/* mr_allow.h - the development allow-list (--dev-allow-hosts, also
 * MCPREG_DEV_ALLOW_HOSTS) that both services read: host names, IP
 * addresses and CIDR ranges, and which hosts may use plain http. */
#ifndef MR_ALLOW_H
#define MR_ALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "mr_err.h"

/* mr_allow_range is one CIDR range of the allow-list. */
typedef struct {
    int family;        /* AF_INET or AF_INET6 */
    uint8_t bytes[16]; /* network address; IPv4 uses the first 4 bytes */
    unsigned prefix;   /* prefix length in bits; the bits after it are 0 */
} mr_allow_range;

/* mr_allow_list is the parsed --dev-allow-hosts value: host names and
 * IP literals (lower case, IPv6 literals without brackets) and CIDR
 * ranges. */
typedef struct {
    char **hosts;
    size_t count;
    mr_allow_range *ranges;
    size_t nranges;
} mr_allow_list;

/*
 * mr_allow_parse parses a comma-separated list of entries into *out. An
 * entry is a host name, an IP address ("127.0.0.1", "::1" or "[::1]") or
 * a CIDR range ("127.0.0.0/8", "::1/128"). Whitespace around entries and
 * empty entries are skipped. An invalid entry returns MR_EINVALID_FIELD
 * and points *bad into text at the start of that entry, which
 * mr_allow_error then describes. Invalid are a character that no host
 * name or address has, a ':' outside an IPv6 address, a prefix length of 0
 * or over 32 or 128, and address bits set after the prefix. It returns
 * MR_ENOMEM when memory runs out. Free *out with mr_allow_free.
 */
mr_err mr_allow_parse(const char *text, mr_allow_list *out, const char **bad);

/*
 * mr_allow_error writes into out, cut to fit outlen, why the entry that
 * starts at bad is invalid, as "entry \"10.0.0.0/33\" has prefix length
 * 33, ...". bad is what mr_allow_parse stored.
 */
void mr_allow_error(const char *bad, char *out, size_t outlen);

/*
 * mr_allow_parse_option parses text, the value of --dev-allow-hosts, into
 * *out as mr_allow_parse does. When that fails, it writes into message,
 * cut to fit message_len (0 allowed), the error that both services print
 * before they exit: the invalid entry and why, or that memory ran out.
 * Free *out with mr_allow_free.
 */
mr_err mr_allow_parse_option(const char *text, mr_allow_list *out,
                             char *message, size_t message_len);

/* mr_allow_free frees the entries of list and zeroes it. */
void mr_allow_free(mr_allow_list *list);

/*
 * mr_allow_contains returns whether host (brackets allowed around an IPv6
 * literal) is one of list's host entries: the same name but for ASCII
 * case, or the same IP address however it is written. CIDR ranges do not
 * count.
 */
bool mr_allow_contains(const mr_allow_list *list, const char *host);

/*
 * mr_allow_covers returns whether addr (AF_INET or AF_INET6) lies in one
 * of list's CIDR ranges. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * also matches the IPv4 ranges that contain a.b.c.d.
 */
bool mr_allow_covers(const mr_allow_list *list, const struct sockaddr *addr);

/*
 * mr_allow_http returns whether a URL whose host is host may use plain
 * http: host is one of list's host entries, or an IP literal in one of
 * its CIDR ranges. A host name that merely resolves into a range needs
 * https. TLS then checks that the server at that address has a
 * certificate for the name, so a name whose owner points it at an
 * internal address (DNS rebinding) fails the handshake.
 */
bool mr_allow_http(const mr_allow_list *list, const char *host);

/*
 * mr_allow_ranges_beyond_loopback writes into out, cut to fit outlen (0
 * allowed), the CIDR ranges of list that contain an address outside
 * loopback (127.0.0.0/8 and ::1), as "10.0.0.0/8, fd00::/8". It returns
 * how many there are, so that the services can warn about them at start.
 */
size_t mr_allow_ranges_beyond_loopback(const mr_allow_list *list, char *out,
                                       size_t outlen);

#endif
