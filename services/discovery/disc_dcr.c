/* disc_dcr.c - the RFC 7591 dynamic client registration request and the
 * parsing of its responses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "disc_meta.h"
#include "mr_util.h"

/* ERROR_CODE_MAX and ERROR_DESCRIPTION_MAX bound the error members of a
 * registration error response copied into a detail, in bytes. */
#define ERROR_CODE_MAX        64
#define ERROR_DESCRIPTION_MAX 256

char *
disc_dcr_body(const char *redirect_uri, const char *auth_method,
              const char *scope)
{
    json_t *body = json_pack(
        "{s:[s], s:[s,s], s:[s], s:s, s:s, s:s}", "redirect_uris",
        redirect_uri, "grant_types", "authorization_code", "refresh_token",
        "response_types", "code", "client_name", "mcpreg", "application_type",
        "web", "token_endpoint_auth_method", auth_method);
    char *text = NULL;

    if (body == NULL) {
        return NULL;
    }
    if (scope != NULL &&
        json_object_set_new(body, "scope", json_string(scope)) != 0) {
        goto out;
    }
    text = json_dumps(body, JSON_COMPACT);
out:
    json_decref(body);
    return text;
}

/* read_time reads a NumericDate member (seconds since the epoch) into
 * *out: 0 when absent or null, else a non-negative integer. A number with
 * a fraction of zero, such as 1.7e9, is accepted too. */
static mr_err
read_time(const json_t *doc, const char *name, int64_t *out, char *why,
          size_t whylen)
{
    const json_t *member = json_object_get(doc, name);
    double value;

    *out = 0;
    if (member == NULL || json_is_null(member)) {
        return MR_OK;
    }
    if (json_is_integer(member) && json_integer_value(member) >= 0) {
        *out = json_integer_value(member);
        return MR_OK;
    }

    value = json_is_real(member) ? json_real_value(member) : -1;
    if (value >= 0 && value < 9.2e18 && floor(value) == value) {
        *out = (int64_t)value;
        return MR_OK;
    }
    snprintf(why, whylen, "%s is not a non-negative integer", name);
    return MR_EREGISTRATION_INVALID;
}

/* copy_string copies the string member name into *out, or NULL when it is
 * absent, null or "". */
static mr_err
copy_string(const json_t *doc, const char *name, char **out, char *why,
            size_t whylen)
{
    const char *text = NULL;

    *out = NULL;
    if (disc_json_string(doc, name, &text) != MR_OK) {
        snprintf(why, whylen, "%s is not a string", name);
        return MR_EREGISTRATION_INVALID;
    }
    return disc_strdup_or_null(text, out);
}

static mr_err
copy_members(const json_t *doc, const char *requested_method, disc_client *out,
             char *why, size_t whylen)
{
    mr_err err = copy_string(doc, "client_id", &out->client_id, why, whylen);

    if (err == MR_OK && out->client_id == NULL) {
        snprintf(why, whylen, "the response has no client_id");
        err = MR_EREGISTRATION_INVALID;
    }
    if (err == MR_OK) {
        err = copy_string(doc, "client_secret", &out->client_secret, why,
                          whylen);
    }
    if (err == MR_OK) {
        err = copy_string(doc, "token_endpoint_auth_method",
                          &out->token_endpoint_auth_method, why, whylen);
    }
    if (err == MR_OK && out->token_endpoint_auth_method == NULL) {
        err = disc_strdup_or_null(requested_method,
                                  &out->token_endpoint_auth_method);
    }
    if (err == MR_OK) {
        err = copy_string(doc, "registration_access_token",
                          &out->registration_access_token, why, whylen);
    }
    if (err == MR_OK) {
        err = copy_string(doc, "registration_client_uri",
                          &out->registration_client_uri, why, whylen);
    }
    if (err == MR_OK) {
        err = read_time(doc, "client_id_issued_at", &out->client_id_issued_at,
                        why, whylen);
    }
    if (err == MR_OK) {
        err = read_time(doc, "client_secret_expires_at",
                        &out->client_secret_expires_at, why, whylen);
    }
    return err;
}

/* Returns whether text contains a C0 control character or DEL. */
static bool
has_control(const char *text)
{
    for (const char *c = text; c != NULL && *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return true;
        }
    }
    return false;
}

/* check_client checks that the registered client is one mcpreg can use:
 * a known auth method, a secret when that method needs one, credentials
 * without control characters (RFC 6749 appendix A allows only visible
 * ASCII and space), and a safe registration_client_uri, because the
 * access token is sent there. */
static mr_err
check_client(const disc_client *client, const mr_allow_list *allow, char *why,
             size_t whylen)
{
    const char *method = client->token_endpoint_auth_method;
    const char *reason = NULL;
    char quoted[160];
    bool needs_secret = strcmp(method, "client_secret_basic") == 0 ||
                        strcmp(method, "client_secret_post") == 0;

    if (!needs_secret && strcmp(method, "none") != 0) {
        mr_sanitize(quoted, sizeof(quoted), method);
        snprintf(why, whylen,
                 "token_endpoint_auth_method \"%s\" is not one mcpreg "
                 "supports (client_secret_basic, client_secret_post, none)",
                 quoted);
        return MR_EREGISTRATION_INVALID;
    }
    if (needs_secret && client->client_secret == NULL) {
        snprintf(why, whylen,
                 "token_endpoint_auth_method %s needs a client_secret, but "
                 "the response has none",
                 method);
        return MR_EREGISTRATION_NO_SECRET;
    }
    /* The secret is never quoted. */
    if (has_control(client->client_id) || has_control(client->client_secret)) {
        snprintf(why, whylen, "the %s contains a control character",
                 has_control(client->client_id) ? "client_id"
                                                : "client_secret");
        return MR_EREGISTRATION_INVALID;
    }

    if (client->registration_client_uri != NULL &&
        disc_url_check(client->registration_client_uri, allow, NULL,
                       &reason) != MR_OK) {
        mr_sanitize(quoted, sizeof(quoted), client->registration_client_uri);
        snprintf(why, whylen, "registration_client_uri \"%s\" %s", quoted,
                 reason);
        return MR_EREGISTRATION_INVALID;
    }
    return MR_OK;
}

mr_err
disc_dcr_parse_client(const char *body, size_t len,
                      const char *requested_method, const mr_allow_list *allow,
                      disc_client *out, char *why, size_t whylen)
{
    json_t *doc = NULL;
    mr_err err = MR_EREGISTRATION_INVALID;

    *out = (disc_client){0};
    if (disc_json_object(body, len, &doc, why, whylen) != MR_OK) {
        goto out;
    }

    err = copy_members(doc, requested_method, out, why, whylen);
    if (err == MR_OK) {
        err = check_client(out, allow, why, whylen);
    }
out:
    if (err != MR_OK) {
        disc_client_free(out);
    }
    json_decref(doc);
    return err;
}

bool
disc_dcr_keeps_redirect_uri(const char *body, size_t len,
                            const char *redirect_uri)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const json_t *uris = json_object_get(doc, "redirect_uris");
    bool listed = uris == NULL || json_is_null(uris);
    size_t i;
    const json_t *item;

    json_array_foreach(uris, i, item)
    {
        listed |= json_is_string(item) &&
                  strcmp(json_string_value(item), redirect_uri) == 0;
    }
    json_decref(doc);
    return listed;
}

void
disc_dcr_parse_error(const char *body, size_t len, char *out, size_t outlen)
{
    char ignored[DISC_DETAIL_MAX];
    char code[ERROR_CODE_MAX];
    char description[ERROR_DESCRIPTION_MAX];
    const char *code_text = NULL;
    const char *description_text = NULL;
    json_t *doc = NULL;

    out[0] = '\0';
    if (disc_json_object(body, len, &doc, ignored, sizeof(ignored)) != MR_OK ||
        disc_json_string(doc, "error", &code_text) != MR_OK ||
        code_text == NULL) {
        goto out;
    }
    mr_sanitize(code, sizeof(code), code_text);

    if (disc_json_string(doc, "error_description", &description_text) ==
            MR_OK &&
        description_text != NULL) {
        mr_sanitize(description, sizeof(description), description_text);
        snprintf(out, outlen, "%s: %s", code, description);
    } else {
        snprintf(out, outlen, "%s", code);
    }
out:
    json_decref(doc);
}

bool
disc_dcr_rejects_method(const char *body, size_t len, const char *method)
{
    char ignored[DISC_DETAIL_MAX];
    const char *code = NULL;
    const char *description = NULL;
    json_t *doc = NULL;
    bool rejects = false;

    if (disc_json_object(body, len, &doc, ignored, sizeof(ignored)) != MR_OK ||
        disc_json_string(doc, "error", &code) != MR_OK || code == NULL ||
        strcmp(code, "invalid_client_metadata") != 0) {
        goto out;
    }

    if (disc_json_string(doc, "error_description", &description) != MR_OK ||
        description == NULL) {
        goto out;
    }
    rejects = strstr(description, "token_endpoint_auth_method") != NULL ||
              strstr(description, method) != NULL;
out:
    json_decref(doc);
    return rejects;
}

/* free_secret wipes a secret before freeing it, so the freed heap does not
 * keep a copy. */
static void
free_secret(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

void
disc_client_free(disc_client *client)
{
    free(client->client_id);
    free_secret(client->client_secret);
    free(client->token_endpoint_auth_method);
    free_secret(client->registration_access_token);
    free(client->registration_client_uri);
    *client = (disc_client){0};
}
