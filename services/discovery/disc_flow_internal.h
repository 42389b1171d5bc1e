/* disc_flow_internal.h - the state of a discovery flow and the helpers
 * that its three files share: disc_flow.c (the machinery),
 * disc_flow_resource.c (probe and protected resource metadata) and
 * disc_flow_server.c (authorization server metadata and registration).
 * Nothing outside the flow includes it. */
#ifndef DISC_FLOW_INTERNAL_H
#define DISC_FLOW_INTERNAL_H

#include "disc_flow.h"

/* DISC_FLOW_MAX_CHALLENGE_URLS bounds the resource_metadata URLs taken
 * from one challenge, so a server cannot make a job fetch without end. */
#define DISC_FLOW_MAX_CHALLENGE_URLS 4

/* DISC_FLOW_MAX_CANDIDATES is the most URLs one metadata step tries: the
 * challenge URLs and two well-known URLs, or three authorization server
 * metadata URLs. */
#define DISC_FLOW_MAX_CANDIDATES (DISC_FLOW_MAX_CHALLENGE_URLS + 2)

/* DISC_FLOW_MAX_REGISTRATIONS bounds the registration POSTs of one job:
 * the first, and one more after the server rejected the auth method or
 * returned a secret that had already expired. */
#define DISC_FLOW_MAX_REGISTRATIONS 2

/* DISC_FLOW_MAX_OPERATOR_CLIENTS bounds the operator clients of a job,
 * one per authorization server the MCP server may name. */
#define DISC_FLOW_MAX_OPERATOR_CLIENTS 8

/* DISC_FLOW_DETAIL_MAX is the size of an error detail, which quotes a log
 * of the URLs tried of up to DISC_DETAIL_MAX bytes. */
#define DISC_FLOW_DETAIL_MAX (2 * DISC_DETAIL_MAX)

/* DISC_FLOW_URL_SHOWN_MAX is the size of a buffer that receives a URL
 * shown in a detail. */
#define DISC_FLOW_URL_SHOWN_MAX 512

/* DISC_FLOW_TYPE_SHOWN_MAX is the size of a buffer that receives a
 * Content-Type value shown in a detail. */
#define DISC_FLOW_TYPE_SHOWN_MAX 80

/* disc_flow_stage_id is the step a flow is in. */
typedef enum {
    DISC_STAGE_START,
    DISC_STAGE_PROBE,
    DISC_STAGE_PRM,
    DISC_STAGE_ASM,
    DISC_STAGE_DCR,
    DISC_STAGE_DELETE_START,
    DISC_STAGE_DELETE,
    DISC_STAGE_DONE,
    DISC_STAGE_FAILED,
} disc_flow_stage_id;

/* disc_flow is the state of one job's discovery. */
struct disc_flow {
    disc_flow_config cfg;
    disc_flow_stage_id stage;
    disc_flow_stage_id failed_stage; /* the step that failed, if any */
    char *mcp_text;
    disc_url mcp;
    char *origin;

    char *challenge_scope;   /* the Bearer challenge's scope, when valid */
    char probe_note[192];    /* why the probe gave no usable challenge */
    bool probe_unauthorized; /* the probe got 401 */

    /* URLs of the current metadata step, and what each one returned. */
    char *candidates[DISC_FLOW_MAX_CANDIDATES];
    size_t ncandidates;
    size_t next;
    bool all_not_found; /* every URL tried so far returned 404 */
    char tried[DISC_DETAIL_MAX];
    size_t tried_len;
    char mismatch[DISC_FLOW_DETAIL_MAX]; /* last resource mismatch, or "" */

    disc_prm prm;
    bool fallback; /* no protected resource metadata: the 2025-03-26 path */
    char *issuer;
    disc_asm meta;
    char *scope;
    const char *auth_method; /* requested in dcr_body; a static string */
    char *dcr_body;
    unsigned registrations; /* registration POSTs sent */
    disc_client client;
    const char *client_source; /* a static string; see disc_result */

    /* Copies of the operator clients; only client_id, client_secret and
     * token_endpoint_auth_method of each disc_client are set. */
    char *operator_issuers[DISC_FLOW_MAX_OPERATOR_CLIENTS];
    disc_client operator_clients[DISC_FLOW_MAX_OPERATOR_CLIENTS];
    size_t noperator_clients;

    /* A deletion flow's Authorization header, which contains the access
     * token, and its header list. */
    char *auth_header;
    const char *delete_headers[3];
    long delete_status; /* the DELETE's HTTP status once it succeeded */

    /* Set by disc_flow_use_cached: the first step goes straight to
     * obtaining a client with metadata that an earlier job discovered. */
    bool cached;
    /* Set once the authorization server metadata is known and checked,
     * so disc_flow_discovered can share it with later jobs. */
    bool discovered;
    /* The earliest expiry that the metadata responses stated, for the
     * metadata that disc_flow_discovered shares. */
    disc_freshness freshness;

    disc_request request;
    mr_err err;
    char detail[DISC_FLOW_DETAIL_MAX];
    uint32_t retry_after_s; /* see disc_flow_retry_after */
};

/* disc_flow_fail ends the flow with err and a printf-style detail, cut to
 * fit, and returns DISC_FLOW_FAILED. */
disc_flow_state disc_flow_fail(disc_flow *flow, mr_err err, const char *fmt,
                               ...) __attribute__((format(printf, 3, 4)));

/* disc_flow_fail_busy ends the flow with MR_EREMOTE_UNAVAILABLE for the
 * error status of resp, such as 429 or 503, keeping its Retry-After. what
 * names the request, such as "GET https://a.example/x". */
disc_flow_state disc_flow_fail_busy(disc_flow *flow, const char *what,
                                    const disc_response *resp);

/* disc_flow_fail_nomem ends the flow with MR_ENOMEM. */
disc_flow_state disc_flow_fail_nomem(disc_flow *flow);

/*
 * disc_flow_fail_transport ends the flow for a request that got no
 * response. A timeout, an oversized body and a blocked address have
 * their own errors; other faults become other_err. what names the
 * request, such as "GET https://a.example/x".
 */
disc_flow_state disc_flow_fail_transport(disc_flow *flow, const char *what,
                                         const disc_response *resp,
                                         mr_err other_err);

/* disc_flow_format is snprintf for details, which are cut to fit on
 * purpose. */
void disc_flow_format(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* disc_flow_show writes url into out as details show it: without its
 * query, sanitised, and cut to fit. It returns out. */
const char *disc_flow_show(const char *url, char *out, size_t outlen);

/*
 * disc_flow_is_json returns whether resp's Content-Type names JSON, as
 * disc_media_type_is_json decides. When it does not, it writes the type
 * as details show it into shown: the value sanitised and cut to fit, or
 * "with no Content-Type".
 */
bool disc_flow_is_json(const disc_response *resp, char *shown,
                       size_t shownlen);

/* disc_flow_note appends a printf-style message to the log of URLs tried,
 * which ends in "..." once it is full. */
void disc_flow_note(disc_flow *flow, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* disc_flow_clear_candidates empties the URL list and the log of URLs
 * tried, to start a metadata step. */
void disc_flow_clear_candidates(disc_flow *flow);

/* disc_flow_add_candidate takes url (NULL when memory ran out, which it
 * returns as MR_ENOMEM) and appends it unless it is listed already or the
 * list is full. */
mr_err disc_flow_add_candidate(disc_flow *flow, char *url);

/* disc_flow_fetch_next sets the request to a GET of the next candidate
 * URL; it returns false when none is left. */
bool disc_flow_fetch_next(disc_flow *flow);

/* disc_flow_current returns the candidate URL of the last request. */
const char *disc_flow_current(const disc_flow *flow);

/* disc_flow_set_request sets the request; GETs follow redirects. */
void disc_flow_set_request(disc_flow *flow, disc_http_method method,
                           const char *url, const char *const *headers,
                           const char *body);

/* disc_flow_is_fatal_status returns whether a metadata GET's status ends
 * the flow as transient: a server error other than 502 Bad Gateway, or
 * 429 Too Many Requests (RFC 6585 section 4). Other statuses but 200 move
 * on to the next URL. */
bool disc_flow_is_fatal_status(long status);

/*
 * disc_flow_metadata_failed ends the flow when a metadata GET of url (as
 * disc_flow_show prints it) failed in transport or with a server error,
 * both remote_unavailable or remote_timed_out, stores the result in
 * *state and returns true; otherwise it returns false.
 */
bool disc_flow_metadata_failed(disc_flow *flow, const disc_response *resp,
                               const char *url, disc_flow_state *state);

/* disc_flow_note_freshness counts the caching header fields of a
 * metadata response into flow->freshness. The probe's and the
 * registration's responses are not counted. In disc_flow_cache.c. */
void disc_flow_note_freshness(disc_flow *flow, const disc_response *resp);

/* ---- steps, in disc_flow_resource.c ---- */

/* disc_flow_start checks the MCP server URL and requests the probe. */
disc_flow_state disc_flow_start(disc_flow *flow);

/* disc_flow_finish_probe reads the probe's challenge and requests the
 * first protected resource metadata URL. */
disc_flow_state disc_flow_finish_probe(disc_flow *flow,
                                       const disc_response *resp);

/* disc_flow_finish_prm handles a protected resource metadata response. */
disc_flow_state disc_flow_finish_prm(disc_flow *flow,
                                     const disc_response *resp);

/* ---- client deletion, in disc_flow_delete.c ---- */

/* disc_flow_start_delete checks the client URI and requests the DELETE. */
disc_flow_state disc_flow_start_delete(disc_flow *flow);

/* disc_flow_finish_delete handles the DELETE response. */
disc_flow_state disc_flow_finish_delete(disc_flow *flow,
                                        const disc_response *resp);

/* ---- steps, in disc_flow_server.c ---- */

/* disc_flow_start_asm checks issuer_text and requests its first metadata
 * URL. */
disc_flow_state disc_flow_start_asm(disc_flow *flow, const char *issuer_text);

/* disc_flow_finish_asm handles an authorization server metadata
 * response. */
disc_flow_state disc_flow_finish_asm(disc_flow *flow,
                                     const disc_response *resp);

/* disc_flow_start_registration obtains a client once the authorization
 * server metadata is known: the operator's, a client ID metadata document
 * or dynamic client registration. */
disc_flow_state disc_flow_start_registration(disc_flow *flow);

/* disc_flow_finish_registration handles the registration response. */
disc_flow_state disc_flow_finish_registration(disc_flow *flow,
                                              const disc_response *resp);

#endif
