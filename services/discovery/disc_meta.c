/* disc_meta.c - protected resource metadata (RFC 9728) and authorization
 * server metadata (RFC 8414) documents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "disc_meta.h"
#include "mr_json.h"
#include "mr_util.h"

/* QUOTED_MAX bounds a remote value quoted in an error detail, in bytes. */
#define QUOTED_MAX 160

mr_err
disc_json_object(const char *body, size_t len, json_t **out, char *why,
                 size_t whylen)
{
    char reason[128];
    json_t *doc = NULL;

    *out = NULL;
    if (mr_json_parse(body, len, MR_JSON_DEPTH_MAX, &doc, reason,
                      sizeof(reason)) != MR_OK) {
        snprintf(why, whylen, "the body is not valid JSON (%s)", reason);
        return MR_EINVALID_BODY;
    }
    if (!json_is_object(doc)) {
        snprintf(why, whylen, "the body is a JSON %s, not an object",
                 mr_json_type_name(doc));
        json_decref(doc);
        return MR_EINVALID_BODY;
    }

    *out = doc;
    return MR_OK;
}

mr_err
disc_json_string(const json_t *doc, const char *name, const char **out)
{
    const json_t *member = json_object_get(doc, name);

    *out = NULL;
    if (member == NULL || json_is_null(member)) {
        return MR_OK;
    }
    if (!json_is_string(member)) {
        return MR_EINVALID_FIELD;
    }
    if (json_string_length(member) > 0) {
        *out = json_string_value(member);
    }
    return MR_OK;
}

mr_err
disc_strdup_or_null(const char *text, char **out)
{
    *out = NULL;
    if (text == NULL) {
        return MR_OK;
    }
    *out = strdup(text);
    return *out != NULL ? MR_OK : MR_ENOMEM;
}

/* MEDIA_TYPE_MAX bounds the "type/subtype" part of a Content-Type value
 * that disc_media_type_is_json reads, in bytes. Longer ones are not JSON.
 */
#define MEDIA_TYPE_MAX 128

/* is_token_char returns whether c may appear in an RFC 9110 token. */
static bool
is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool
disc_media_type_is_json(const char *content_type)
{
    static const char prefix[] = "application/";
    static const char suffix[] = "+json";
    char type[MEDIA_TYPE_MAX];
    const char *p = content_type;
    size_t len = 0;

    if (p == NULL) {
        return false;
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    for (; is_token_char(*p) || *p == '/'; p++) {
        if (len == sizeof(type) - 1) {
            return false;
        }
        type[len++] = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
    }
    type[len] = '\0';
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p != '\0' && *p != ';') {
        return false;
    }

    if (strcmp(type, "application/json") == 0) {
        return true;
    }
    /* application/SUBTYPE+json with a non-empty SUBTYPE and one "/". */
    return len > strlen(prefix) + strlen(suffix) &&
           strncmp(type, prefix, strlen(prefix)) == 0 &&
           strcmp(type + len - strlen(suffix), suffix) == 0 &&
           strchr(type + strlen(prefix), '/') == NULL;
}

static bool
is_scope_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

bool
disc_scope_valid(const char *text)
{
    bool token_start = true;

    for (; *text != '\0'; text++) {
        unsigned char c = (unsigned char)*text;

        if (c == ' ' && !token_start) {
            token_start = true;
        } else if (is_scope_char(c)) {
            token_start = false;
        } else {
            return false;
        }
    }
    return !token_start;
}

/* ---- protected resource metadata ---- */

static mr_err
copy_servers(const json_t *array, disc_prm *out)
{
    size_t n = json_array_size(array);

    out->authorization_servers = calloc(n, sizeof(char *));
    if (out->authorization_servers == NULL) {
        return MR_ENOMEM;
    }

    for (size_t i = 0; i < n; i++) {
        out->authorization_servers[i] =
            strdup(json_string_value(json_array_get(array, i)));
        if (out->authorization_servers[i] == NULL) {
            return MR_ENOMEM;
        }
        out->nauthorization_servers++;
    }
    return MR_OK;
}

/* is_string_array returns whether value is an array of non-empty strings
 * with at least min_size items. */
static bool
is_string_array(const json_t *value, size_t min_size)
{
    size_t i;
    const json_t *item;

    if (!json_is_array(value) || json_array_size(value) < min_size) {
        return false;
    }
    json_array_foreach(value, i, item)
    {
        if (!json_is_string(item) || json_string_length(item) == 0) {
            return false;
        }
    }
    return true;
}

/* join_scopes stores scopes_supported joined by spaces in out->scopes, or
 * NULL when the array is empty. Each item must be one scope token. */
static mr_err
join_scopes(const json_t *array, disc_prm *out, char *why, size_t whylen)
{
    size_t len = 0;
    size_t i;
    const json_t *item;

    json_array_foreach(array, i, item)
    {
        if (!disc_scope_valid(json_string_value(item)) ||
            strchr(json_string_value(item), ' ') != NULL) {
            snprintf(why, whylen,
                     "scopes_supported item %zu is not a scope token", i);
            return MR_ENO_RESOURCE_METADATA;
        }
        len += json_string_length(item) + 1;
    }
    if (len == 0) {
        return MR_OK;
    }

    out->scopes = malloc(len);
    if (out->scopes == NULL) {
        return MR_ENOMEM;
    }

    len = 0;
    json_array_foreach(array, i, item)
    {
        size_t n = json_string_length(item);

        if (i > 0) {
            out->scopes[len++] = ' ';
        }
        memcpy(out->scopes + len, json_string_value(item), n);
        len += n;
    }
    out->scopes[len] = '\0';
    return MR_OK;
}

mr_err
disc_prm_parse(const char *body, size_t len, disc_prm *out, char *why,
               size_t whylen)
{
    json_t *doc = NULL;
    const json_t *servers;
    const json_t *scopes;
    const char *resource = NULL;
    mr_err err = MR_ENO_RESOURCE_METADATA;

    *out = (disc_prm){0};
    if (disc_json_object(body, len, &doc, why, whylen) != MR_OK) {
        goto out;
    }

    if (disc_json_string(doc, "resource", &resource) != MR_OK ||
        resource == NULL) {
        snprintf(why, whylen, "the document has no string resource");
        goto out;
    }

    servers = json_object_get(doc, "authorization_servers");
    if (!is_string_array(servers, 1)) {
        snprintf(why, whylen,
                 "the document has no authorization_servers "
                 "array of strings");
        goto out;
    }

    scopes = json_object_get(doc, "scopes_supported");
    if (scopes != NULL && !json_is_null(scopes) &&
        !is_string_array(scopes, 0)) {
        snprintf(why, whylen, "scopes_supported is not an array of strings");
        goto out;
    }

    out->resource = strdup(resource);
    err = out->resource != NULL ? copy_servers(servers, out) : MR_ENOMEM;
    if (err == MR_OK && json_is_array(scopes)) {
        err = join_scopes(scopes, out, why, whylen);
    }
out:
    if (err != MR_OK) {
        disc_prm_free(out);
    }
    json_decref(doc);
    return err;
}

mr_err
disc_prm_check_resource(const disc_prm *prm, const disc_url *mcp_url,
                        char *why, size_t whylen)
{
    char quoted[QUOTED_MAX];
    const char *reason = NULL;
    disc_url resource;
    mr_err err = MR_ERESOURCE_MISMATCH;

    mr_sanitize(quoted, sizeof(quoted), prm->resource);
    if (disc_url_parse(prm->resource, &resource, &reason) != MR_OK) {
        snprintf(why, whylen, "resource \"%s\" %s", quoted, reason);
        return err;
    }

    if (!disc_url_same_origin(&resource, mcp_url)) {
        snprintf(why, whylen,
                 "resource \"%s\" is not on the MCP server URL's origin",
                 quoted);
    } else if (!disc_url_path_within(&resource, mcp_url)) {
        snprintf(why, whylen,
                 "resource \"%s\" does not cover the MCP server URL's path "
                 "\"%s\"",
                 quoted, mcp_url->path);
    } else {
        err = MR_OK;
    }
    disc_url_free(&resource);
    return err;
}

void
disc_prm_free(disc_prm *prm)
{
    for (size_t i = 0; i < prm->nauthorization_servers; i++) {
        free(prm->authorization_servers[i]);
    }
    free(prm->authorization_servers);
    free(prm->resource);
    free(prm->scopes);
    *prm = (disc_prm){0};
}

/* ---- authorization server metadata ---- */

/* has_empty_path returns whether url ends with its authority, with no
 * path, query or fragment after it. */
static bool
has_empty_path(const char *url)
{
    const char *authority = strstr(url, "://");

    return authority != NULL && strpbrk(authority + 3, "/?#") == NULL;
}

bool
disc_issuer_equal(const char *found, const char *expected)
{
    size_t found_len = strlen(found);
    size_t expected_len = strlen(expected);
    const char *shorter = found_len < expected_len ? found : expected;
    const char *longer = found_len < expected_len ? expected : found;
    size_t shorter_len = strlen(shorter);

    if (strcmp(found, expected) == 0) {
        return true;
    }
    if (strlen(longer) != shorter_len + 1 ||
        strncmp(longer, shorter, shorter_len) != 0 ||
        longer[shorter_len] != '/') {
        return false;
    }
    return has_empty_path(shorter);
}

/* Returns whether the array member name of doc lists the string value. */
static bool
lists(const json_t *doc, const char *name, const char *value)
{
    const json_t *array = json_object_get(doc, name);
    size_t i;
    const json_t *item;

    json_array_foreach(array, i, item)
    {
        if (json_is_string(item) &&
            strcmp(json_string_value(item), value) == 0) {
            return true;
        }
    }
    return false;
}

/* copy_endpoint validates the URL member name and copies it into *out.
 * A missing member is an error only when required is set. */
static mr_err
copy_endpoint(const json_t *doc, const char *name, bool required,
              const mr_allow_list *allow, char **out, char *why, size_t whylen)
{
    const char *text = NULL;
    const char *reason = NULL;
    char quoted[QUOTED_MAX];
    mr_err err;

    *out = NULL;
    if (disc_json_string(doc, name, &text) != MR_OK) {
        snprintf(why, whylen, "%s is not a string", name);
        return MR_EAS_METADATA;
    }
    if (text == NULL) {
        if (required) {
            snprintf(why, whylen, "the document has no %s", name);
        }
        return required ? MR_EAS_METADATA : MR_OK;
    }

    err = disc_url_check(text, allow, NULL, &reason);
    if (err == MR_EINVALID_FIELD) {
        err = MR_EAS_METADATA;
    }
    if (err != MR_OK) {
        mr_sanitize(quoted, sizeof(quoted), text);
        snprintf(why, whylen, "%s \"%s\" %s", name, quoted, reason);
        return err;
    }
    return disc_strdup_or_null(text, out);
}

/* read_auth_methods sets meta->auth_methods from
 * token_endpoint_auth_methods_supported, which defaults to
 * client_secret_basic (RFC 8414 section 2) when absent, null or empty. */
static mr_err
read_auth_methods(const json_t *doc, disc_asm *meta, char *why, size_t whylen)
{
    const json_t *methods =
        json_object_get(doc, "token_endpoint_auth_methods_supported");
    size_t i;
    const json_t *item;

    meta->auth_methods = DISC_AUTH_SECRET_BASIC;
    if (methods == NULL || json_is_null(methods) ||
        (json_is_array(methods) && json_array_size(methods) == 0)) {
        return MR_OK;
    }
    if (!is_string_array(methods, 1)) {
        snprintf(why, whylen,
                 "token_endpoint_auth_methods_supported is not "
                 "an array of strings");
        return MR_EAS_METADATA;
    }

    meta->auth_methods = 0;
    json_array_foreach(methods, i, item)
    {
        const char *name = json_string_value(item);

        if (strcmp(name, "client_secret_basic") == 0) {
            meta->auth_methods |= DISC_AUTH_SECRET_BASIC;
        } else if (strcmp(name, "client_secret_post") == 0) {
            meta->auth_methods |= DISC_AUTH_SECRET_POST;
        } else if (strcmp(name, "none") == 0) {
            meta->auth_methods |= DISC_AUTH_NONE;
        }
    }
    return MR_OK;
}

/* copy_endpoints validates and copies the four endpoints. An invalid
 * revocation_endpoint is dropped rather than failing discovery, because
 * registration does not need it and a caller never gets an unsafe one. */
static mr_err
copy_endpoints(const json_t *doc, const mr_allow_list *allow, disc_asm *meta,
               char *why, size_t whylen)
{
    char ignored[DISC_DETAIL_MAX];
    mr_err err = copy_endpoint(doc, "authorization_endpoint", true, allow,
                               &meta->authorization_endpoint, why, whylen);

    if (err == MR_OK) {
        err = copy_endpoint(doc, "token_endpoint", true, allow,
                            &meta->token_endpoint, why, whylen);
    }
    if (err == MR_OK) {
        err = copy_endpoint(doc, "registration_endpoint", false, allow,
                            &meta->registration_endpoint, why, whylen);
    }
    if (err == MR_OK && copy_endpoint(doc, "revocation_endpoint", false, allow,
                                      &meta->revocation_endpoint, ignored,
                                      sizeof(ignored)) == MR_ENOMEM) {
        err = MR_ENOMEM;
    }
    return err;
}

mr_err
disc_asm_parse(const char *body, size_t len, const char *issuer,
               const mr_allow_list *allow, disc_asm *out, bool *is_document,
               char *why, size_t whylen)
{
    json_t *doc = NULL;
    const char *found = NULL;
    char quoted[QUOTED_MAX];
    mr_err err = MR_EAS_METADATA;

    *out = (disc_asm){0};
    *is_document = false;
    if (disc_json_object(body, len, &doc, why, whylen) != MR_OK) {
        goto out;
    }
    if (disc_json_string(doc, "issuer", &found) != MR_OK || found == NULL) {
        snprintf(why, whylen, "the document has no string issuer");
        goto out;
    }
    *is_document = true;

    if (!disc_issuer_equal(found, issuer)) {
        mr_sanitize(quoted, sizeof(quoted), found);
        snprintf(why, whylen, "its issuer \"%s\" is not \"%s\"", quoted,
                 issuer);
        err = MR_EISSUER_MISMATCH;
        goto out;
    }
    if (!lists(doc, "code_challenge_methods_supported", "S256")) {
        snprintf(why, whylen,
                 "code_challenge_methods_supported does not list S256");
        err = MR_EPKCE;
        goto out;
    }
    /* RFC 8414 section 2 requires the member; without it, code is
     * assumed, as the code flow is the one MCP uses. */
    if (json_object_get(doc, "response_types_supported") != NULL &&
        !lists(doc, "response_types_supported", "code")) {
        snprintf(why, whylen, "response_types_supported does not list code");
        goto out;
    }

    err = disc_strdup_or_null(found, &out->issuer);
    if (err == MR_OK) {
        err = copy_endpoints(doc, allow, out, why, whylen);
    }
    if (err == MR_OK) {
        err = read_auth_methods(doc, out, why, whylen);
    }
    out->client_id_metadata_document_supported = json_is_true(
        json_object_get(doc, "client_id_metadata_document_supported"));
out:
    if (err != MR_OK) {
        disc_asm_free(out);
    }
    json_decref(doc);
    return err;
}

/* join2 returns a followed by b, or NULL when memory runs out. */
static char *
join2(const char *a, const char *b)
{
    size_t a_len = strlen(a);
    size_t b_len = strlen(b);
    char *out = malloc(a_len + b_len + 1);

    if (out != NULL) {
        memcpy(out, a, a_len);
        memcpy(out + a_len, b, b_len + 1);
    }
    return out;
}

mr_err
disc_asm_default(const char *origin, disc_asm *out)
{
    *out = (disc_asm){0};
    out->issuer = strdup(origin);
    out->authorization_endpoint = join2(origin, "/authorize");
    out->token_endpoint = join2(origin, "/token");
    out->registration_endpoint = join2(origin, "/register");
    out->auth_methods = DISC_AUTH_SECRET_BASIC;

    if (out->issuer == NULL || out->authorization_endpoint == NULL ||
        out->token_endpoint == NULL || out->registration_endpoint == NULL) {
        disc_asm_free(out);
        return MR_ENOMEM;
    }
    return MR_OK;
}

void
disc_asm_free(disc_asm *meta)
{
    free(meta->issuer);
    free(meta->authorization_endpoint);
    free(meta->token_endpoint);
    free(meta->registration_endpoint);
    free(meta->revocation_endpoint);
    *meta = (disc_asm){0};
}

const char *
disc_choose_auth_method(const disc_asm *meta)
{
    if (meta->auth_methods & DISC_AUTH_SECRET_BASIC) {
        return "client_secret_basic";
    }
    if (meta->auth_methods & DISC_AUTH_SECRET_POST) {
        return "client_secret_post";
    }
    if (meta->auth_methods & DISC_AUTH_NONE) {
        return "none";
    }
    return NULL;
}
