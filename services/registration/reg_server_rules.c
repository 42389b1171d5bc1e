/* reg_server_rules.c - validation of an MCP server record before it is
 * stored. */
#include <stdio.h>
#include <string.h>

#include "reg_servers.h"

static mr_err
check_name(const char *name, char *detail, size_t detail_len)
{
    if (name[0] == '\0') {
        snprintf(detail, detail_len,
                 "Set 'name' to a non-empty string: 'name' is required");
        return MR_EMISSING_FIELD;
    }
    /* reg_check_text names a control character's code point and offset. */
    return reg_check_text("name", name, detail, detail_len);
}

/* A header name is an RFC 9110 token: visible ASCII except delimiters. */
static bool
is_token(const char *name)
{
    static const char delimiters[] = "\"(),/:;<=>?@[\\]{}";

    if (name[0] == '\0') {
        return false;
    }
    for (const char *c = name; *c != '\0'; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f ||
            strchr(delimiters, *c) != NULL) {
            return false;
        }
    }
    return true;
}

/* A header value may contain tabs but no other control character, so it
 * cannot end the header line it is sent in. */
static bool
is_field_value(const char *value)
{
    for (const char *c = value; *c != '\0'; c++) {
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
            return false;
        }
    }
    return true;
}

static mr_err
check_headers(const Mcpreg__V1__McpServer *server, char *detail,
              size_t detail_len)
{
    if (server->n_headers > REG_HEADERS_MAX) {
        snprintf(detail, detail_len,
                 "Send at most %d headers: 'headers' has %zu", REG_HEADERS_MAX,
                 server->n_headers);
        return MR_EINVALID_FIELD;
    }

    for (size_t i = 0; i < server->n_headers; i++) {
        const Mcpreg__V1__Header *h = server->headers[i];

        if (!is_token(h->key) || strlen(h->key) > REG_TEXT_MAX) {
            snprintf(detail, detail_len,
                     "Set 'headers[%zu].key' to an HTTP header name of at "
                     "most %d token characters: the name is invalid",
                     i, REG_TEXT_MAX);
            return MR_EINVALID_FIELD;
        }
        if (!is_field_value(h->value) ||
            strlen(h->value) > REG_HEADER_VALUE_MAX) {
            /* The value may be a secret, so the detail never quotes it. */
            snprintf(detail, detail_len,
                     "Set 'headers[%zu].value' to at most %d bytes without "
                     "control characters: the value is invalid",
                     i, REG_HEADER_VALUE_MAX);
            return MR_EINVALID_FIELD;
        }
    }
    return MR_OK;
}

static mr_err
check_enums(Mcpreg__V1__McpServer *server, char *detail, size_t detail_len)
{
    if (server->auth_type == MCPREG__V1__AUTH_TYPE__AUTH_TYPE_UNSPECIFIED) {
        server->auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS;
    }
    if (server->auth_type != MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS &&
        server->auth_type != MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH) {
        snprintf(detail, detail_len,
                 "Set 'auth_type' to 'headers' or 'oauth': the value is not "
                 "one of them");
        return MR_EINVALID_FIELD;
    }
    if (server->oauth_mode != MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED &&
        server->oauth_mode !=
            MCPREG__V1__OAUTH_MODE__OAUTH_MODE_LEGACY_SHARED_PROVIDER &&
        server->oauth_mode !=
            MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT) {
        snprintf(detail, detail_len,
                 "Set 'oauth_mode' to 'per_user_dynamic_client' or "
                 "'legacy_shared_provider': the value is not one of them");
        return MR_EINVALID_FIELD;
    }
    return MR_OK;
}

static mr_err
check_auth(Mcpreg__V1__McpServer *server, char provider_id[MR_UUID_LEN + 1],
           char *detail, size_t detail_len)
{
    bool oauth = server->auth_type == MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    bool has_mode =
        server->oauth_mode != MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED;
    bool legacy = server->oauth_mode ==
                  MCPREG__V1__OAUTH_MODE__OAUTH_MODE_LEGACY_SHARED_PROVIDER;
    bool has_provider = server->oauth_provider_id[0] != '\0';

    if (has_mode && !oauth) {
        snprintf(detail, detail_len,
                 "Set auth_type to 'oauth' or remove 'oauth_mode': "
                 "oauth_mode applies only to OAuth servers");
        return MR_EAUTH_CONFIG;
    }
    if (oauth && !has_mode) {
        snprintf(detail, detail_len,
                 "Set 'oauth_mode' to 'per_user_dynamic_client' or "
                 "'legacy_shared_provider': 'oauth_mode' is required when "
                 "auth_type is 'oauth'");
        return MR_EMISSING_FIELD;
    }
    if (has_provider && !legacy) {
        snprintf(detail, detail_len,
                 "Remove 'oauth_provider_id' or set oauth_mode to "
                 "'legacy_shared_provider': only shared-provider servers "
                 "take a provider id");
        return MR_EAUTH_CONFIG;
    }
    if (has_provider &&
        !mr_uuid_canonical(server->oauth_provider_id, provider_id)) {
        snprintf(detail, detail_len,
                 "Set 'oauth_provider_id' to a UUID: the value is not one");
        return MR_EINVALID_FIELD;
    }
    if (has_provider) {
        server->oauth_provider_id = provider_id;
    }
    return MR_OK;
}

mr_err
reg_servers_check(const reg_service *service, Mcpreg__V1__McpServer *server,
                  char provider_id[MR_UUID_LEN + 1], char *detail,
                  size_t detail_len)
{
    mr_err err = check_name(server->name, detail, detail_len);

    if (err != MR_OK) {
        return err;
    }

    if (server->url[0] == '\0') {
        snprintf(detail, detail_len,
                 "Set 'url' to the https URL of the MCP server: 'url' is "
                 "required");
        return MR_EMISSING_FIELD;
    }
    err = reg_url_check(&service->url_rules, server->url, detail, detail_len);
    if (err == MR_OK) {
        err = check_headers(server, detail, detail_len);
    }
    if (err == MR_OK) {
        err = check_enums(server, detail, detail_len);
    }
    if (err == MR_OK) {
        err = check_auth(server, provider_id, detail, detail_len);
    }
    if (err == MR_OK) {
        err =
            reg_check_text("vendor_id", server->vendor_id, detail, detail_len);
    }
    if (err == MR_OK) {
        err = reg_check_text("external_system_id", server->external_system_id,
                             detail, detail_len);
    }
    return err;
}
