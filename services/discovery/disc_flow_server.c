/* disc_flow_server.c - steps 3 to 5 of discovery: authorization server
 * metadata (RFC 8414, OpenID Connect Discovery) with the default
 * endpoints of MCP 2025-03-26, then dynamic client registration
 * (RFC 7591). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disc_flow_internal.h"
#include "mr_util.h"

static const char *const registration_headers[] = {
    "Content-Type: application/json",
    "Accept: application/json",
    NULL,
};

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

    mr_sanitize(quoted, sizeof(quoted), issuer_text);
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
    char issuer[DISC_FLOW_URL_SHOWN_MAX];

    if (disc_flow_fetch_next(flow)) {
        return DISC_FLOW_FETCH;
    }
    if (!flow->fallback) {
        return disc_flow_fail(
            flow, MR_EAS_METADATA,
            "no authorization server metadata for issuer %s: %s",
            disc_flow_show(flow->issuer, issuer, sizeof(issuer)), flow->tried);
    }
    if (disc_asm_default(flow->origin, &flow->meta) != MR_OK) {
        return disc_flow_fail_nomem(flow);
    }
    return disc_flow_start_registration(flow);
}

disc_flow_state
disc_flow_finish_asm(disc_flow *flow, const disc_response *resp)
{
    char url[DISC_FLOW_URL_SHOWN_MAX];
    char why[DISC_DETAIL_MAX];
    char type[DISC_FLOW_TYPE_SHOWN_MAX];
    disc_flow_state state;
    bool is_document = false;
    mr_err err;

    disc_flow_show(disc_flow_current(flow), url, sizeof(url));
    if (disc_flow_metadata_failed(flow, resp, url, &state)) {
        return state;
    }
    if (resp->status != 200) {
        disc_flow_note(flow, "%s returned HTTP %ld", url, resp->status);
        return next_asm(flow);
    }
    if (!disc_flow_is_json(resp, type, sizeof(type))) {
        disc_flow_note(flow, "%s returned HTTP 200 %s, not a JSON media type",
                       url, type);
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
    return disc_flow_start_registration(flow);
}

/* ---- step 5: dynamic client registration ---- */

/* post_registration requests a registration POST whose body requests
 * auth_method; any earlier body and client are dropped. */
static disc_flow_state
post_registration(disc_flow *flow, const char *auth_method)
{
    free(flow->dcr_body);
    disc_client_free(&flow->client);
    flow->auth_method = auth_method;
    flow->dcr_body =
        disc_dcr_body(flow->cfg.redirect_uri, auth_method, flow->scope);
    if (flow->dcr_body == NULL) {
        return disc_flow_fail_nomem(flow);
    }

    flow->stage = DISC_STAGE_DCR;
    flow->registrations++;
    disc_flow_set_request(flow, DISC_POST, flow->meta.registration_endpoint,
                          registration_headers, flow->dcr_body);
    return DISC_FLOW_FETCH;
}

/* use_operator_client copies the operator client for the issuer, when
 * there is one, into flow->client and sets *used. */
static mr_err
use_operator_client(disc_flow *flow, bool *used)
{
    const disc_client *found = NULL;
    mr_err err;

    *used = false;
    for (size_t i = 0; i < flow->noperator_clients && found == NULL; i++) {
        if (disc_issuer_equal(flow->operator_issuers[i], flow->meta.issuer)) {
            found = &flow->operator_clients[i];
        }
    }
    if (found == NULL) {
        return MR_OK;
    }

    err = disc_strdup_or_null(found->client_id, &flow->client.client_id);
    if (err == MR_OK) {
        err = disc_strdup_or_null(found->client_secret,
                                  &flow->client.client_secret);
    }
    if (err == MR_OK) {
        err = disc_strdup_or_null(found->token_endpoint_auth_method,
                                  &flow->client.token_endpoint_auth_method);
    }
    flow->client_source = "operator";
    *used = err == MR_OK;
    return err;
}

/* use_client_metadata_document makes the configured client ID metadata
 * document URL the client_id, as a public client. */
static mr_err
use_client_metadata_document(disc_flow *flow)
{
    mr_err err = disc_strdup_or_null(flow->cfg.client_metadata_url,
                                     &flow->client.client_id);

    if (err == MR_OK) {
        err = disc_strdup_or_null("none",
                                  &flow->client.token_endpoint_auth_method);
    }
    flow->client_source = "client_metadata_document";
    return err;
}

static disc_flow_state
finish_without_registration(disc_flow *flow)
{
    flow->stage = DISC_STAGE_DONE;
    return DISC_FLOW_DONE;
}

/* take_scope stores the scope that registration and the later
 * authorization request use: the challenge's, else the resource
 * metadata's scopes_supported, else none. */
static mr_err
take_scope(disc_flow *flow)
{
    const char *scope = flow->challenge_scope;

    if (scope == NULL) {
        scope = flow->prm.scopes;
    }
    return disc_strdup_or_null(scope, &flow->scope);
}

/* disc_flow_start_registration obtains a client in this order: the operator's
 * client for this issuer, a client ID metadata document, dynamic client
 * registration. When metadata exists, it never guesses a registration
 * endpoint that the metadata does not name. */
disc_flow_state
disc_flow_start_registration(disc_flow *flow)
{
    const char *method;
    bool used = false;

    flow->discovered = true;
    if (take_scope(flow) != MR_OK ||
        use_operator_client(flow, &used) != MR_OK) {
        return disc_flow_fail_nomem(flow);
    }
    if (used) {
        return finish_without_registration(flow);
    }
    if (flow->meta.client_id_metadata_document_supported &&
        flow->cfg.client_metadata_url != NULL) {
        if (use_client_metadata_document(flow) != MR_OK) {
            return disc_flow_fail_nomem(flow);
        }
        return finish_without_registration(flow);
    }

    if (flow->meta.registration_endpoint == NULL) {
        return disc_flow_fail(
            flow, MR_EREGISTRATION_UNSUPPORTED,
            "authorization server %s has no registration_endpoint and %s; "
            "add a client registered there with 'mcpreg client add'",
            flow->meta.issuer,
            flow->meta.client_id_metadata_document_supported
                ? "this worker has no client ID metadata document URL"
                : "does not support client ID metadata documents");
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

    flow->client_source = "dynamic_registration";
    return post_registration(flow, method);
}

/* secret_expired returns whether the registered client's secret had
 * already expired when the response arrived. A client without a secret
 * has nothing to expire, and 0 means the secret never expires. */
static bool
secret_expired(const disc_client *client)
{
    return client->client_secret != NULL &&
           client->client_secret_expires_at != 0 &&
           client->client_secret_expires_at <= (int64_t)time(NULL);
}

/* accept_client parses a 2xx response, which RFC 7591 section 3.2.1
 * sends as application/json. A secret that had already expired on
 * receipt is replaced by one more registration, once. */
static disc_flow_state
accept_client(disc_flow *flow, const disc_response *resp, const char *url)
{
    char why[DISC_DETAIL_MAX];
    char type[DISC_FLOW_TYPE_SHOWN_MAX];
    mr_err err;

    if (!disc_flow_is_json(resp, type, sizeof(type))) {
        return disc_flow_fail(flow, MR_EREGISTRATION_INVALID,
                              "registration at %s returned HTTP %ld %s, not "
                              "a JSON media type",
                              url, resp->status, type);
    }

    err = disc_dcr_parse_client(resp->body, resp->body_len, flow->auth_method,
                                flow->cfg.allow, &flow->client, why,
                                sizeof(why));
    if (err == MR_ENOMEM) {
        return disc_flow_fail_nomem(flow);
    }
    if (err != MR_OK) {
        return disc_flow_fail(flow, err,
                              "registration response from %s is invalid: %s",
                              url, why);
    }
    if (!disc_dcr_keeps_redirect_uri(resp->body, resp->body_len,
                                     flow->cfg.redirect_uri)) {
        return disc_flow_fail(flow, MR_EREGISTRATION_INVALID,
                              "registration response from %s is invalid: "
                              "its redirect_uris do not include %s",
                              url, flow->cfg.redirect_uri);
    }

    if (!secret_expired(&flow->client)) {
        flow->stage = DISC_STAGE_DONE;
        return DISC_FLOW_DONE;
    }
    if (flow->registrations < DISC_FLOW_MAX_REGISTRATIONS) {
        /* NOTE: the client with the expired secret stays registered at
         * the server, because the flow does not delete it (RFC 7592). */
        return post_registration(flow, flow->auth_method);
    }
    return disc_flow_fail(flow, MR_EREGISTRATION_INVALID,
                          "registration response from %s is invalid: "
                          "client_secret_expires_at %lld had passed on "
                          "receipt, %u times in a row",
                          url,
                          (long long)flow->client.client_secret_expires_at,
                          flow->registrations);
}

/* may_retry_with_none returns whether a rejected registration is retried
 * as a public client: the server rejected the auth method it was sent,
 * lists none, and this was the first POST. */
static bool
may_retry_with_none(const disc_flow *flow, const disc_response *resp)
{
    return flow->registrations < DISC_FLOW_MAX_REGISTRATIONS &&
           strcmp(flow->auth_method, "none") != 0 &&
           (flow->meta.auth_methods & DISC_AUTH_NONE) != 0 &&
           disc_dcr_rejects_method(resp->body, resp->body_len,
                                   flow->auth_method);
}

disc_flow_state
disc_flow_finish_registration(disc_flow *flow, const disc_response *resp)
{
    char url[DISC_FLOW_URL_SHOWN_MAX];
    char why[DISC_DETAIL_MAX];
    char what[DISC_FLOW_URL_SHOWN_MAX + 64];

    disc_flow_show(flow->meta.registration_endpoint, url, sizeof(url));
    if (resp->net != DISC_NET_OK) {
        disc_flow_format(what, sizeof(what), "registration POST %s", url);
        return disc_flow_fail_transport(flow, what, resp,
                                        MR_EREMOTE_UNAVAILABLE);
    }

    if (resp->status >= 200 && resp->status <= 299) {
        return accept_client(flow, resp, url);
    }
    if (resp->status == 400 && may_retry_with_none(flow, resp)) {
        return post_registration(flow, "none");
    }

    if (resp->status >= 400 && resp->status <= 499 && resp->status != 429) {
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
    disc_flow_format(what, sizeof(what), "registration at %s", url);
    return disc_flow_fail_busy(flow, what, resp);
}
