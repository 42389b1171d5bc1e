/* reg_url.c - the rules an MCP server URL must follow, on curl's URL API. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "reg_url.h"

/* Copies the host text[0..len) in lower case and without IPv6 brackets. */
static char *
normalize_host(const char *text, size_t len)
{
    char *host;

    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
    }

    host = malloc(len + 1);
    if (host == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        host[i] = (char)tolower((unsigned char)text[i]);
    }
    host[len] = '\0';
    return host;
}

mr_err
reg_url_rules_parse(reg_url_rules *rules, const char *list)
{
    const char *p = list ? list : "";

    rules->hosts = NULL;
    rules->nhosts = 0;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        const char *start = p;
        const char *end = p + len;
        char **grown;

        p = *end == ',' ? end + 1 : end;
        while (start < end && isspace((unsigned char)*start)) {
            start++;
        }
        while (end > start && isspace((unsigned char)end[-1])) {
            end--;
        }
        if (start == end) {
            continue;
        }

        grown = realloc(rules->hosts, (rules->nhosts + 1) * sizeof(char *));
        if (grown == NULL) {
            goto nomem;
        }
        rules->hosts = grown;
        rules->hosts[rules->nhosts] =
            normalize_host(start, (size_t)(end - start));
        if (rules->hosts[rules->nhosts] == NULL) {
            goto nomem;
        }
        rules->nhosts++;
    }
    return MR_OK;

nomem:
    reg_url_rules_free(rules);
    return MR_ENOMEM;
}

void
reg_url_rules_free(reg_url_rules *rules)
{
    for (size_t i = 0; i < rules->nhosts; i++) {
        free(rules->hosts[i]);
    }
    free(rules->hosts);
    rules->hosts = NULL;
    rules->nhosts = 0;
}

static int
host_allowed(const reg_url_rules *rules, const char *host)
{
    char *plain = normalize_host(host, strlen(host));
    int found = 0;

    if (plain == NULL) {
        return 0;
    }
    for (size_t i = 0; i < rules->nhosts && !found; i++) {
        found = strcmp(rules->hosts[i], plain) == 0;
    }
    free(plain);
    return found;
}

static mr_err
invalid(char *detail, size_t detail_len, const char *text)
{
    snprintf(detail, detail_len, "%s", text);
    return MR_EINVALID_URL;
}

/*
 * Checks the raw text for what curl's parser accepts but an MCP server URL
 * must not have: curl takes "https:/host" and "https:///host", ignores an
 * empty user ("https://@host") and an empty fragment ("https://host/#"),
 * and decodes a percent-encoded host.
 */
static mr_err
check_text(const char *url, char *detail, size_t detail_len)
{
    const char *sep = strstr(url, "://");
    size_t authority_len;

    for (const char *c = url; *c != '\0'; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            return invalid(detail, detail_len,
                           "Remove white space and control characters from "
                           "'url': the MCP server URL contains one");
        }
    }
    if (strchr(url, '#') != NULL) {
        return invalid(detail, detail_len,
                       "Remove the fragment ('#...') from 'url': the MCP "
                       "server URL must not have one");
    }
    if (sep == NULL || sep == url ||
        strcspn(url, ":/?") != (size_t)(sep - url) || sep[3] == '/') {
        return invalid(detail, detail_len,
                       "Set 'url' to an absolute URL such as "
                       "https://mcp.example.com/mcp: the scheme must be "
                       "followed by '://' and a host");
    }

    authority_len = strcspn(sep + 3, "/?");
    if (memchr(sep + 3, '@', authority_len) != NULL) {
        return invalid(detail, detail_len,
                       "Remove the user name and password from 'url': the "
                       "MCP server URL must not contain user info");
    }
    if (memchr(sep + 3, '%', authority_len) != NULL) {
        return invalid(detail, detail_len,
                       "Write the host of 'url' without percent-encoding: "
                       "the host contains '%'");
    }
    return MR_OK;
}

/* Applies the scheme and port rules to a URL that curl parsed. */
static mr_err
check_parts(const reg_url_rules *rules, CURLU *u, char *detail,
            size_t detail_len)
{
    char *scheme = NULL;
    char *host = NULL;
    char *port = NULL;
    mr_err err = MR_OK;

    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, 0);

    if (host == NULL || host[0] == '\0') {
        err = invalid(detail, detail_len,
                      "Set 'url' to a URL with a host: the host is missing");
    } else if (port != NULL && strcmp(port, "0") == 0) {
        err = invalid(detail, detail_len,
                      "Use a port between 1 and 65535 in 'url': port 0 is "
                      "not allowed");
    } else if (scheme != NULL && strcmp(scheme, "https") == 0) {
        err = MR_OK;
    } else if (scheme != NULL && strcmp(scheme, "http") == 0) {
        if (!host_allowed(rules, host)) {
            snprintf(detail, detail_len,
                     "Use an https URL: plain http is allowed only for the "
                     "development hosts set with --dev-allow-hosts, and "
                     "'%s' is not one",
                     host);
            err = MR_EINVALID_URL;
        }
    } else {
        snprintf(detail, detail_len,
                 "Use an https URL: the scheme '%s' is not allowed",
                 scheme ? scheme : "");
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
    CURLU *u = NULL;
    CURLUcode rc;
    mr_err err;

    if (strlen(url) > REG_URL_MAX) {
        snprintf(detail, detail_len,
                 "Use a shorter 'url': the MCP server URL is longer than %d "
                 "bytes",
                 REG_URL_MAX);
        return MR_EINVALID_URL;
    }
    err = check_text(url, detail, detail_len);
    if (err != MR_OK) {
        goto out;
    }

    u = curl_url();
    if (u == NULL) {
        err = MR_ENOMEM;
        goto out;
    }
    rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        snprintf(detail, detail_len,
                 "Set 'url' to an absolute https URL: the MCP server URL "
                 "could not be parsed (%s)",
                 curl_url_strerror(rc));
        err = MR_EINVALID_URL;
        goto out;
    }

    err = check_parts(rules, u, detail, detail_len);

out:
    curl_url_cleanup(u);
    return err;
}
