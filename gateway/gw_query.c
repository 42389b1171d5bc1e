/* gw_query.c - the limit on query parameters, checked at the request line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gw_errors.h"
#include "gw_http.h"
#include "gw_query.h"
#include "mr_log.h"
#include "mr_util.h"

size_t
gw_query_params(const char *uri)
{
    const char *query = strchr(uri, '?');
    size_t params = 1;

    if (query == NULL || query[1] == '\0') {
        return 0;
    }
    /* libmicrohttpd stores no part after a final '&'. */
    for (const char *c = query + 1; *c != '\0'; c++) {
        params += *c == '&' && c[1] != '\0';
    }
    return params;
}

/* Writes the 414 response to fd, as far as the socket takes it without
 * blocking: nothing else is queued on a connection that is reading a
 * request line, so a response this small fits.
 * NOTE: the method is not known here, so a HEAD request gets the body
 * too. The connection closes after it, so no later response is shifted. */
static void
write_response(int fd, const char *request_id)
{
    char detail[96];
    char head[320];
    char date[40];
    struct tm utc;
    time_t now;
    char *body;
    int head_len;
    int body_len;

    snprintf(detail, sizeof(detail),
             "Send at most %d query parameters: the query has more",
             GW_QUERY_PARAMS_MAX);
    body = gw_error_body(MR_EQUERY_TOO_LONG, detail);
    if (body == NULL) {
        return;
    }

    /* RFC 9110 section 6.6.1: an origin server with a clock sends Date. */
    now = time(NULL);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
             gmtime_r(&now, &utc));

    body_len = (int)strlen(body);
    head_len = snprintf(head, sizeof(head),
                        "HTTP/1.1 414 URI Too Long\r\n"
                        "Date: %s\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: %d\r\n"
                        "X-Request-Id: %s\r\n"
                        "Connection: close\r\n\r\n",
                        date, body_len, request_id);
    send(fd, head, (size_t)head_len, MSG_NOSIGNAL | MSG_DONTWAIT | MSG_MORE);
    send(fd, body, (size_t)body_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    free(body);
}

/* Writes the access line of a rejected request: its path without the
 * query, which can be long. */
static void
log_rejection(const char *uri, const char *request_id)
{
    char buf[GW_LOG_PATH_MAX];
    const char *path = buf;
    size_t len = strcspn(uri, "?");

    snprintf(buf, sizeof(buf), "%.*s",
             (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), uri);

    mr_log_field fields[] = {
        MR_FSTR("path", path),
        MR_FINT("status", 414),
        MR_FSTR("code", mr_err_code(MR_EQUERY_TOO_LONG)),
        MR_FINT("params", gw_query_params(uri)),
    };
    mr_log_fields(MR_LOG_INFO, "gw.request.query", request_id, fields,
                  sizeof(fields) / sizeof(fields[0]),
                  "request rejected: too many query parameters");
}

bool
gw_query_reject(struct MHD_Connection *conn, const char *uri)
{
    const union MHD_ConnectionInfo *info;
    char request_id[MR_UUID_LEN + 1];

    if (gw_query_params(uri) <= GW_QUERY_PARAMS_MAX) {
        return false;
    }

    info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == NULL) {
        return false;
    }
    mr_uuid_v4(request_id);
    log_rejection(uri, request_id);

    /* libmicrohttpd then reads the end of the stream, closes the
     * connection and completes the request. */
    write_response(info->connect_fd, request_id);
    shutdown(info->connect_fd, SHUT_RDWR);
    return true;
}
