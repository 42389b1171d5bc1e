/* gw_headers.h - checks of request header fields that libmicrohttpd leaves
 * to the application. */
#ifndef GW_HEADERS_H
#define GW_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "mr_err.h"

/* GW_API_KEY_HEADER is the request header whose SHA-256 identifies the
 * caller. */
#define GW_API_KEY_HEADER "X-Api-Key"

/* GW_API_KEY_CHALLENGE is the WWW-Authenticate value of a 401: a scheme
 * of mcpreg's own, since none is registered for API keys, and the header
 * that carries the key. */
#define GW_API_KEY_CHALLENGE "ApiKey header=\"" GW_API_KEY_HEADER "\""

/*
 * gw_is_token returns whether the len bytes at text are an RFC 9110 token,
 * the syntax of a header field name: one or more tchar characters.
 */
bool gw_is_token(const char *text, size_t len);

/*
 * gw_check_framing checks that the request on conn frames its body in one
 * way only: at most one Content-Length, or one Transfer-Encoding whose value
 * is "chunked" and no Content-Length, and no header field name that
 * contains a space or a tab, is not a token, or shows a folded line. version
 * is the request's HTTP version, and an HTTP/1.0 request may not carry
 * Transfer-Encoding. It returns MR_OK, or MR_EINVALID_BODY with *detail set to
 * a static string that gives the reason.
 */
mr_err gw_check_framing(struct MHD_Connection *conn, const char *version,
                        const char **detail);

/*
 * gw_lookup_api_key sets *key and *key_len to the X-Api-Key value of the
 * request on conn without the spaces and tabs around it. *key points into
 * MHD's memory of the request, or is NULL when the header is missing.
 */
void gw_lookup_api_key(struct MHD_Connection *conn, const char **key,
                       size_t *key_len);

/*
 * gw_check_media_type checks the Content-Type of the request on conn,
 * whose body is JSON. None passes, and so does application/json with any
 * parameters except a charset other than UTF-8, the encoding that RFC 8259
 * section 8.1 requires. It returns MR_OK or MR_EMEDIA_TYPE.
 */
mr_err gw_check_media_type(struct MHD_Connection *conn);

#endif
