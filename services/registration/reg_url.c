/* reg_url.c - the rules an MCP server URL must follow, on curl's URL API. */
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
        if (!mr_allow_http(&rules->allow, host)) {
            snprintf(detail, detail_len,
                     "Use an https URL: plain http is allowed only for the "
                     "hosts and the IP addresses in the ranges set with "
                     "--dev-allow-hosts, and '%s' is not one of them",
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
