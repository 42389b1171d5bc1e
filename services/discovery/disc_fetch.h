/* disc_fetch.h - one outbound HTTP request of the discovery flow as a curl
 * easy handle, with the fetch policy, limits and response capture. */
#ifndef DISC_FETCH_H
#define DISC_FETCH_H

#include <curl/curl.h>

#include "disc_flow.h"
#include "disc_url.h"
#include "mr_err.h"

/* DISC_FETCH_MAX_CHALLENGES bounds the WWW-Authenticate values kept from
 * one response. */
#define DISC_FETCH_MAX_CHALLENGES 16

/* disc_fetch_config contains the limits of every fetch; it must outlive
 * the fetches. */
typedef struct {
    const mr_allow_list *allow;
    long connect_timeout_ms;
    long max_response_bytes; /* for the body, and for the headers apart */
    const char *user_agent;
} disc_fetch_config;

typedef struct disc_fetch disc_fetch;

/*
 * disc_fetch_new prepares req as a curl easy handle with a total timeout
 * of timeout_ms, and stores owner as the handle's CURLOPT_PRIVATE. The
 * handle allows only http and https, sends nothing through a proxy and
 * never raises signals. On the first URL and on every redirect hop it
 * opens a socket only when disc_allow_connect allows that hop's URL and
 * address. It returns MR_EBLOCKED_ADDRESS, making no handle, when
 * disc_url_check rejects the URL (http that the allow-list does not
 * allow, or not a valid URL), or MR_ENOMEM. Free the fetch with
 * disc_fetch_free, after removing its handle from any multi handle.
 */
mr_err disc_fetch_new(const disc_fetch_config *cfg, const disc_request *req,
                      long timeout_ms, void *owner, disc_fetch **out);

/* disc_fetch_handle returns the easy handle of fetch. */
CURL *disc_fetch_handle(const disc_fetch *fetch);

/*
 * disc_fetch_response fills *out from the finished transfer, whose curl
 * result is result, mapping curl errors onto disc_net. The strings stay
 * owned by fetch and valid until disc_fetch_free.
 */
void disc_fetch_response(disc_fetch *fetch, CURLcode result,
                         disc_response *out);

/* disc_fetch_free frees fetch and its easy handle; NULL is allowed. */
void disc_fetch_free(disc_fetch *fetch);

#endif
