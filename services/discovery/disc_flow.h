/* disc_flow.h - the discovery and registration procedure as a state
 * machine without I/O: it names each request to make and consumes its
 * response, so tests can drive it with canned responses. */
#ifndef DISC_FLOW_H
#define DISC_FLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "disc_cache.h"
#include "disc_meta.h"
#include "disc_url.h"
#include "mr_err.h"

/* DISC_PROTOCOL_VERSION is the MCP protocol version the probe sends. */
#define DISC_PROTOCOL_VERSION "2025-06-18"

/* DISC_MAX_REDIRECTS is how many redirects a metadata GET follows. */
#define DISC_MAX_REDIRECTS 3

/* disc_http_method is the method of a disc_request. */
typedef enum {
    DISC_GET,
    DISC_POST,
    DISC_DELETE,
} disc_http_method;

/* disc_request is one HTTP request that the flow needs made. Its strings
 * are owned by the flow and valid until the next disc_flow_step. */
typedef struct {
    disc_http_method method;
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated */
    const char *body;           /* POST only; NULL for GET */
    size_t body_len;
    bool follow_redirects; /* up to DISC_MAX_REDIRECTS when set */
    bool want_body;        /* when false, stop once the headers arrived */
    bool want_error_body;  /* the body of a 4xx or 5xx too, when set */
} disc_request;

/* disc_net is how a request ended at the transport level. */
typedef enum {
    DISC_NET_OK,        /* a response arrived */
    DISC_NET_CONNECT,   /* name resolution, connection or TLS failed */
    DISC_NET_TIMEOUT,   /* the connect or total timeout passed */
    DISC_NET_TOO_LARGE, /* the body exceeded the size limit */
    DISC_NET_BLOCKED,   /* the fetch policy rejected an address or URL */
    DISC_NET_REDIRECT,  /* more than DISC_MAX_REDIRECTS redirects */
    DISC_NET_OTHER,     /* any other transport error */
} disc_net;

/* disc_response is the outcome of a disc_request, as the caller of
 * disc_flow_step reports it. Status, headers and body matter only when
 * net is DISC_NET_OK. */
typedef struct {
    disc_net net;
    const char *net_detail; /* a transport error message, or NULL */
    long status;
    const char *content_type; /* the Content-Type value; NULL when none */
    const char *const *www_authenticate; /* every WWW-Authenticate value */
    size_t nwww_authenticate;
    /* The caching header fields, which set how long discovered metadata
     * is reused. NULL counts as none. */
    const disc_cache_headers *cache_headers;
    const char *body;
    size_t body_len;
    /* The URL of the response, after any redirects; NULL counts as the
     * URL requested. */
    const char *final_url;
    /* The delay that a Retry-After field requests, in seconds, or 0
     * without one. */
    uint32_t retry_after_s;
} disc_response;

/* disc_flow_config contains the settings that a flow reads; they must
 * outlive the flow. */
typedef struct {
    const mr_allow_list *allow;
    const char *redirect_uri; /* the public base URL + MR_CALLBACK_PATH */
    /* The client ID metadata document URL that becomes the client_id at
     * servers that support such documents; NULL disables them. */
    const char *client_metadata_url;
} disc_flow_config;

/* disc_operator_client is a client that the operator registered by hand
 * at one authorization server; discovery uses it instead of registering.
 * The flow copies the strings. */
typedef struct {
    const char *issuer;
    const char *client_id;
    const char *client_secret; /* NULL or "" for a public client */
    /* NULL or "": client_secret_basic with a secret, else none */
    const char *token_endpoint_auth_method;
} disc_operator_client;

/* disc_result is what a successful flow found and registered. Every
 * string is owned by the flow; "" stands for an absent value. */
typedef struct {
    const char *resource; /* "" on the no-metadata path */
    const char *issuer;
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *registration_endpoint;
    const char *revocation_endpoint;
    const char *scope;
    const char *redirect_uri;
    /* The source of the client: "operator", "client_metadata_document" or
     * "dynamic_registration". */
    const char *client_source;
    const disc_client *client;
    long delete_status; /* HTTP status of a client deletion, else 0 */
} disc_result;

/* disc_flow_state is what disc_flow_step returns: make the request of
 * disc_flow_request, or stop with a result or an error. */
typedef enum {
    DISC_FLOW_FETCH,
    DISC_FLOW_DONE,
    DISC_FLOW_FAILED,
} disc_flow_state;

typedef struct disc_flow disc_flow;

/*
 * disc_flow_new creates a flow for one job that discovers and registers
 * at mcp_server_url. It returns MR_ENOMEM when memory runs out; the URL is
 * checked by the first disc_flow_step. Free the flow with disc_flow_free.
 */
mr_err disc_flow_new(const disc_flow_config *cfg, const char *mcp_server_url,
                     disc_flow **out);

/*
 * disc_flow_new_delete creates a flow that deletes a registered client at
 * the authorization server (RFC 7592 section 2.3): one DELETE of
 * registration_client_uri with registration_access_token as a Bearer
 * token, without following redirects. It ends DONE when the client is gone
 * (2xx, 404, 410). It returns MR_EMISSING_FIELD when either string is
 * empty and MR_ENOMEM when memory runs out; the URI is checked by the
 * first disc_flow_step. Free the flow with disc_flow_free.
 */
mr_err disc_flow_new_delete(const disc_flow_config *cfg,
                            const char *registration_client_uri,
                            const char *registration_access_token,
                            disc_flow **out);

/*
 * disc_flow_add_operator_client copies client into flow before its first
 * step. When the authorization server's issuer equals client->issuer (a
 * trailing "/" on an empty path aside), the flow uses this client and
 * registers none. It returns MR_EINVALID_FIELD when issuer or client_id is
 * empty or the method is not client_secret_basic, client_secret_post or
 * none, and MR_ENOMEM when memory runs out.
 */
mr_err disc_flow_add_operator_client(disc_flow *flow,
                                     const disc_operator_client *client);

/*
 * disc_flow_step advances the flow. Pass NULL on the first call and then
 * the response to the last request. It returns DISC_FLOW_FETCH with the
 * next request in disc_flow_request, DISC_FLOW_DONE with the result in
 * disc_flow_result, or DISC_FLOW_FAILED with disc_flow_error and
 * disc_flow_detail set. After DONE or FAILED, further calls change
 * nothing.
 */
disc_flow_state disc_flow_step(disc_flow *flow, const disc_response *response);

/* disc_flow_request returns the request to make after DISC_FLOW_FETCH. */
const disc_request *disc_flow_request(const disc_flow *flow);

/* disc_flow_result fills *out after DISC_FLOW_DONE; the strings stay owned
 * by the flow. */
void disc_flow_result(const disc_flow *flow, disc_result *out);

/* disc_flow_error returns the error after DISC_FLOW_FAILED, else MR_OK. */
mr_err disc_flow_error(const disc_flow *flow);

/*
 * disc_flow_retry_after returns, after DISC_FLOW_FAILED, the Retry-After
 * in seconds of the remote response that failed the flow with
 * MR_EREMOTE_UNAVAILABLE, such as a 429 or 503; 0 when it had none.
 */
uint32_t disc_flow_retry_after(const disc_flow *flow);

/*
 * disc_flow_detail returns the reason for the error after
 * DISC_FLOW_FAILED: each URL tried with its status or fault, with queries
 * removed, and remote text sanitised. It contains no secret. "" otherwise.
 */
const char *disc_flow_detail(const disc_flow *flow);

/* disc_flow_stage returns the name of the current step for logs, such as
 * "probe" or "registration"; after a failure, the step that failed. */
const char *disc_flow_stage(const disc_flow *flow);

/* disc_flow_registers returns whether the request that the flow awaits
 * registers a client at the authorization server. */
bool disc_flow_registers(const disc_flow *flow);

/*
 * disc_flow_use_cached gives a new flow, before its first step, metadata
 * that an earlier job discovered for the same MCP server URL, so that the
 * flow only obtains a client. It returns MR_ENOMEM when memory runs out.
 */
mr_err disc_flow_use_cached(disc_flow *flow, const disc_cache_entry *entry);

/*
 * disc_flow_discovered copies into *out, which the caller frees with
 * disc_cache_entry_free, what the flow discovered for its MCP server URL
 * once the authorization server metadata is known and checked, and
 * returns true. It returns false before that, for a flow that started
 * from cached metadata, and when memory runs out.
 */
bool disc_flow_discovered(const disc_flow *flow, disc_cache_entry *out);

/* disc_flow_free frees flow; NULL is allowed. */
void disc_flow_free(disc_flow *flow);

#endif
