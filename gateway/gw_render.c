/* gw_render.c - replies of the registration service as REST JSON. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_render.h"
#include "mr_api.h"
#include "mr_util.h"

/* Returns the REST name of type. UNSPECIFIED is "headers", the service's
 * default, so that the enum's zero value never reaches a client. */
static const char *
auth_type_name(Mcpreg__V1__AuthType type)
{
    switch (type) {
    case MCPREG__V1__AUTH_TYPE__AUTH_TYPE_UNSPECIFIED:
    case MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS:
        return "headers";
    case MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH:
        return "oauth";
    default:
        return NULL;
    }
}

/* Returns the REST value of mode, a JSON string. It returns NULL for an
 * unset mode, which the caller leaves out, and for a value unknown to the
 * gateway. */
static json_t *
oauth_mode_value(Mcpreg__V1__OAuthMode mode)
{
    switch (mode) {
    case MCPREG__V1__OAUTH_MODE__OAUTH_MODE_LEGACY_SHARED_PROVIDER:
        return json_string("legacy_shared_provider");
    case MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT:
        return json_string("per_user_dynamic_client");
    default:
        return NULL;
    }
}

/* Returns text as a JSON string, or JSON null when it is empty or NULL. */
static json_t *
string_or_null(const char *text)
{
    if (text == NULL || text[0] == '\0') {
        return json_null();
    }
    return json_string(text);
}

static json_t *
time_value(int64_t ms)
{
    char text[32];

    mr_format_time(ms, text);
    return json_string(text);
}

/* Builds the headers array with masked values. Returns NULL on failure. */
static json_t *
masked_headers(const Mcpreg__V1__McpServer *server)
{
    json_t *array = json_array();
    int rc = 0;

    if (array == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < server->n_headers; i++) {
        json_t *entry = json_pack("{s:s, s:s}", "key", server->headers[i]->key,
                                  "value", GW_MASKED_VALUE);

        rc |= json_array_append_new(array, entry);
    }
    if (rc != 0) {
        json_decref(array);
        return NULL;
    }
    return array;
}

mr_err
gw_render_server(const Mcpreg__V1__McpServer *server, json_t **out)
{
    const char *auth_type = auth_type_name(server->auth_type);
    json_t *obj = json_object();
    int rc = 0;

    if (obj == NULL) {
        return MR_ENOMEM;
    }
    if (auth_type == NULL) {
        json_decref(obj);
        return MR_EINTERNAL;
    }

    /* json_object_set_new fails on a NULL value, which every failed
     * constructor returns, and still releases what it was given. */
    rc |= json_object_set_new(obj, "id", json_string(server->id));
    rc |= json_object_set_new(obj, "tenant_id",
                              json_string(server->workspace_id));
    rc |= json_object_set_new(obj, "name", json_string(server->name));
    rc |= json_object_set_new(obj, "url", json_string(server->url));
    rc |= json_object_set_new(obj, "headers", masked_headers(server));
    rc |= json_object_set_new(obj, "auth_type", json_string(auth_type));
    /* The published schema types oauth_mode as a string, never null, so
     * a server without a mode has no member. */
    if (server->oauth_mode != MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED) {
        rc |= json_object_set_new(obj, "oauth_mode",
                                  oauth_mode_value(server->oauth_mode));
    }
    rc |= json_object_set_new(obj, "oauth_provider_id",
                              string_or_null(server->oauth_provider_id));
    rc |= json_object_set_new(obj, "created_at",
                              time_value(server->created_at_ms));
    rc |= json_object_set_new(obj, "updated_at",
                              time_value(server->updated_at_ms));
    rc |= json_object_set_new(obj, "mcp_vendor_id", json_null());
    rc |= json_object_set_new(obj, "vendor_id",
                              string_or_null(server->vendor_id));
    rc |= json_object_set_new(obj, "external_system_id",
                              string_or_null(server->external_system_id));
    rc |= json_object_set_new(obj, "can_invoke", json_true());

    if (rc != 0) {
        /* Allocation failures and invalid UTF-8 look alike here. The
         * service stores only validated UTF-8, so this is reported as an
         * internal error. */
        json_decref(obj);
        return MR_EINTERNAL;
    }
    *out = obj;
    return MR_OK;
}

mr_err
gw_render_list(const Mcpreg__V1__ListMcpServersResponse *list, json_t **out)
{
    json_t *array = json_array();
    json_t *item = NULL;
    mr_err err = MR_OK;

    if (array == NULL) {
        return MR_ENOMEM;
    }

    for (size_t i = 0; i < list->n_servers; i++) {
        err = gw_render_server(list->servers[i], &item);
        if (err != MR_OK) {
            goto out;
        }
        if (json_array_append_new(array, item) != 0) {
            err = MR_ENOMEM;
            goto out;
        }
    }

out:
    if (err != MR_OK) {
        json_decref(array);
        return err;
    }
    *out = array;
    return MR_OK;
}

/* is_plain returns whether text can stand inside a JSON string as it is:
 * printable ASCII without quote or backslash. */
static bool
is_plain(const char *text)
{
    for (; *text != '\0'; text++) {
        unsigned char c = (unsigned char)*text;

        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            return false;
        }
    }
    return true;
}

mr_err
gw_render_register(const Mcpreg__V1__RegisterOAuthProviderResponse *reply,
                   char **body)
{
    static const char head[] = "{\"oauth_provider_id\":\"";
    const char *id = reply->oauth_provider_id;
    size_t len = strlen(id);
    json_t *obj;

    /* The repeat call's body, written without building a JSON value. The
     * service's ids are UUIDs; anything else goes through jansson. */
    if (is_plain(id)) {
        *body = malloc(sizeof(head) + len + 2);
        if (*body == NULL) {
            return MR_ENOMEM;
        }
        memcpy(*body, head, sizeof(head) - 1);
        memcpy(*body + sizeof(head) - 1, id, len);
        memcpy(*body + sizeof(head) - 1 + len, "\"}", 3);
        return MR_OK;
    }

    obj = json_pack("{s:s}", "oauth_provider_id", id);
    *body = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    return *body != NULL ? MR_OK : MR_EINTERNAL;
}

/* join_url returns base without trailing slashes followed by path. */
static char *
join_url(const char *base, const char *path)
{
    size_t base_len = strlen(base);
    size_t path_len = strlen(path);
    char *url;

    while (base_len > 0 && base[base_len - 1] == '/') {
        base_len--;
    }
    url = malloc(base_len + path_len + 1);
    if (url != NULL) {
        memcpy(url, base, base_len);
        memcpy(url + base_len, path, path_len + 1);
    }
    return url;
}

char *
gw_render_client_metadata(const char *public_base_url)
{
    char *client_id = join_url(public_base_url, MR_CLIENT_METADATA_PATH);
    char *redirect = join_url(public_base_url, MR_CALLBACK_PATH);
    char *text = NULL;
    json_t *doc = NULL;

    if (client_id == NULL || redirect == NULL) {
        goto out;
    }
    doc = json_pack(
        "{s:s, s:s, s:[s], s:[s,s], s:[s], s:s, s:s}", "client_id", client_id,
        "client_name", "mcpreg", "redirect_uris", redirect, "grant_types",
        "authorization_code", "refresh_token", "response_types", "code",
        "token_endpoint_auth_method", "none", "application_type", "web");
    if (doc != NULL) {
        text = json_dumps(doc, JSON_COMPACT);
    }

out:
    json_decref(doc);
    free(redirect);
    free(client_id);
    return text;
}
