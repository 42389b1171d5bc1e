/* disc_url.c - URL parsing with curl's URL API, origins, well-known URLs,
 * the URL check and the address policy of outbound fetches. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <netinet/in.h>

#include "disc_url.h"
#include "wwwauth.h"

static int
default_port(const char *scheme)
{
    return strcmp(scheme, "https") == 0 ? 443 : 80;
}

static void
lower_ascii(char *text)
{
    for (; *text != '\0'; text++) {
        if (*text >= 'A' && *text <= 'Z') {
            *text = (char)(*text - 'A' + 'a');
        }
    }
}

/* concat returns the n strings of parts joined, or NULL when memory runs
 * out; a NULL part counts as empty. */
static char *
concat(const char *const *parts, size_t n)
{
    size_t len = 0;
    char *out;
    char *end;

    for (size_t i = 0; i < n; i++) {
        len += parts[i] != NULL ? strlen(parts[i]) : 0;
    }

    out = malloc(len + 1);
    if (out == NULL) {
        return NULL;
    }

    end = out;
    for (size_t i = 0; i < n; i++) {
        size_t part_len;

        if (parts[i] == NULL) {
            continue;
        }
        part_len = strlen(parts[i]);
        memcpy(end, parts[i], part_len);
        end += part_len;
    }
    *end = '\0';
    return out;
}

/* has_part returns whether handle has a value for part; curl reports a
 * missing part as CURLUE_NO_USER, CURLUE_NO_FRAGMENT and so on. */
static bool
has_part(CURLU *handle, CURLUPart part)
{
    char *value = NULL;
    CURLUcode rc = curl_url_get(handle, part, &value, 0);

    curl_free(value);
    return rc == CURLUE_OK;
}

/* copy_part stores a malloc'd copy of part into *out, or NULL when the URL
 * has none. */
static mr_err
copy_part(CURLU *handle, CURLUPart part, unsigned flags, char **out)
{
    char *value = NULL;
    CURLUcode rc = curl_url_get(handle, part, &value, flags);

    *out = NULL;
    if (rc == CURLUE_OUT_OF_MEMORY) {
        return MR_ENOMEM;
    }
    if (rc != CURLUE_OK) {
        return MR_OK;
    }

    *out = strdup(value);
    curl_free(value);
    return *out != NULL ? MR_OK : MR_ENOMEM;
}

/* check_form rejects what disc_url_parse does not accept beyond curl's
 * own syntax checks. */
static mr_err
check_form(CURLU *handle, const char **why)
{
    char *scheme = NULL;
    char *host = NULL;
    mr_err err = copy_part(handle, CURLUPART_SCHEME, 0, &scheme);

    if (err == MR_OK) {
        err = copy_part(handle, CURLUPART_HOST, 0, &host);
    }
    if (err != MR_OK) {
        free(scheme);
        return err;
    }

    /* curl decodes percent escapes in the host name, so one that still
     * has a percent sign would name another host each time the URL is
     * parsed again, as the well-known URLs built from it are. */
    if (scheme == NULL || (disc_ascii_casecmp(scheme, "https") != 0 &&
                           disc_ascii_casecmp(scheme, "http") != 0)) {
        *why = "does not use http or https";
        err = MR_EINVALID_FIELD;
    } else if (host != NULL && strchr(host, '%') != NULL) {
        *why = "has a percent sign in its host name";
        err = MR_EINVALID_FIELD;
    } else if (has_part(handle, CURLUPART_USER) ||
               has_part(handle, CURLUPART_PASSWORD)) {
        *why = "contains user information";
        err = MR_EINVALID_FIELD;
    } else if (has_part(handle, CURLUPART_FRAGMENT)) {
        *why = "contains a fragment";
        err = MR_EINVALID_FIELD;
    }
    free(scheme);
    free(host);
    return err;
}

static mr_err
copy_parts(CURLU *handle, disc_url *out)
{
    char *port = NULL;
    mr_err err = copy_part(handle, CURLUPART_SCHEME, 0, &out->scheme);

    if (err == MR_OK) {
        err = copy_part(handle, CURLUPART_HOST, 0, &out->host);
    }
    if (err == MR_OK) {
        err = copy_part(handle, CURLUPART_PORT, CURLU_DEFAULT_PORT, &port);
    }
    if (err == MR_OK) {
        err = copy_part(handle, CURLUPART_PATH, 0, &out->path);
    }
    if (err == MR_OK) {
        err = copy_part(handle, CURLUPART_QUERY, 0, &out->query);
    }
    if (err == MR_OK && (out->scheme == NULL || out->host == NULL ||
                         out->path == NULL || port == NULL)) {
        err = MR_ENOMEM;
    }
    if (err == MR_OK) {
        lower_ascii(out->scheme);
        lower_ascii(out->host);
        out->port = atoi(port);
    }
    free(port);
    return err;
}

mr_err
disc_url_parse(const char *text, disc_url *out, const char **why)
{
    CURLU *handle = NULL;
    mr_err err = MR_EINVALID_FIELD;

    *out = (disc_url){0};
    *why = "is not an absolute http or https URL";
    if (strlen(text) > DISC_URL_MAX) {
        *why = "is longer than 4096 bytes";
        goto out;
    }

    handle = curl_url();
    if (handle == NULL) {
        err = MR_ENOMEM;
        goto out;
    }
    if (curl_url_set(handle, CURLUPART_URL, text, 0) != CURLUE_OK) {
        goto out;
    }

    err = check_form(handle, why);
    if (err != MR_OK) {
        goto out;
    }

    err = copy_parts(handle, out);
out:
    if (err != MR_OK) {
        disc_url_free(out);
    }
    curl_url_cleanup(handle);
    return err;
}

void
disc_url_free(disc_url *url)
{
    free(url->scheme);
    free(url->host);
    free(url->path);
    free(url->query);
    *url = (disc_url){0};
}

char *
disc_url_origin(const disc_url *url)
{
    char port[16] = "";
    const char *parts[4];

    if (url->port != default_port(url->scheme)) {
        snprintf(port, sizeof(port), ":%d", url->port);
    }

    parts[0] = url->scheme;
    parts[1] = "://";
    parts[2] = url->host;
    parts[3] = port;
    return concat(parts, 4);
}

bool
disc_url_same_origin(const disc_url *a, const disc_url *b)
{
    return strcmp(a->scheme, b->scheme) == 0 &&
           strcmp(a->host, b->host) == 0 && a->port == b->port;
}

/* path_length returns the length of path without one trailing "/". */
static size_t
path_length(const char *path)
{
    size_t len = strlen(path);

    return len > 0 && path[len - 1] == '/' ? len - 1 : len;
}

bool
disc_url_path_within(const disc_url *outer, const disc_url *inner)
{
    size_t outer_len = path_length(outer->path);
    size_t inner_len = path_length(inner->path);

    /* Both paths compare as if they ended in "/": outer's part up to that
     * "/" must start inner's, and inner must have a "/" (or its implied
     * one) right after it. */
    if (outer_len > inner_len) {
        return false;
    }
    if (memcmp(outer->path, inner->path, outer_len) != 0) {
        return false;
    }
    return outer_len == inner_len || inner->path[outer_len] == '/';
}

bool
disc_url_has_path(const disc_url *url)
{
    return path_length(url->path) > 0;
}

char *
disc_url_well_known(const disc_url *url, const char *suffix,
                    disc_well_known mode)
{
    char *origin = disc_url_origin(url);
    char *path = NULL;
    char *out = NULL;
    const char *parts[7] = {origin};

    if (origin == NULL) {
        goto out;
    }
    path = strndup(url->path, path_length(url->path));
    if (path == NULL) {
        goto out;
    }

    if (mode == DISC_WK_APPEND) {
        parts[1] = path;
        parts[2] = "/.well-known/";
        parts[3] = suffix;
    } else {
        parts[1] = "/.well-known/";
        parts[2] = suffix;
    }
    if (mode == DISC_WK_INSERT) {
        parts[3] = path;
        parts[4] = url->query != NULL ? "?" : NULL;
        parts[5] = url->query;
    }
    out = concat(parts, 6);
out:
    free(origin);
    free(path);
    return out;
}

char *
disc_url_redact(const char *text)
{
    disc_url url;
    const char *why;
    char *origin;
    char *out;
    const char *parts[2];

    if (disc_url_parse(text, &url, &why) != MR_OK) {
        return strdup("(invalid URL)");
    }

    origin = disc_url_origin(&url);
    parts[0] = origin;
    parts[1] = url.path;
    out = origin != NULL ? concat(parts, 2) : NULL;
    free(origin);
    disc_url_free(&url);
    return out;
}

mr_err
disc_url_check(const char *text, const mr_allow_list *allow, disc_url *out,
               const char **why)
{
    disc_url url;
    mr_err err;

    if (out != NULL) {
        *out = (disc_url){0};
    }
    err = disc_url_parse(text, &url, why);
    if (err != MR_OK) {
        return err;
    }

    if (strcmp(url.scheme, "https") != 0 && !mr_allow_http(allow, url.host)) {
        *why = "uses http, which only hosts listed on --dev-allow-hosts "
               "and IP addresses in its CIDR ranges may use";
        disc_url_free(&url);
        return MR_EBLOCKED_ADDRESS;
    }

    if (out != NULL) {
        *out = url;
    } else {
        disc_url_free(&url);
    }
    return MR_OK;
}

/* ipv4_is_public checks an IPv4 address, in host byte order, against the
 * special-purpose blocks of the IANA IPv4 registry (RFC 6890 and later)
 * that are not globally reachable. */
static bool
ipv4_is_public(uint32_t addr)
{
    static const struct {
        uint32_t net;
        int bits;
    } blocks[] = {
        {0x00000000, 8},  /* 0.0.0.0/8 "this network" */
        {0x0a000000, 8},  /* 10.0.0.0/8 private */
        {0x64400000, 10}, /* 100.64.0.0/10 shared address space (CGNAT) */
        {0x7f000000, 8},  /* 127.0.0.0/8 loopback */
        {0xa9fe0000, 16}, /* 169.254.0.0/16 link-local, cloud metadata */
        {0xac100000, 12}, /* 172.16.0.0/12 private */
        {0xc0000000, 24}, /* 192.0.0.0/24 IETF protocol assignments */
        {0xc0000200, 24}, /* 192.0.2.0/24 documentation */
        {0xc0586300, 24}, /* 192.88.99.0/24 deprecated 6to4 relays */
        {0xc0a80000, 16}, /* 192.168.0.0/16 private */
        {0xc6120000, 15}, /* 198.18.0.0/15 benchmarking */
        {0xc6336400, 24}, /* 198.51.100.0/24 documentation */
        {0xcb007100, 24}, /* 203.0.113.0/24 documentation */
        {0xe0000000, 4},  /* 224.0.0.0/4 multicast */
        {0xf0000000, 4},  /* 240.0.0.0/4 reserved, and broadcast */
    };

    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
        uint32_t mask = 0xffffffffu << (32 - blocks[i].bits);

        if ((addr & mask) == blocks[i].net) {
            return false;
        }
    }
    return true;
}

static uint32_t
ipv4_at(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 |
           (uint32_t)bytes[2] << 8 | (uint32_t)bytes[3];
}

static bool
ipv6_is_public(const uint8_t *b)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    static const uint8_t zero[12] = {0};

    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) {
        return ipv4_is_public(ipv4_at(b + 12));
    }
    if (b[0] == 0x20 && b[1] == 0x02) { /* 2002::/16 6to4 */
        return ipv4_is_public(ipv4_at(b + 2));
    }
    if (memcmp(b, zero, 12) == 0) { /* ::, ::1 and IPv4-compatible */
        return false;
    }
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
        return false; /* 2001:db8::/32 documentation */
    }
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
        return false; /* 64:ff9b:1::/48 local-use NAT64, and the rest */
    }

    /* Only 2000::/3 is global unicast; this leaves out fc00::/7 (unique
     * local), fe80::/10 (link-local), ff00::/8 (multicast) and 100::/64
     * (discard). */
    return (b[0] & 0xe0) == 0x20;
}

bool
disc_addr_is_public(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;

        return ipv4_is_public(ntohl(in->sin_addr.s_addr));
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;

        return ipv6_is_public(in6->sin6_addr.s6_addr);
    }
    return false;
}
