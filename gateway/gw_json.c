/* gw_json.c - validation of REST JSON bodies into protobuf requests. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_headers.h"
#include "gw_json.h"
#include "mr_json.h"

/* FIELD_NAME_MAX bounds the field paths and unknown member names quoted in
 * details, such as "headers[63].value". */
#define FIELD_NAME_MAX 80

/* detail_sink is where a check writes the detail of its failure. */
typedef struct {
    char *text;
    size_t size;
} detail_sink;

__attribute__((format(printf, 3, 4))) static mr_err
fail(const detail_sink *sink, mr_err err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sink->text, sink->size, fmt, ap);
    va_end(ap);
    return err;
}

/* Checks that every member of obj is in allowed, a NULL-terminated list.
 * It returns MR_EUNKNOWN_FIELD naming the first other member in document
 * order. */
static mr_err
check_members(const json_t *obj, const char *const *allowed,
              const char *prefix, const detail_sink *sink)
{
    const char *key;
    json_t *value;
    char name[FIELD_NAME_MAX];

    /* json_object_foreach does not modify obj but takes no const. */
    json_object_foreach((json_t *)obj, key, value)
    {
        bool known = false;

        for (size_t i = 0; allowed[i] != NULL && !known; i++) {
            known = strcmp(key, allowed[i]) == 0;
        }
        if (!known) {
            gw_copy_text(name, sizeof(name), key);
            return fail(sink, MR_EUNKNOWN_FIELD,
                        "Remove '%s%s': it is not a field of this request",
                        prefix, name);
        }
    }
    return MR_OK;
}

/*
 * Reads the string member field of obj into *out and its length into *len.
 * An absent member leaves *out alone and returns MR_OK, so callers decide
 * whether it is required. It returns MR_EINVALID_FIELD for a value that is
 * not a string or is longer than max bytes.
 */
static mr_err
read_string(const json_t *obj, const char *field, size_t max, const char **out,
            size_t *len, const detail_sink *sink)
{
    const json_t *value = json_object_get(obj, field);

    if (value == NULL) {
        return MR_OK;
    }
    if (!json_is_string(value)) {
        return fail(sink, MR_EINVALID_FIELD, "Set '%s' to a string: got %s",
                    field, mr_json_type_name(value));
    }
    if (json_string_length(value) > max) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Shorten '%s' to at most %zu bytes: it has %zu", field,
                    max, json_string_length(value));
    }

    *out = json_string_value(value);
    *len = json_string_length(value);
    return MR_OK;
}

/* Checks one string member of a header entry, named "headers[i].field". */
static mr_err
read_header_member(const json_t *entry, const char *field, size_t index,
                   size_t max, const char **out, size_t *len,
                   const detail_sink *sink)
{
    const json_t *value = json_object_get(entry, field);

    if (value == NULL) {
        return fail(sink, MR_EMISSING_FIELD,
                    "Set 'headers[%zu].%s' to a string: 'headers[%zu].%s' "
                    "is required",
                    index, field, index, field);
    }
    if (!json_is_string(value)) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Set 'headers[%zu].%s' to a string: got %s", index, field,
                    mr_json_type_name(value));
    }
    if (json_string_length(value) > max) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Shorten 'headers[%zu].%s' to at most %zu bytes: it has "
                    "%zu",
                    index, field, max, json_string_length(value));
    }

    *out = json_string_value(value);
    *len = json_string_length(value);
    return MR_OK;
}

/* Reads the key of header entry index, which must be an RFC 9110 token. */
static mr_err
read_header_key(const json_t *entry, size_t index, const char **key,
                const detail_sink *sink)
{
    size_t len = 0;
    mr_err err;

    err = read_header_member(entry, "key", index, GW_HEADER_KEY_MAX, key, &len,
                             sink);
    if (err != MR_OK) {
        return err;
    }
    if (!gw_is_token(*key, len)) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Use a header name made of letters, digits and "
                    "!#$%%&'*+-.^_`|~ in 'headers[%zu].key': it is empty or "
                    "has another character",
                    index);
    }
    return MR_OK;
}

/* Reads the value of header entry index. The detail never quotes the
 * value, because header values may contain secrets. */
static mr_err
read_header_value(const json_t *entry, size_t index, const char **value,
                  const detail_sink *sink)
{
    size_t len = 0;
    mr_err err;

    err = read_header_member(entry, "value", index, GW_HEADER_VALUE_MAX, value,
                             &len, sink);
    if (err != MR_OK) {
        return err;
    }

    /* CR and LF would split the header when the value is sent upstream. */
    if (memchr(*value, '\r', len) != NULL ||
        memchr(*value, '\n', len) != NULL ||
        memchr(*value, '\0', len) != NULL) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Remove CR, LF and NUL characters from "
                    "'headers[%zu].value': they are not allowed in a header",
                    index);
    }
    return MR_OK;
}

/* Checks entry index of `headers` and fills header from it. */
static mr_err
read_header(const json_t *entry, size_t index, Mcpreg__V1__Header *header,
            const detail_sink *sink)
{
    static const char *const members[] = {"key", "value", NULL};
    const char *key = NULL;
    const char *value = NULL;
    char prefix[32];
    mr_err err;

    if (!json_is_object(entry)) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Set 'headers[%zu]' to an object with 'key' and "
                    "'value': got %s",
                    index, mr_json_type_name(entry));
    }
    snprintf(prefix, sizeof(prefix), "headers[%zu].", index);
    err = check_members(entry, members, prefix, sink);
    if (err != MR_OK) {
        return err;
    }

    err = read_header_key(entry, index, &key, sink);
    if (err != MR_OK) {
        return err;
    }
    err = read_header_value(entry, index, &value, sink);
    if (err != MR_OK) {
        return err;
    }

    mcpreg__v1__header__init(header);
    header->key = (char *)key;
    header->value = (char *)value;
    return MR_OK;
}

/* Checks the `headers` array of body and stores its entries in
 * buffers->headers. *n receives their count. */
static mr_err
read_headers(const json_t *array, gw_json_buffers *buffers, size_t *n,
             const detail_sink *sink)
{
    size_t count;
    Mcpreg__V1__Header **list = NULL;
    Mcpreg__V1__Header *entries;
    mr_err err = MR_OK;

    if (!json_is_array(array)) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Set 'headers' to an array of {key, value} objects: got "
                    "%s",
                    mr_json_type_name(array));
    }
    count = json_array_size(array);
    if (count > GW_HEADERS_MAX) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Send at most %d entries in 'headers': got %zu",
                    GW_HEADERS_MAX, count);
    }

    /* One block: the pointer array, then the structs it points to. */
    list = calloc(1, count * (sizeof(*list) + sizeof(*entries)) + 1);
    if (list == NULL) {
        return fail(sink, MR_ENOMEM, "%s", mr_strerror(MR_ENOMEM));
    }
    entries = (Mcpreg__V1__Header *)(list + count);

    for (size_t i = 0; i < count; i++) {
        err = read_header(json_array_get(array, i), i, &entries[i], sink);
        if (err != MR_OK) {
            goto out;
        }
        list[i] = &entries[i];
    }

out:
    if (err != MR_OK) {
        free(list);
        return err;
    }
    buffers->headers = list;
    *n = count;
    return MR_OK;
}

static mr_err
read_auth_type(const json_t *value, Mcpreg__V1__AuthType *out,
               const detail_sink *sink)
{
    const char *text = json_string_value(value);

    if (text != NULL && strcmp(text, "headers") == 0) {
        *out = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_HEADERS;
        return MR_OK;
    }
    if (text != NULL && strcmp(text, "oauth") == 0) {
        *out = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
        return MR_OK;
    }
    return fail(sink, MR_EINVALID_FIELD,
                "Set 'auth_type' to \"headers\" or \"oauth\": got %s",
                text != NULL ? "another string" : mr_json_type_name(value));
}

/* Reads oauth_mode. Null, as responses show an unset mode, unsets it,
 * which a PATCH needs to switch a server back to auth_type "headers". */
static mr_err
read_oauth_mode(const json_t *value, Mcpreg__V1__OAuthMode *out,
                const detail_sink *sink)
{
    const char *text = json_string_value(value);

    if (json_is_null(value)) {
        *out = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_UNSPECIFIED;
        return MR_OK;
    }
    if (text != NULL && strcmp(text, "legacy_shared_provider") == 0) {
        *out = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_LEGACY_SHARED_PROVIDER;
        return MR_OK;
    }
    if (text != NULL && strcmp(text, "per_user_dynamic_client") == 0) {
        *out = MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;
        return MR_OK;
    }
    return fail(sink, MR_EINVALID_FIELD,
                "Set 'oauth_mode' to \"legacy_shared_provider\", "
                "\"per_user_dynamic_client\" or null: got %s",
                text != NULL ? "another string" : mr_json_type_name(value));
}

/* Reads oauth_provider_id, a UUID or null. Null gives "", which the
 * service reads as unset. */
static mr_err
read_provider_id(const json_t *value, gw_json_buffers *buffers,
                 const char **out, const detail_sink *sink)
{
    const char *text = json_string_value(value);

    if (json_is_null(value)) {
        *out = "";
        return MR_OK;
    }
    if (text == NULL) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Set 'oauth_provider_id' to a UUID string or null: got "
                    "%s",
                    mr_json_type_name(value));
    }
    if (strlen(text) != MR_UUID_LEN ||
        !mr_uuid_canonical(text, buffers->oauth_provider_id)) {
        return fail(sink, MR_EINVALID_FIELD,
                    "Set 'oauth_provider_id' to a UUID such as "
                    "\"0b9a5c1e-3f0d-4a57-9c53-7c2e8d1f6a42\": it is not one");
    }
    *out = buffers->oauth_provider_id;
    return MR_OK;
}

/* The members that POST and PATCH share: url, headers, auth_type,
 * oauth_mode and oauth_provider_id, with a flag for each one present. */
typedef struct {
    const char *url;
    size_t n_headers;
    Mcpreg__V1__AuthType auth_type;
    Mcpreg__V1__OAuthMode oauth_mode;
    const char *oauth_provider_id;
    bool has_headers;
    bool has_auth_type;
    bool has_oauth_mode;
    bool has_oauth_provider_id;
} shared_fields;

static mr_err
read_shared(const json_t *body, shared_fields *out, gw_json_buffers *buffers,
            const detail_sink *sink)
{
    const json_t *value;
    size_t len = 0;
    mr_err err;

    err = read_string(body, "url", GW_URL_MAX, &out->url, &len, sink);
    if (err != MR_OK) {
        return err;
    }

    value = json_object_get(body, "headers");
    if (value != NULL) {
        err = read_headers(value, buffers, &out->n_headers, sink);
        if (err != MR_OK) {
            return err;
        }
        out->has_headers = true;
    }

    value = json_object_get(body, "auth_type");
    if (value != NULL) {
        err = read_auth_type(value, &out->auth_type, sink);
        if (err != MR_OK) {
            return err;
        }
        out->has_auth_type = true;
    }

    value = json_object_get(body, "oauth_mode");
    if (value != NULL) {
        err = read_oauth_mode(value, &out->oauth_mode, sink);
        if (err != MR_OK) {
            return err;
        }
        out->has_oauth_mode = true;
    }

    value = json_object_get(body, "oauth_provider_id");
    if (value != NULL) {
        err = read_provider_id(value, buffers, &out->oauth_provider_id, sink);
        if (err != MR_OK) {
            return err;
        }
        out->has_oauth_provider_id = true;
    }
    return MR_OK;
}

void
gw_json_buffers_free(gw_json_buffers *buffers)
{
    free(buffers->headers);
    buffers->headers = NULL;
    buffers->oauth_provider_id[0] = '\0';
}

mr_err
gw_json_parse_body(const char *buf, size_t len, json_t **out, char *detail,
                   size_t detail_size)
{
    char why[160];
    json_t *body = NULL;
    mr_err err;

    if (len == 0) {
        snprintf(detail, detail_size,
                 "Send a JSON object as the request body: the body is "
                 "empty");
        return MR_EINVALID_BODY;
    }

    err = mr_json_parse(buf, len, MR_JSON_DEPTH_MAX, &body, why, sizeof(why));
    if (err != MR_OK) {
        snprintf(detail, detail_size,
                 "Provide a valid JSON request body matching the documented "
                 "schema: %s",
                 why);
        return MR_EINVALID_BODY;
    }
    if (!json_is_object(body)) {
        snprintf(detail, detail_size,
                 "Send a JSON object as the request body: got %s",
                 mr_json_type_name(body));
        json_decref(body);
        return MR_EINVALID_BODY;
    }

    *out = body;
    return MR_OK;
}

/* Reads name, the required non-empty string of POST /mcp-servers. */
static mr_err
read_name(const json_t *body, const char **out, const detail_sink *sink)
{
    const json_t *value = json_object_get(body, "name");
    size_t len = 0;
    mr_err err;

    if (value == NULL ||
        (json_is_string(value) && json_string_length(value) == 0)) {
        return fail(sink, MR_EMISSING_FIELD,
                    "Set 'name' to a non-empty string: 'name' is required");
    }
    err = read_string(body, "name", GW_NAME_MAX, out, &len, sink);
    return err;
}

/* Reads the members of a create body, which are known to be allowed. */
static mr_err
read_create(const json_t *body, Mcpreg__V1__CreateMcpServerRequest *req,
            gw_json_buffers *buffers, const detail_sink *sink)
{
    shared_fields fields = {0};
    const char *name = NULL;
    const char *vendor_id = "";
    const char *external_id = "";
    size_t len = 0;
    mr_err err;

    err = read_name(body, &name, sink);
    if (err != MR_OK) {
        return err;
    }
    if (json_object_get(body, "url") == NULL) {
        return fail(sink, MR_EMISSING_FIELD,
                    "Set 'url' to a string: 'url' is required");
    }
    err = read_shared(body, &fields, buffers, sink);
    if (err != MR_OK) {
        return err;
    }
    err =
        read_string(body, "vendor_id", GW_TEXT_ID_MAX, &vendor_id, &len, sink);
    if (err != MR_OK) {
        return err;
    }
    err = read_string(body, "external_system_id", GW_TEXT_ID_MAX, &external_id,
                      &len, sink);
    if (err != MR_OK) {
        return err;
    }

    req->name = (char *)name;
    req->url = (char *)fields.url;
    req->n_headers = fields.n_headers;
    req->headers = buffers->headers;
    req->auth_type = fields.auth_type;
    req->oauth_mode = fields.oauth_mode;
    req->oauth_provider_id =
        (char *)(fields.has_oauth_provider_id ? fields.oauth_provider_id : "");
    req->vendor_id = (char *)vendor_id;
    req->external_system_id = (char *)external_id;
    return MR_OK;
}

mr_err
gw_json_to_create(const json_t *body, Mcpreg__V1__CreateMcpServerRequest *req,
                  gw_json_buffers *buffers, char *detail, size_t detail_size)
{
    static const char *const members[] = {"name",       "url",
                                          "headers",    "auth_type",
                                          "oauth_mode", "oauth_provider_id",
                                          "vendor_id",  "external_system_id",
                                          NULL};
    const detail_sink sink = {detail, detail_size};
    mr_err err;

    err = check_members(body, members, "", &sink);
    if (err != MR_OK) {
        return err;
    }
    err = read_create(body, req, buffers, &sink);
    if (err != MR_OK) {
        gw_json_buffers_free(buffers);
    }
    return err;
}

mr_err
gw_json_to_update(const json_t *body, Mcpreg__V1__UpdateMcpServerRequest *req,
                  gw_json_buffers *buffers, char *detail, size_t detail_size)
{
    static const char *const members[] = {
        "url",        "headers",           "auth_type",
        "oauth_mode", "oauth_provider_id", NULL};
    const detail_sink sink = {detail, detail_size};
    shared_fields fields = {0};
    mr_err err;

    err = check_members(body, members, "", &sink);
    if (err != MR_OK) {
        goto out;
    }
    err = read_shared(body, &fields, buffers, &sink);
    if (err != MR_OK) {
        goto out;
    }

    req->has_url = fields.url != NULL;
    req->url = (char *)(fields.url != NULL ? fields.url : "");
    req->has_headers = fields.has_headers;
    req->n_headers = fields.n_headers;
    req->headers = buffers->headers;
    req->has_auth_type = fields.has_auth_type;
    req->auth_type = fields.auth_type;
    req->has_oauth_mode = fields.has_oauth_mode;
    req->oauth_mode = fields.oauth_mode;
    req->has_oauth_provider_id = fields.has_oauth_provider_id;
    req->oauth_provider_id =
        (char *)(fields.has_oauth_provider_id ? fields.oauth_provider_id : "");

out:
    if (err != MR_OK) {
        gw_json_buffers_free(buffers);
    }
    return err;
}

mr_err
gw_json_to_register(const json_t *body,
                    Mcpreg__V1__RegisterOAuthProviderRequest *req,
                    char *detail, size_t detail_size)
{
    static const char *const members[] = {"ls_user_id", NULL};
    const detail_sink sink = {detail, detail_size};
    const char *user_id = "";
    size_t len = 0;
    mr_err err;

    if (body == NULL) {
        req->ls_user_id = (char *)"";
        return MR_OK;
    }

    err = check_members(body, members, "", &sink);
    if (err != MR_OK) {
        return err;
    }
    err =
        read_string(body, "ls_user_id", GW_TEXT_ID_MAX, &user_id, &len, &sink);
    if (err != MR_OK) {
        return err;
    }

    req->ls_user_id = (char *)user_id;
    return MR_OK;
}
