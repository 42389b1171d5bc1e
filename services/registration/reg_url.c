/* reg_url.c - the rules an MCP server URL must follow, on curl's URL API. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "reg_url.h"

mr_err
reg_url_rules_parse(reg_url_rules *rules, const char *list, char *message,
                    size_t message_len)
{
    return mr_allow_parse_option(list, &rules->allow, message, message_len);
}

void
reg_url_rules_free(reg_url_rules *rules)
{
    mr_allow_free(&rules->allow);
}

/* The URLs that reg_url_check_named names in its details. */
const reg_url_subject reg_url_mcp_server = {"url", "the MCP server URL",
                                            "https://mcp.example.com/mcp"};
const reg_url_subject reg_url_issuer = {"issuer", "the issuer URL",
                                        "https://auth.example.com"};

/*
 * Checks the raw text for what curl's parser accepts but an MCP server URL
 * must not have: curl takes "https:/host" and "https:///host", ignores an
 * empty user ("https://@host") and an empty fragment ("https://host/#"),
 * and decodes a percent-encoded host.
 */
static mr_err
check_text(const char *url, const reg_url_subject *subject, char *detail,
           size_t detail_len)
{
    const char *sep = strstr(url, "://");
    const char *field = subject->field;
    const char *noun = subject->noun;
    size_t authority_len;

    for (const char *c = url; *c != '\0'; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf(detail, detail_len,
                     "Remove white space and control characters from '%s': "
                     "%s contains one",
                     field, noun);
            return MR_EINVALID_URL;
        }
    }
    if (strchr(url, '#') != NULL) {
        snprintf(detail, detail_len,
                 "Remove the fragment ('#...') from '%s': %s must not have "
                 "one",
                 field, noun);
        return MR_EINVALID_URL;
    }
    if (sep == NULL || sep == url ||
        strcspn(url, ":/?") != (size_t)(sep - url) || sep[3] == '/') {
        snprintf(detail, detail_len,
                 "Set '%s' to an absolute URL such as %s: the scheme must be "
                 "followed by '://' and a host",
                 field, subject->example);
        return MR_EINVALID_URL;
    }

    authority_len = strcspn(sep + 3, "/?");
    if (memchr(sep + 3, '@', authority_len) != NULL) {
        snprintf(detail, detail_len,
                 "Remove the user name and password from '%s': %s must not "
                 "contain user info",
                 field, noun);
        return MR_EINVALID_URL;
    }
    if (memchr(sep + 3, '%', authority_len) != NULL) {
        snprintf(detail, detail_len,
                 "Write the host of '%s' without percent-encoding: the host "
                 "contains '%%'",
                 field);
        return MR_EINVALID_URL;
    }
    return MR_OK;
}

/* Checks that every '%' of url starts a percent-encoded octet, a '%' and
 * two hex digits (RFC 3986 section 2.1), which curl does not check. */
static mr_err
check_escapes(const char *url, const reg_url_subject *subject, char *detail,
              size_t detail_len)
{
    for (const char *c = strchr(url, '%'); c != NULL; c = strchr(c + 1, '%')) {
        if (!isxdigit((unsigned char)c[1]) || !isxdigit((unsigned char)c[2])) {
            snprintf(detail, detail_len,
                     "Write '%%' as %%25 in '%s': the '%%' at offset %zu "
                     "is not followed by two hex digits",
                     subject->field, (size_t)(c - url));
            return MR_EINVALID_URL;
        }
    }
    return MR_OK;
}

/* HOST_NAME_MAX_LEN and LABEL_MAX_LEN are the limits of a DNS name in text
 * form, without a final dot, and of each of its labels (RFC 1035 section
 * 2.3.4). */
#define HOST_NAME_MAX_LEN 253
#define LABEL_MAX_LEN     63

/* Checks that host, unless an IPv6 literal, is ASCII and fits DNS: no
 * resolver would find a longer name, so a worker would fail on it only
 * after a lookup. A name outside ASCII would need IDNA conversion, which
 * libcurl does only in a UTF-8 locale, and the services run in the C
 * locale. */
static mr_err
check_host_name(const char *host, const reg_url_subject *subject, char *detail,
                size_t detail_len)
{
    size_t len = strlen(host);
    size_t label = 0;

    if (host[0] == '[') {
        return MR_OK;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)host[i] >= 0x80) {
            snprintf(detail, detail_len,
                     "Write the host of '%s' in ASCII, with each label "
                     "outside ASCII in punycode (\"xn--...\")",
                     subject->field);
            return MR_EINVALID_URL;
        }
    }

    if (len > 0 && host[len - 1] == '.') {
        len--;
    }
    if (len > HOST_NAME_MAX_LEN) {
        snprintf(detail, detail_len,
                 "Use a host name of at most %d characters in '%s': it has "
                 "%zu",
                 HOST_NAME_MAX_LEN, subject->field, len);
        return MR_EINVALID_URL;
    }

    for (size_t i = 0; i <= len; i++) {
        if (i < len && host[i] != '.') {
            label++;
            continue;
        }
        if (label == 0 || label > LABEL_MAX_LEN) {
            snprintf(detail, detail_len,
                     "Use host name labels of 1 to %d characters in '%s': "
                     "one has %zu",
                     LABEL_MAX_LEN, subject->field, label);
            return MR_EINVALID_URL;
        }
        label = 0;
    }
    return MR_OK;
}

/* Applies the scheme and port rules to a URL that curl parsed. */
static mr_err
check_parts(const reg_url_rules *rules, CURLU *u,
            const reg_url_subject *subject, char *detail, size_t detail_len)
{
    char *scheme = NULL;
    char *host = NULL;
    char *port = NULL;
    mr_err err = MR_OK;

    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, 0);

    if (host == NULL || host[0] == '\0') {
        snprintf(detail, detail_len,
                 "Set '%s' to a URL with a host: the host is missing",
                 subject->field);
        err = MR_EINVALID_URL;
    } else if (check_host_name(host, subject, detail, detail_len) != MR_OK) {
        err = MR_EINVALID_URL;
    } else if (port != NULL && strcmp(port, "0") == 0) {
        snprintf(detail, detail_len,
                 "Use a port between 1 and 65535 in '%s': port 0 is not "
                 "allowed",
                 subject->field);
        err = MR_EINVALID_URL;
    } else if (scheme != NULL && strcmp(scheme, "https") == 0) {
        err = MR_OK;
    } else if (scheme != NULL && strcmp(scheme, "http") == 0) {
        if (!mr_allow_http(&rules->allow, host)) {
            snprintf(detail, detail_len,
                     "Use an https URL in '%s': plain http is allowed only "
                     "for the hosts and the IP addresses in the ranges set "
                     "with --dev-allow-hosts, and '%s' is not one of them",
                     subject->field, host);
            err = MR_EINVALID_URL;
        }
    } else {
        snprintf(detail, detail_len,
                 "Use an https URL in '%s': the scheme '%s' is not allowed",
                 subject->field, scheme ? scheme : "");
        err = MR_EINVALID_URL;
    }

    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return err;
}

mr_err
reg_url_check(const reg_url_rules *rules, const char *url, char *detail,
              size_t detail_len)
{
    return reg_url_check_named(rules, url, &reg_url_mcp_server, detail,
                               detail_len);
}

mr_err
reg_url_check_named(const reg_url_rules *rules, const char *url,
                    const reg_url_subject *subject, char *detail,
                    size_t detail_len)
{
    CURLU *u = NULL;
    CURLUcode rc;
    mr_err err;

    if (strlen(url) > REG_URL_MAX) {
        snprintf(detail, detail_len,
                 "Use a shorter '%s': %s is longer than %d bytes",
                 subject->field, subject->noun, REG_URL_MAX);
        return MR_EINVALID_URL;
    }
    err = check_text(url, subject, detail, detail_len);
    if (err == MR_OK) {
        err = check_escapes(url, subject, detail, detail_len);
    }
    if (err != MR_OK) {
        goto out;
    }

    u = curl_url();
    if (u == NULL) {
        err = MR_ENOMEM;
        goto out;
    }
    rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (rc == CURLUE_BAD_PORT_NUMBER) {
        snprintf(detail, detail_len,
                 "Use a port between 1 and 65535 in '%s': the port of %s is "
                 "not one",
                 subject->field, subject->noun);
        err = MR_EINVALID_URL;
        goto out;
    }
    if (rc != CURLUE_OK) {
        snprintf(detail, detail_len,
                 "Set '%s' to an absolute https URL: %s could not be parsed "
                 "(%s)",
                 subject->field, subject->noun, curl_url_strerror(rc));
        err = MR_EINVALID_URL;
        goto out;
    }

    err = check_parts(rules, u, subject, detail, detail_len);

out:
    curl_url_cleanup(u);
    return err;
}

/* origin_len returns the length of the scheme, "://" and the authority at
 * the start of url, or 0 when url has no "://". */
static size_t
origin_len(const char *url)
{
    const char *sep = strstr(url, "://");

    if (sep == NULL) {
        return 0;
    }
    return (size_t)(sep + 3 - url) + strcspn(sep + 3, "/?#");
}

static char
ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool
reg_url_same(const char *a, const char *b)
{
    size_t len = origin_len(a);

    if (len != origin_len(b)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return strcmp(a + len, b + len) == 0;
}
