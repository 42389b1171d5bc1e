/* gw_headers.c - checks of request header fields that libmicrohttpd leaves
 * to the application. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "gw_headers.h"

/* The header fields that frame a request body, counted. */
typedef struct {
    int content_lengths;
    int transfer_encodings;
    const char *coding; /* the value of the last Transfer-Encoding */
    int blank_names;    /* field names that contain a space or a tab */
    int bad_names;      /* other names that are not tokens, or folded */
} framing;

bool
gw_is_token(const char *text, size_t len)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                     (c >= 'A' && c <= 'Z');

        if (!alnum && (c == '\0' || strchr(extra, c) == NULL)) {
            return false;
        }
    }
    return len > 0;
}

/* Returns whether name is a framing or typing field name with more after
 * it. libmicrohttpd 0.9.75 appends a folded line (obs-fold) to the field
 * name, so "Content-Length:" and " 300" on the next line arrive as the
 * field "Content-Length300", which a proxy in front may read as
 * Content-Length: 300. */
static bool
is_folded_framing(const char *name)
{
    static const char *const names[] = {"Content-Length", "Transfer-Encoding",
                                        "Content-Type"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t len = strlen(names[i]);

        if (strncasecmp(name, names[i], len) == 0 && name[len] != '\0') {
            return true;
        }
    }
    return false;
}

/* The MHD_KeyValueIterator that counts the framing fields into cls. */
static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
              const char *value)
{
    framing *counts = cls;

    (void)kind;
    if (strpbrk(key, " \t") != NULL) {
        counts->blank_names++;
    } else if (!gw_is_token(key, strlen(key)) || is_folded_framing(key)) {
        counts->bad_names++;
    } else if (strcasecmp(key, "Content-Length") == 0) {
        counts->content_lengths++;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        counts->transfer_encodings++;
        counts->coding = value;
    }
    return MHD_YES;
}

/*
 * libmicrohttpd 0.9.75 reads the body by Transfer-Encoding whenever it is
 * present and then ignores Content-Length, and reads a body of any other
 * coding until the connection closes. A proxy in front that frames the body
 * the other way would pass on the rest of it as a request of its own
 * (request smuggling, RFC 9112 section 6.1).
 *
 * libmicrohttpd 0.9.75 also keeps the whitespace before the colon in a
 * field name, so "Content-Length : 5" is a field it does not frame the
 * body by, while a proxy may. RFC 9112 section 5.1 requires a 400 for it.
 *
 * Transfer-Encoding is not part of HTTP/1.0, so a proxy of that version
 * frames such a body by Content-Length or by the closed connection. RFC
 * 9112 section 6.1 has the framing treated as faulty.
 */
mr_err
gw_check_framing(struct MHD_Connection *conn, const char *version,
                 const char **detail)
{
    framing counts = {0};

    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &counts);
    if (counts.blank_names > 0) {
        *detail = "Remove the space or tab from the header field name: no "
                  "whitespace is allowed in a name or before its colon";
    } else if (counts.bad_names > 0) {
        *detail = "Send each header field on one line, with a token as its "
                  "name: a folded line (obs-fold, RFC 9112 section 5.2) or "
                  "another character in a name is not allowed";
    } else if (counts.transfer_encodings > 0 &&
               strcmp(version, MHD_HTTP_VERSION_1_0) == 0) {
        *detail = "Send the body of an HTTP/1.0 request with Content-Length: "
                  "Transfer-Encoding is defined from HTTP/1.1 on";
    } else if (counts.transfer_encodings > 0 && counts.content_lengths > 0) {
        *detail = "Send either Content-Length or Transfer-Encoding: the "
                  "request has both";
    } else if (counts.content_lengths > 1) {
        *detail = "Send one Content-Length header: the request has several";
    } else if (counts.transfer_encodings > 1 ||
               (counts.coding != NULL &&
                strcasecmp(counts.coding, "chunked") != 0)) {
        *detail = "Send the body with Content-Length or with "
                  "Transfer-Encoding: chunked alone: no other transfer "
                  "coding is supported";
    } else {
        return MR_OK;
    }
    return MR_EINVALID_BODY;
}

/* The spaces and tabs around a field value are not part of it (RFC 9110
 * section 5.5), but libmicrohttpd 0.9.75 drops the leading ones only. */
void
gw_lookup_api_key(struct MHD_Connection *conn, const char **key,
                  size_t *key_len)
{
    const char *value = NULL;
    size_t len = 0;

    MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, GW_API_KEY_HEADER,
                                  strlen(GW_API_KEY_HEADER), &value, &len);
    while (len > 0 && (value[0] == ' ' || value[0] == '\t')) {
        value++;
        len--;
    }
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t')) {
        len--;
    }
    *key = value;
    *key_len = len;
}

/* Returns the length of the leading spaces and tabs of text. */
static size_t
blanks(const char *text)
{
    return strspn(text, " \t");
}

/* Returns whether the parameter at text, which follows a ';', is
 * acceptable: empty, or NAME=VALUE without blanks around '=' (RFC 9110
 * section 5.6.6) whose VALUE, when NAME is charset, names UTF-8. Quotes
 * around the value are allowed. */
static bool
acceptable_param(const char *text)
{
    const char *value;
    size_t name_len;
    size_t len;

    text += blanks(text);
    if (*text == ';' || *text == '\0') {
        return true;
    }
    name_len = strcspn(text, "=; \t");
    if (text[name_len] != '=') {
        return false;
    }
    if (name_len != 7 || strncasecmp(text, "charset", 7) != 0) {
        return true;
    }

    value = text + 8;
    len = strcspn(value, "; \t");
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
        value++;
        len -= 2;
    }
    return len == 5 && strncasecmp(value, "utf-8", 5) == 0;
}

/* The MHD_KeyValueIterator that counts the Content-Type fields into cls. */
static enum MHD_Result
count_types(void *cls, enum MHD_ValueKind kind, const char *key,
            const char *value)
{
    (void)kind;
    (void)value;
    *(int *)cls += strcasecmp(key, "Content-Type") == 0;
    return MHD_YES;
}

mr_err
gw_check_media_type(struct MHD_Connection *conn)
{
    const char *type =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *rest;
    int types = 0;

    if (type == NULL) {
        return MR_OK;
    }
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_types, &types);
    if (types > 1) {
        return MR_EMEDIA_TYPE;
    }

    /* The media type, then only blanks before the first parameter. */
    type += blanks(type);
    if (strncasecmp(type, "application/json", 16) != 0) {
        return MR_EMEDIA_TYPE;
    }
    rest = type + 16 + blanks(type + 16);
    if (*rest != '\0' && *rest != ';') {
        return MR_EMEDIA_TYPE;
    }
    for (; rest != NULL && *rest != '\0'; rest = strchr(rest + 1, ';')) {
        if (!acceptable_param(rest + 1)) {
            return MR_EMEDIA_TYPE;
        }
    }
    return MR_OK;
}
