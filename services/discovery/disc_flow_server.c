/* disc_flow_server.c - steps 3 to 5 of discovery: authorization server
 * metadata (RFC 8414, OpenID Connect Discovery) with the default
 * endpoints of MCP 2025-03-26, then dynamic client registration
 * (RFC 7591). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disc_flow_internal.h"

static const char *const registration_headers[] = {
    "Content-Type: application/json",
    "Accept: application/json",
    NULL,
};

static disc_flow_state start_registration(disc_flow *flow);

/* ---- steps 3 and 4: authorization server metadata ---- */

/* add_asm_candidates lists the metadata URLs of an issuer in the order of
 * the MCP specification (2025-06-18). An issuer with a path gets RFC 8414
 * and OpenID Connect path insertion, then OpenID Connect path appending.
 * An issuer without one gets the two root URLs. */
static mr_err
add_asm_candidates(disc_flow *flow, const disc_url *issuer)
{
    mr_err err;

    if (!disc_url_has_path(issuer)) {
        err = disc_flow_add_candidate(
            flow, disc_url_well_known(issuer, "oauth-authorization-server",
                                      DISC_WK_ROOT));
        if (err == MR_OK) {
            err = disc_flow_add_candidate(
                flow, disc_url_well_known(issuer, "openid-configuration",
                                          DISC_WK_ROOT));
        }
        return err;
    }

    err = disc_flow_add_candidate(
        flow, disc_url_well_known(issuer, "oauth-authorization-server",
                                  DISC_WK_INSERT));
    if (err == MR_OK) {
        err = disc_flow_add_candidate(
            flow, disc_url_well_known(issuer, "openid-configuration",
                                      DISC_WK_INSERT));
    }
    if (err == MR_OK) {
        err = disc_flow_add_candidate(
            flow, disc_url_well_known(issuer, "openid-configuration",
                                      DISC_WK_APPEND));
    }
    return err;
}

disc_flow_state
disc_flow_start_asm(disc_flow *flow, const char *issuer_text)
{
    char quoted[160];
    const char *why = NULL;
    disc_url issuer;
    mr_err err = disc_url_check(issuer_text, flow->cfg.allow, &issuer, &why);

    disc_sanitize(quoted, sizeof(quoted), issuer_text);
    if (err == MR_ENOMEM) {
        return disc_flow_fail_nomem(flow);
    }
    if (err != MR_OK) {
        return disc_flow_fail(
            flow, err == MR_EBLOCKED_ADDRESS ? err : MR_EAS_METADATA,
            "authorization server \"%s\" %s", quoted, why);
    }
    if (issuer.query != NULL) {
        disc_url_free(&issuer);
        return disc_flow_fail(
            flow, MR_EAS_METADATA,
            "authorization server \"%s\" has a query, which an "
            "issuer must not have",
            quoted);
    }

    disc_flow_clear_candidates(flow);
    flow->issuer = strdup(issuer_text);
    err = flow->issuer != NULL ? add_asm_candidates(flow, &issuer) : MR_ENOMEM;
    disc_url_free(&issuer);
    if (err != MR_OK) {
        return disc_flow_fail_nomem(flow);
    }

    flow->stage = DISC_STAGE_ASM;
    disc_flow_fetch_next(flow);
    return DISC_FLOW_FETCH;
}

/* next_asm tries the next metadata URL of the issuer. Without any, the
 * no-metadata path uses the default endpoints of the MCP specification
 * (2025-03-26) and the normal path fails. */
static disc_flow_state
next_asm(disc_flow *flow)
{
    if (disc_flow_fetch_next(flow)) {
        return DISC_FLOW_FETCH;
    }
    if (!flow->fallback) {
        return disc_flow_fail(
            flow, MR_EAS_METADATA,
            "no authorization server metadata for issuer %s: %s", flow->issuer,
            flow->tried);
    }
    if (disc_asm_default(flow->origin, &flow->meta) != MR_OK) {
        return disc_flow_fail_nomem(flow);
    }
    return start_registration(flow);
}

disc_flow_state
disc_flow_finish_asm(disc_flow *flow, const disc_response *resp)
{
    char url[DISC_FLOW_URL_SHOWN_MAX];
    char why[DISC_DETAIL_MAX];
    char what[DISC_FLOW_URL_SHOWN_MAX + 64];
    bool is_document = false;
    mr_err err;

    disc_flow_show(disc_flow_current(flow), url, sizeof(url));
    if (resp->net != DISC_NET_OK) {
        disc_flow_format(what, sizeof(what), "GET %s", url);
        return disc_flow_fail_transport(flow, what, resp,
                                        MR_EREMOTE_UNAVAILABLE);
    }
    if (disc_flow_is_fatal_status(resp->status)) {
        return disc_flow_fail(flow, MR_EAS_METADATA,
                              "GET %s returned HTTP %ld", url, resp->status);
    }
    if (resp->status != 200) {
        disc_flow_note(flow, "%s returned HTTP %ld", url, resp->status);
        return next_asm(flow);
    }

    err = disc_asm_parse(resp->body, resp->body_len, flow->issuer,
                         flow->cfg.allow, &flow->meta, &is_document, why,
                         sizeof(why));
    if (err == MR_ENOMEM) {
        return disc_flow_fail_nomem(flow);
    }
    if (!is_document) {
        disc_flow_note(flow, "%s returned HTTP 200 but %s", url, why);
        return next_asm(flow);
    }
    if (err != MR_OK) {
        return disc_flow_fail(
            flow, err, "authorization server metadata at %s: %s", url, why);
    }
    return start_registration(flow);
}

/* ---- step 5: dynamic client registration ---- */

static disc_flow_state
start_registration(disc_flow *flow)
{
    const char *method;
    const char *scope = flow->challenge_scope;

    if (flow->meta.registration_endpoint == NULL) {
        return disc_flow_fail(
            flow, MR_EREGISTRATION_UNSUPPORTED,
            "authorization server %s has no registration_endpoint",
            flow->meta.issuer);
    }
    method = disc_choose_auth_method(&flow->meta);
    if (method == NULL) {
        return disc_flow_fail(
            flow, MR_EREGISTRATION_UNSUPPORTED,
            "authorization server %s supports none of the token "
            "endpoint auth methods client_secret_basic, "
            "client_secret_post and none",
            flow->meta.issuer);
    }

    if (scope == NULL) {
        scope = flow->prm.scopes;
    }
    if (disc_strdup_or_null(scope, &flow->scope) != MR_OK) {
        return disc_flow_fail_nomem(flow);
    }
    flow->dcr_body = disc_dcr_body(flow->cfg.redirect_uri, method, scope);
    if (flow->dcr_body == NULL) {
        return disc_flow_fail_nomem(flow);
    }

    flow->stage = DISC_STAGE_DCR;
    disc_flow_set_request(flow, DISC_POST, flow->meta.registration_endpoint,
                          registration_headers, flow->dcr_body);
    return DISC_FLOW_FETCH;
}

disc_flow_state
disc_flow_finish_registration(disc_flow *flow, const disc_response *resp)
{
    char url[DISC_FLOW_URL_SHOWN_MAX];
    char why[DISC_DETAIL_MAX];
    char what[DISC_FLOW_URL_SHOWN_MAX + 64];
    mr_err err;

    disc_flow_show(flow->meta.registration_endpoint, url, sizeof(url));
    if (resp->net != DISC_NET_OK) {
        disc_flow_format(what, sizeof(what), "registration POST %s", url);
        return disc_flow_fail_transport(flow, what, resp,
                                        MR_EREMOTE_UNAVAILABLE);
    }

    if (resp->status >= 200 && resp->status <= 299) {
        err = disc_dcr_parse_client(
            resp->body, resp->body_len, disc_choose_auth_method(&flow->meta),
            flow->cfg.allow, &flow->client, why, sizeof(why));
        if (err == MR_ENOMEM) {
            return disc_flow_fail_nomem(flow);
        }
        if (err != MR_OK) {
            return disc_flow_fail(flow, err,
                                  "registration response from %s is "
                                  "invalid: %s",
                                  url, why);
        }
        flow->stage = DISC_STAGE_DONE;
        return DISC_FLOW_DONE;
    }

    if (resp->status >= 400 && resp->status <= 499) {
        disc_dcr_parse_error(resp->body, resp->body_len, why, sizeof(why));
        return disc_flow_fail(flow, MR_EREGISTRATION_REJECTED,
                              "registration at %s returned HTTP %ld%s%s", url,
                              resp->status, why[0] != '\0' ? ": " : "", why);
    }
    if (resp->status >= 300 && resp->status <= 399) {
        return disc_flow_fail(
            flow, MR_EREGISTRATION_INVALID,
            "registration at %s returned HTTP %ld, a redirect, "
            "which registration does not follow",
            url, resp->status);
    }
    return disc_flow_fail(flow, MR_EREMOTE_UNAVAILABLE,
                          "registration at %s returned HTTP %ld", url,
                          resp->status);
}
