/* gw_query.h - the limit on query parameters, checked at the request line. */
#ifndef GW_QUERY_H
#define GW_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

/* GW_QUERY_PARAMS_MAX is the most query parameters a request may carry.
 * No route reads the query, so the limit only keeps libmicrohttpd's
 * parsing within the connection's memory. */
#define GW_QUERY_PARAMS_MAX 100

/*
 * gw_query_params returns how many parameters libmicrohttpd 0.9.75 would
 * store for the query of uri: one per '&'-separated part, empty parts
 * included but for one after a final '&', and 0 without a query.
 */
size_t gw_query_params(const char *uri);

/*
 * gw_query_reject responds to the request on conn, whose request line
 * names uri, with 414 query_too_long when its query has more than
 * GW_QUERY_PARAMS_MAX parameters, and returns true. It writes the
 * response to the socket itself and shuts the socket down, because
 * libmicrohttpd 0.9.75 sends no response at all to a request whose query
 * does not fit in the connection's memory. It returns false, and does
 * nothing, for a query within the limit.
 */
bool gw_query_reject(struct MHD_Connection *conn, const char *uri);

#endif
