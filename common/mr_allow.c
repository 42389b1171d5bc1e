/* mr_allow.c - the development allow-list: parsing of host names, IP
 * addresses and CIDR ranges, and the matching that the registration
 * service's URL rules and the discovery worker's fetch policy use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "mr_allow.h"
#include "mr_util.h"

/* ENTRY_SHOWN_MAX bounds an entry quoted in an error message, in bytes. */
#define ENTRY_SHOWN_MAX 80

static bool
is_host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == ':';
}

/* unbracket returns the length of host without the brackets around an
 * IPv6 literal and moves *host past the opening one. */
static size_t
unbracket(const char **host, size_t len)
{
    if (len >= 2 && (*host)[0] == '[' && (*host)[len - 1] == ']') {
        (*host)++;
        return len - 2;
    }
    return len;
}

/* parse_address reads the len bytes of text, without brackets, as an IPv4
 * or IPv6 address in the forms of inet_pton. It returns false when text
 * is neither. */
static bool
parse_address(const char *text, size_t len, int *family, uint8_t bytes[16])
{
    char copy[INET6_ADDRSTRLEN];

    memset(bytes, 0, 16);
    if (len == 0 || len >= sizeof(copy)) {
        return false;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';

    if (inet_pton(AF_INET, copy, bytes) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, copy, bytes) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

/* check_host returns whether a len-byte host entry is a host name or an
 * IP literal, and otherwise writes why not into why. */
static bool
check_host(const char *entry, size_t len, char *why, size_t whylen)
{
    const char *inner = entry;
    size_t inner_len = unbracket(&inner, len);
    uint8_t bytes[16];
    int family = AF_UNSPEC;
    bool is_ipv6;

    if (inner_len == 0) {
        snprintf(why, whylen, "is empty inside its brackets");
        return false;
    }
    for (size_t i = 0; i < inner_len; i++) {
        unsigned char c = (unsigned char)inner[i];

        if (is_host_char(c)) {
            continue;
        }
        if (c > 0x20 && c < 0x7f) {
            snprintf(why, whylen,
                     "contains '%c', which no host name or IP "
                     "address contains",
                     c);
        } else {
            snprintf(why, whylen,
                     "contains byte 0x%02x, which no host name "
                     "or IP address contains",
                     c);
        }
        return false;
    }

    is_ipv6 =
        parse_address(inner, inner_len, &family, bytes) && family == AF_INET6;
    if (inner_len != len && !is_ipv6) {
        snprintf(why, whylen, "has brackets but is not an IPv6 address");
        return false;
    }
    if (memchr(inner, ':', inner_len) != NULL && !is_ipv6) {
        snprintf(why, whylen,
                 "contains ':' but is not an IPv6 address. "
                 "Leave out the port");
        return false;
    }
    return true;
}

static mr_err
add_host(mr_allow_list *list, const char *host, size_t len)
{
    char **grown;
    char *copy;

    len = unbracket(&host, len);
    copy = strndup(host, len);
    if (copy == NULL) {
        return MR_ENOMEM;
    }
    for (char *c = copy; *c != '\0'; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            *c = (char)(*c - 'A' + 'a');
        }
    }

    grown = realloc(list->hosts, (list->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        free(copy);
        return MR_ENOMEM;
    }
    list->hosts = grown;
    list->hosts[list->count++] = copy;
    return MR_OK;
}

/* read_prefix reads the n bytes at digits as a prefix length of at most
 * max bits. */
static mr_err
read_prefix(const char *digits, size_t n, int family, unsigned *out, char *why,
            size_t whylen)
{
    unsigned max = family == AF_INET ? 32 : 128;
    unsigned value = 0;

    if (n == 0) {
        snprintf(why, whylen, "has no prefix length after \"/\"");
        return MR_EINVALID_FIELD;
    }
    for (size_t i = 0; i < n; i++) {
        if (digits[i] < '0' || digits[i] > '9' || i == 3) {
            snprintf(why, whylen,
                     "has a prefix length that is not a number from 1 to %u",
                     max);
            return MR_EINVALID_FIELD;
        }
        value = value * 10 + (unsigned)(digits[i] - '0');
    }

    if (value > max) {
        snprintf(why, whylen,
                 "has prefix length %u, over the maximum of %u for IPv%d",
                 value, max, family == AF_INET ? 4 : 6);
        return MR_EINVALID_FIELD;
    }
    if (value == 0) {
        snprintf(why, whylen,
                 "has prefix length 0, which covers every IPv%d address, the "
                 "cloud metadata address and private ranges included",
                 family == AF_INET ? 4 : 6);
        return MR_EINVALID_FIELD;
    }
    *out = value;
    return MR_OK;
}

/* check_network returns whether range has no address bit set after its
 * prefix, and otherwise writes the range it probably means into why. */
static bool
check_network(const mr_allow_range *range, char *why, size_t whylen)
{
    unsigned bits = range->family == AF_INET ? 32 : 128;
    mr_allow_range network = *range;
    char text[INET6_ADDRSTRLEN] = "";

    for (unsigned bit = range->prefix; bit < bits; bit++) {
        network.bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    }
    if (memcmp(network.bytes, range->bytes, sizeof(network.bytes)) == 0) {
        return true;
    }

    inet_ntop(range->family, network.bytes, text, sizeof(text));
    snprintf(why, whylen,
             "has address bits set after its /%u prefix. Write %s/%u",
             range->prefix, text, range->prefix);
    return false;
}

/* add_range parses a len-byte CIDR entry whose "/" is at slash and
 * appends it to list. */
static mr_err
add_range(mr_allow_list *list, const char *entry, size_t len,
          const char *slash, char *why, size_t whylen)
{
    const char *address = entry;
    size_t address_len = unbracket(&address, (size_t)(slash - entry));
    size_t digits_len = len - (size_t)(slash + 1 - entry);
    mr_allow_range range = {0};
    mr_allow_range *grown;
    mr_err err;

    if (!parse_address(address, address_len, &range.family, range.bytes)) {
        snprintf(why, whylen, "is not an IPv4 or IPv6 address before \"/\"");
        return MR_EINVALID_FIELD;
    }
    if (address != entry && range.family != AF_INET6) {
        snprintf(why, whylen, "has brackets but is not an IPv6 address");
        return MR_EINVALID_FIELD;
    }
    err = read_prefix(slash + 1, digits_len, range.family, &range.prefix, why,
                      whylen);
    if (err != MR_OK) {
        return err;
    }
    if (!check_network(&range, why, whylen)) {
        return MR_EINVALID_FIELD;
    }

    grown = realloc(list->ranges, (list->nranges + 1) * sizeof(*grown));
    if (grown == NULL) {
        return MR_ENOMEM;
    }
    list->ranges = grown;
    list->ranges[list->nranges++] = range;
    return MR_OK;
}

/* parse_entry appends the len-byte entry to list as a range when it has a
 * "/" and as a host otherwise. */
static mr_err
parse_entry(mr_allow_list *list, const char *entry, size_t len, char *why,
            size_t whylen)
{
    const char *slash = memchr(entry, '/', len);

    if (slash != NULL) {
        return add_range(list, entry, len, slash, why, whylen);
    }
    if (!check_host(entry, len, why, whylen)) {
        return MR_EINVALID_FIELD;
    }
    return add_host(list, entry, len);
}

static bool
is_separator(char c)
{
    return c == ',' || c == ' ' || c == '\t';
}

mr_err
mr_allow_parse(const char *text, mr_allow_list *out, const char **bad)
{
    char why[160];
    const char *p = text;
    mr_err err = MR_OK;

    *out = (mr_allow_list){0};
    while (*p != '\0') {
        const char *start;

        while (is_separator(*p)) {
            p++;
        }
        start = p;
        while (*p != '\0' && !is_separator(*p)) {
            p++;
        }
        if (p == start) {
            continue;
        }

        err = parse_entry(out, start, (size_t)(p - start), why, sizeof(why));
        if (err != MR_OK) {
            *bad = start;
            goto out;
        }
    }
out:
    if (err != MR_OK) {
        mr_allow_free(out);
    }
    return err;
}

void
mr_allow_error(const char *bad, char *out, size_t outlen)
{
    char shown[ENTRY_SHOWN_MAX];
    char why[160] = "is invalid";
    mr_allow_list scratch = {0};
    size_t len = 0;
    char *entry;

    while (bad[len] != '\0' && !is_separator(bad[len])) {
        len++;
    }
    entry = strndup(bad, len);
    if (entry == NULL) {
        snprintf(out, outlen, "an entry is invalid");
        return;
    }

    if (parse_entry(&scratch, bad, len, why, sizeof(why)) == MR_OK) {
        snprintf(why, sizeof(why), "is valid");
    }
    mr_sanitize(shown, sizeof(shown), entry);
    snprintf(out, outlen, "entry \"%s\" %s", shown, why);
    mr_allow_free(&scratch);
    free(entry);
}

mr_err
mr_allow_parse_option(const char *text, mr_allow_list *out, char *message,
                      size_t message_len)
{
    const char *bad = NULL;
    char why[256];
    mr_err err = mr_allow_parse(text, out, &bad);

    if (err == MR_EINVALID_FIELD) {
        mr_allow_error(bad, why, sizeof(why));
        snprintf(message, message_len,
                 "invalid --dev-allow-hosts: %s. Entries are host names, IP "
                 "addresses or CIDR ranges such as 127.0.0.0/8",
                 why);
    } else if (err != MR_OK) {
        snprintf(message, message_len, "failed to read --dev-allow-hosts: %s",
                 mr_err_code(err));
    }
    return err;
}

void
mr_allow_free(mr_allow_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->hosts[i]);
    }
    free(list->hosts);
    free(list->ranges);
    *list = (mr_allow_list){0};
}

/* equal_lower compares len bytes of text, folded to lower case, with the
 * lower-case string entry. */
static bool
equal_lower(const char *text, size_t len, const char *entry)
{
    if (strlen(entry) != len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != entry[i]) {
            return false;
        }
    }
    return true;
}

/* same_address returns whether entry is an IP literal equal to the
 * address of the given family and bytes. */
static bool
same_address(const char *entry, int family, const uint8_t *bytes)
{
    uint8_t entry_bytes[16];
    int entry_family = AF_UNSPEC;

    return parse_address(entry, strlen(entry), &entry_family, entry_bytes) &&
           entry_family == family && memcmp(entry_bytes, bytes, 16) == 0;
}

bool
mr_allow_contains(const mr_allow_list *list, const char *host)
{
    size_t len = unbracket(&host, strlen(host));
    uint8_t bytes[16];
    int family = AF_UNSPEC;
    bool is_address = parse_address(host, len, &family, bytes);

    for (size_t i = 0; i < list->count; i++) {
        if (equal_lower(host, len, list->hosts[i])) {
            return true;
        }
        if (is_address && same_address(list->hosts[i], family, bytes)) {
            return true;
        }
    }
    return false;
}

/* range_contains returns whether the address of the given family and
 * bytes lies in range. */
static bool
range_contains(const mr_allow_range *range, int family, const uint8_t *bytes)
{
    size_t whole = range->prefix / 8;
    unsigned rest = range->prefix % 8;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));

    if (range->family != family || memcmp(bytes, range->bytes, whole) != 0) {
        return false;
    }
    return rest == 0 || (bytes[whole] & mask) == range->bytes[whole];
}

/* covers_bytes returns whether an address lies in one of list's ranges.
 * An IPv4-mapped IPv6 address is checked as its IPv4 address too. */
static bool
covers_bytes(const mr_allow_list *list, int family, const uint8_t *bytes)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    for (size_t i = 0; i < list->nranges; i++) {
        if (range_contains(&list->ranges[i], family, bytes)) {
            return true;
        }
    }
    if (family == AF_INET6 && memcmp(bytes, mapped, sizeof(mapped)) == 0) {
        return covers_bytes(list, AF_INET, bytes + 12);
    }
    return false;
}

bool
mr_allow_covers(const mr_allow_list *list, const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;

        return covers_bytes(list, AF_INET,
                            (const uint8_t *)&in->sin_addr.s_addr);
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;

        return covers_bytes(list, AF_INET6, in6->sin6_addr.s6_addr);
    }
    return false;
}

/* literal_in_range returns whether host is an IP literal in one of list's
 * ranges. */
static bool
literal_in_range(const mr_allow_list *list, const char *host)
{
    size_t len = unbracket(&host, strlen(host));
    uint8_t bytes[16];
    int family = AF_UNSPEC;

    return parse_address(host, len, &family, bytes) &&
           covers_bytes(list, family, bytes);
}

bool
mr_allow_http(const mr_allow_list *list, const char *host)
{
    return mr_allow_contains(list, host) || literal_in_range(list, host);
}

/* is_loopback_range returns whether every address of range is a loopback
 * address: in 127.0.0.0/8, or ::1. */
static bool
is_loopback_range(const mr_allow_range *range)
{
    static const uint8_t ipv6_loopback[16] = {[15] = 1};

    if (range->family == AF_INET) {
        return range->prefix >= 8 && range->bytes[0] == 127;
    }
    return range->prefix == 128 &&
           memcmp(range->bytes, ipv6_loopback, sizeof(ipv6_loopback)) == 0;
}

size_t
mr_allow_ranges_beyond_loopback(const mr_allow_list *list, char *out,
                                size_t outlen)
{
    size_t count = 0;
    size_t used = 0;

    if (outlen > 0) {
        out[0] = '\0';
    }
    for (size_t i = 0; i < list->nranges; i++) {
        const mr_allow_range *range = &list->ranges[i];
        char text[INET6_ADDRSTRLEN] = "";
        int written;

        if (is_loopback_range(range)) {
            continue;
        }
        inet_ntop(range->family, range->bytes, text, sizeof(text));
        if (used < outlen) {
            written = snprintf(out + used, outlen - used, "%s%s/%u",
                               count > 0 ? ", " : "", text, range->prefix);
            used += written > 0 ? (size_t)written : 0;
        }
        count++;
    }
    return count;
}
