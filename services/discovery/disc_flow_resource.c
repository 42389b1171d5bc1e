/* disc_flow_resource.c - steps 1 and 2 of discovery: the unauthenticated
 * MCP probe and its challenge, then protected resource metadata
 * (RFC 9728), with the no-metadata path of MCP 2025-03-26. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disc_flow_internal.h"
#include "wwwauth.h"
#include "mr_util.h"

static const char *const probe_headers[] = {
    "Content-Type: application/json",
    "Accept: application/json, text/event-stream",
    NULL,
};

/* probe_body is an MCP initialize request. A server that requires
 * authorization responds to it with 401 and a Bearer challenge. */
static const char probe_body[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
    "\"protocolVersion\":\"" DISC_PROTOCOL_VERSION "\",\"capabilities\":{},"
    "\"clientInfo\":{\"name\":\"mcpreg\",\"version\":\"" DISC_VERSION "\"}}}";

static disc_flow_state next_prm(disc_flow *flow);

/* ---- step 1: the unauthenticated probe ---- */

/* add_challenge_urls takes the resource_metadata URLs and the scope of the
 * first Bearer challenge. A URL that the fetch policy rejects is logged as
 * tried and skipped. */
static mr_err
add_challenge_urls(disc_flow *flow, const disc_challenge *bearer)
{
    const char *value;
    const char *scope = disc_challenge_param(bearer, "scope", 0);
    mr_err err = MR_OK;

    for (size_t i = 0; i < DISC_FLOW_MAX_CHALLENGE_URLS && err == MR_OK; i++) {
        const char *why = NULL;

        value = disc_challenge_param(bearer, "resource_metadata", i);
        if (value == NULL) {
            break;
        }
        err = disc_url_check(value, flow->cfg.allow, NULL, &why);
        if (err == MR_EINVALID_FIELD || err == MR_EBLOCKED_ADDRESS) {
            char quoted[160];

            mr_sanitize(quoted, sizeof(quoted), value);
            disc_flow_note(flow, "the challenge's resource_metadata \"%s\" %s",
                           quoted, why);
            flow->all_not_found = false;
            err = MR_OK;
        } else if (err == MR_OK) {
            err = disc_flow_add_candidate(flow, strdup(value));
        }
    }

    if (err == MR_OK && scope != NULL && disc_scope_valid(scope)) {
        flow->challenge_scope = strdup(scope);
        err = flow->challenge_scope != NULL ? MR_OK : MR_ENOMEM;
    }
    return err;
}

/* read_challenges parses every WWW-Authenticate value of a 401 response
 * and takes the first Bearer challenge. A value that does not parse is
 * skipped, because the well-known URLs may still work. */
static mr_err
read_challenges(disc_flow *flow, const disc_response *resp)
{
    disc_challenges list = {0};
    const disc_challenge *bearer;
    mr_err err = MR_OK;

    for (size_t i = 0; i < resp->nwww_authenticate; i++) {
        size_t pos = 0;

        err = disc_wwwauth_parse(resp->www_authenticate[i], &list, &pos);
        if (err == MR_ENOMEM) {
            goto out;
        }
        if (err != MR_OK) {
            snprintf(flow->probe_note, sizeof(flow->probe_note),
                     "WWW-Authenticate value %zu is invalid at byte %zu", i,
                     pos);
        }
    }

    err = MR_OK;
    bearer = disc_challenges_find(&list, "Bearer");
    if (bearer == NULL && flow->probe_note[0] == '\0') {
        snprintf(flow->probe_note, sizeof(flow->probe_note),
                 "the probe's 401 response has no Bearer challenge");
    }
    if (bearer != NULL) {
        err = add_challenge_urls(flow, bearer);
    }
out:
    disc_challenges_free(&list);
    return err;
}

/* add_prm_candidates appends the well-known URLs of RFC 9728 section 3.1:
 * the path-inserted one, when the MCP server URL has a path, then the root
 * one. */
static mr_err
add_prm_candidates(disc_flow *flow)
{
    mr_err err = MR_OK;

    if (disc_url_has_path(&flow->mcp)) {
        err = disc_flow_add_candidate(
            flow, disc_url_well_known(&flow->mcp, "oauth-protected-resource",
                                      DISC_WK_INSERT));
    }
    if (err == MR_OK) {
        err = disc_flow_add_candidate(
            flow, disc_url_well_known(&flow->mcp, "oauth-protected-resource",
                                      DISC_WK_ROOT));
    }
    return err;
}

disc_flow_state
disc_flow_start(disc_flow *flow)
{
    const char *why = NULL;
    mr_err err =
        disc_url_check(flow->mcp_text, flow->cfg.allow, &flow->mcp, &why);

    if (err == MR_ENOMEM) {
        return disc_flow_fail_nomem(flow);
    }
    if (err == MR_EBLOCKED_ADDRESS) {
        return disc_flow_fail(flow, err, "the MCP server URL %s", why);
    }
    if (err != MR_OK) {
        return disc_flow_fail(flow, MR_EINVALID_URL, "the MCP server URL %s",
                              why);
    }

    flow->origin = disc_url_origin(&flow->mcp);
    if (flow->origin == NULL) {
        return disc_flow_fail_nomem(flow);
    }
    if (flow->cached) {
        return disc_flow_start_registration(flow);
    }

    flow->stage = DISC_STAGE_PROBE;
    /* Redirects are followed as MCP clients' fetch does: 307 and 308 keep
     * the POST, as a server that adds a trailing slash sends them. */
    disc_flow_set_request(flow, DISC_POST, flow->mcp_text, probe_headers,
                          probe_body);
    flow->request.follow_redirects = true;
    flow->request.want_body = false;
    return DISC_FLOW_FETCH;
}

/* Returns whether the probe's response came from the MCP server's own
 * origin. A 401 of another host, reached by a redirect, does not show
 * whether this one requires authorization. */
static bool
from_mcp_origin(const disc_flow *flow, const disc_response *resp)
{
    disc_url url = {0};
    const char *reason = NULL;
    bool same = false;

    if (resp->final_url == NULL) {
        return true;
    }
    if (disc_url_parse(resp->final_url, &url, &reason) == MR_OK) {
        same = disc_url_same_origin(&url, &flow->mcp);
    }
    disc_url_free(&url);
    return same;
}

disc_flow_state
disc_flow_finish_probe(disc_flow *flow, const disc_response *resp)
{
    char url[DISC_FLOW_URL_SHOWN_MAX];
    char what[DISC_FLOW_URL_SHOWN_MAX + 64];
    mr_err err = MR_OK;

    /* A redirect loop is no outage, so it counts as a probe without a
     * 401, because the well-known metadata URLs may still work. */
    if (resp->net != DISC_NET_OK && resp->net != DISC_NET_REDIRECT) {
        disc_flow_format(what, sizeof(what), "MCP initialize POST %s",
                         disc_flow_show(flow->mcp_text, url, sizeof(url)));
        return disc_flow_fail_transport(flow, what, resp, MR_EMCP_UNREACHABLE);
    }

    disc_flow_clear_candidates(flow);
    flow->probe_unauthorized = resp->net == DISC_NET_OK &&
                               resp->status == 401 &&
                               from_mcp_origin(flow, resp);
    if (resp->net == DISC_NET_REDIRECT) {
        snprintf(flow->probe_note, sizeof(flow->probe_note),
                 "the probe was redirected more than %d times",
                 DISC_MAX_REDIRECTS);
    } else if (flow->probe_unauthorized) {
        err = read_challenges(flow, resp);
    } else if (resp->status == 401) {
        /* Its challenge would let another host choose the metadata, and
         * with it the authorization server that gets the client. */
        snprintf(flow->probe_note, sizeof(flow->probe_note),
                 "the probe's 401 came from another origin after a "
                 "redirect and was ignored");
    } else {
        snprintf(flow->probe_note, sizeof(flow->probe_note),
                 "the probe returned HTTP %ld, not 401", resp->status);
    }
    if (err == MR_OK) {
        err = add_prm_candidates(flow);
    }
    if (err != MR_OK) {
        return disc_flow_fail_nomem(flow);
    }

    flow->stage = DISC_STAGE_PRM;
    return next_prm(flow);
}

/* ---- step 2: protected resource metadata ---- */

/* next_prm tries the next protected resource metadata URL. Without any,
 * it fails, or takes the no-metadata path when every URL returned 404. */
static disc_flow_state
next_prm(disc_flow *flow)
{
    char url[DISC_FLOW_URL_SHOWN_MAX];

    if (disc_flow_fetch_next(flow)) {
        return DISC_FLOW_FETCH;
    }
    if (flow->mismatch[0] != '\0') {
        return disc_flow_fail(flow, MR_ERESOURCE_MISMATCH, "%s",
                              flow->mismatch);
    }
    /* The 2025-03-26 path is for a server that requires authorization
     * (401) but predates RFC 9728. Without a 401, its default endpoints
     * would be guesses at a server that may not be OAuth at all. */
    if (flow->all_not_found && flow->probe_unauthorized) {
        flow->fallback = true;
        return disc_flow_start_asm(flow, flow->origin);
    }
    return disc_flow_fail(
        flow, MR_ENO_RESOURCE_METADATA,
        "no usable protected resource metadata for %s: %s%s%s",
        disc_flow_show(flow->mcp_text, url, sizeof(url)), flow->tried,
        flow->probe_note[0] != '\0' ? "; " : "", flow->probe_note);
}

/* use_prm validates the parsed document and moves on to its first
 * authorization server. A document whose resource does not match is not
 * used (RFC 9728 section 3.3), but the next URL is still tried, and the
 * mismatch becomes the error only when no URL works. */
static disc_flow_state
use_prm(disc_flow *flow, const char *url)
{
    char why[DISC_DETAIL_MAX];

    if (disc_prm_check_resource(&flow->prm, &flow->mcp, why, sizeof(why)) !=
        MR_OK) {
        disc_flow_format(flow->mismatch, sizeof(flow->mismatch),
                         "protected resource metadata at %s: %s", url, why);
        disc_flow_note(flow, "%s returned HTTP 200 but %s", url, why);
        flow->all_not_found = false;
        disc_prm_free(&flow->prm);
        return next_prm(flow);
    }
    return disc_flow_start_asm(flow, flow->prm.authorization_servers[0]);
}

disc_flow_state
disc_flow_finish_prm(disc_flow *flow, const disc_response *resp)
{
    char url[DISC_FLOW_URL_SHOWN_MAX];
    char why[DISC_DETAIL_MAX];
    char type[DISC_FLOW_TYPE_SHOWN_MAX];
    disc_flow_state state;
    mr_err err;

    disc_flow_show(disc_flow_current(flow), url, sizeof(url));
    if (disc_flow_metadata_failed(flow, resp, url, &state)) {
        return state;
    }
    if (resp->status != 200) {
        disc_flow_note(flow, "%s returned HTTP %ld", url, resp->status);
        flow->all_not_found = flow->all_not_found && resp->status == 404;
        return next_prm(flow);
    }
    if (!disc_flow_is_json(resp, type, sizeof(type))) {
        disc_flow_note(flow, "%s returned HTTP 200 %s, not a JSON media type",
                       url, type);
        flow->all_not_found = false;
        return next_prm(flow);
    }

    err = disc_prm_parse(resp->body, resp->body_len, &flow->prm, why,
                         sizeof(why));
    if (err == MR_ENOMEM) {
        return disc_flow_fail_nomem(flow);
    }
    if (err != MR_OK) {
        disc_flow_note(flow, "%s returned HTTP 200 but %s", url, why);
        flow->all_not_found = false;
        return next_prm(flow);
    }
    return use_prm(flow, url);
}
