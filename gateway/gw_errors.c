/* gw_errors.c - JSON bodies of the gateway's error responses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw_errors.h"

/* Serialises the plain {"error": text} body of 401 and 403. */
static char *
auth_error_body(const char *text)
{
    json_t *body = json_pack("{s:s}", "error", text);
    char *out = NULL;

    if (body == NULL) {
        goto out;
    }
    out = json_dumps(body, JSON_COMPACT);

out:
    json_decref(body);
    return out;
}

char *
gw_error_body(mr_err err, const char *detail)
{
    char type[128];
    int status = mr_err_http(err);
    const char *code = mr_err_code(err);
    json_t *body = NULL;
    char *out = NULL;

    if (status == 401) {
        return auth_error_body("Unauthorized");
    }
    if (status == 403) {
        return auth_error_body("Forbidden");
    }

    if (detail == NULL || detail[0] == '\0') {
        detail = mr_strerror(err);
    }
    snprintf(type, sizeof(type), "%s%s", GW_ERROR_TYPE_BASE, code);

    /* json_pack fails on a detail that is not valid UTF-8. */
    body = json_pack("{s:s, s:s, s:s, s:i}", "type", type, "code", code,
                     "detail", detail, "status", status);
    if (body == NULL) {
        goto out;
    }
    out = json_dumps(body, JSON_COMPACT);

out:
    json_decref(body);
    return out;
}

char *
gw_copy_text(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);

    if (size == 0) {
        return dst;
    }
    if (len >= size) {
        len = size - 1;
        /* Step back over continuation bytes (10xxxxxx) and the lead byte
         * of the character that was cut. */
        if ((src[len] & 0xc0) == 0x80) {
            while (len > 0 && (src[len] & 0xc0) == 0x80) {
                len--;
            }
        }
    }

    memcpy(dst, src, len);
    dst[len] = '\0';
    return dst;
}
