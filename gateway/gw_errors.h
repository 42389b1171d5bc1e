/* gw_errors.h - JSON bodies of the gateway's error responses. */
#ifndef GW_ERRORS_H
#define GW_ERRORS_H

#include <stddef.h>

#include "mr_err.h"

/* GW_ERROR_TYPE_BASE prefixes the code to form the `type` URI of an error
 * body, such as "https://docs.mcpreg.dev/errors/route_not_found". */
#define GW_ERROR_TYPE_BASE "https://docs.mcpreg.dev/errors/"

/* GW_DETAIL_MAX is the size of a detail buffer, with its NUL. */
#define GW_DETAIL_MAX 512

/*
 * gw_error_body serialises the body of an error response for err. A 401
 * body is exactly {"error":"Unauthorized"} and a 403 body exactly
 * {"error":"Forbidden"}, whatever the detail. Every other error gets
 * {"type", "code", "detail", "status"}, where detail, when NULL or empty,
 * is the default detail of err. It returns a string the caller frees with
 * free(), or NULL when memory runs out or detail is not valid UTF-8.
 */
char *gw_error_body(mr_err err, const char *detail);

/*
 * gw_copy_text copies src into dst, a buffer of size bytes, cutting it at
 * a UTF-8 character boundary when it does not fit, so that a valid UTF-8
 * src gives a valid UTF-8 dst. It returns dst.
 */
char *gw_copy_text(char *dst, size_t size, const char *src);

#endif
