/* disc_flow.c - the machinery of the discovery state machine: errors, the
 * log of URLs tried, candidate lists and the public functions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disc_flow_internal.h"
#include "mr_util.h"

static const char *const stage_names[] = {
    "start",
    "probe",
    "resource_metadata",
    "authorization_server_metadata",
    "registration",
    "client_deletion",
    "client_deletion",
    "done",
    "failed",
};

static const char *const metadata_headers[] = {
    "Accept: application/json",
    NULL,
};

void
disc_flow_format(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
}

disc_flow_state
disc_flow_fail(disc_flow *flow, mr_err err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(flow->detail, sizeof(flow->detail), fmt, ap);
    va_end(ap);

    /* Details quote remote servers and reach REST error bodies, which
     * carry printable ASCII only. */
    mr_sanitize(flow->detail, sizeof(flow->detail), flow->detail);
    flow->err = err;
    flow->failed_stage = flow->stage;
    flow->stage = DISC_STAGE_FAILED;
    return DISC_FLOW_FAILED;
}

disc_flow_state
disc_flow_fail_busy(disc_flow *flow, const char *what,
                    const disc_response *resp)
{
    flow->retry_after_s = resp->retry_after_s;
    return disc_flow_fail(flow, MR_EREMOTE_UNAVAILABLE, "%s returned HTTP %ld",
                          what, resp->status);
}

disc_flow_state
disc_flow_fail_nomem(disc_flow *flow)
{
    return disc_flow_fail(flow, MR_ENOMEM, "memory ran out during %s",
                          stage_names[flow->stage]);
}

const char *
disc_flow_show(const char *url, char *out, size_t outlen)
{
    char *text = disc_url_redact(url);

    mr_sanitize(out, outlen, text != NULL ? text : "(URL)");
    free(text);
    return out;
}

disc_flow_state
disc_flow_fail_transport(disc_flow *flow, const char *what,
                         const disc_response *resp, mr_err other_err)
{
    const char *reason = resp->net_detail != NULL ? resp->net_detail : "";

    switch (resp->net) {
    case DISC_NET_TIMEOUT:
        return disc_flow_fail(flow, MR_EREMOTE_TIMEDOUT, "%s timed out", what);
    case DISC_NET_TOO_LARGE:
        return disc_flow_fail(flow, MR_EREMOTE_TOO_LARGE,
                              "%s: the response exceeds the size limit", what);
    case DISC_NET_BLOCKED:
        return disc_flow_fail(flow, MR_EBLOCKED_ADDRESS, "%s was blocked: %s",
                              what, reason);
    default:
        return disc_flow_fail(flow, other_err, "%s failed: %s", what, reason);
    }
}

bool
disc_flow_is_json(const disc_response *resp, char *shown, size_t shownlen)
{
    if (disc_media_type_is_json(resp->content_type)) {
        return true;
    }
    if (resp->content_type == NULL || resp->content_type[0] == '\0') {
        disc_flow_format(shown, shownlen, "with no Content-Type");
    } else {
        mr_sanitize(shown, shownlen, resp->content_type);
    }
    return false;
}

void
disc_flow_note(disc_flow *flow, const char *fmt, ...)
{
    size_t room = sizeof(flow->tried) - flow->tried_len;
    const char *separator = flow->tried_len > 0 ? "; " : "";
    char message[DISC_DETAIL_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    n = snprintf(flow->tried + flow->tried_len, room, "%s%s", separator,
                 message);
    if (n < 0 || (size_t)n >= room) {
        memcpy(flow->tried + sizeof(flow->tried) - 4, "...", 4);
        flow->tried_len = sizeof(flow->tried) - 1;
        return;
    }
    flow->tried_len += (size_t)n;
}

void
disc_flow_clear_candidates(disc_flow *flow)
{
    for (size_t i = 0; i < flow->ncandidates; i++) {
        free(flow->candidates[i]);
    }
    flow->ncandidates = 0;
    flow->next = 0;
    flow->all_not_found = true;
    flow->tried[0] = '\0';
    flow->tried_len = 0;
}

mr_err
disc_flow_add_candidate(disc_flow *flow, char *url)
{
    if (url == NULL) {
        return MR_ENOMEM;
    }
    for (size_t i = 0; i < flow->ncandidates; i++) {
        if (strcmp(flow->candidates[i], url) == 0) {
            free(url);
            return MR_OK;
        }
    }
    if (flow->ncandidates == DISC_FLOW_MAX_CANDIDATES) {
        free(url);
        return MR_OK;
    }
    flow->candidates[flow->ncandidates++] = url;
    return MR_OK;
}

void
disc_flow_set_request(disc_flow *flow, disc_http_method method,
                      const char *url, const char *const *headers,
                      const char *body)
{
    flow->request = (disc_request){
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
        .follow_redirects = method == DISC_GET,
        .want_body = true,
        /* Only a registration's error body is read: an RFC 7591 error. */
        .want_error_body = method == DISC_POST,
    };
}

bool
disc_flow_fetch_next(disc_flow *flow)
{
    if (flow->next == flow->ncandidates) {
        return false;
    }
    disc_flow_set_request(flow, DISC_GET, flow->candidates[flow->next++],
                          metadata_headers, NULL);
    return true;
}

const char *
disc_flow_current(const disc_flow *flow)
{
    return flow->candidates[flow->next - 1];
}

bool
disc_flow_is_fatal_status(long status)
{
    return (status >= 500 && status != 502) || status == 429;
}

bool
disc_flow_metadata_failed(disc_flow *flow, const disc_response *resp,
                          const char *url, disc_flow_state *state)
{
    char what[DISC_FLOW_URL_SHOWN_MAX + 64];

    /* Too many redirects fail this URL only: the next one may work, and a
     * retry would meet the same loop. The caller notes the last status. */
    if (resp->net == DISC_NET_REDIRECT) {
        return false;
    }
    if (resp->net != DISC_NET_OK) {
        disc_flow_format(what, sizeof(what), "GET %s", url);
        *state =
            disc_flow_fail_transport(flow, what, resp, MR_EREMOTE_UNAVAILABLE);
        return true;
    }

    /* A server error is transient: the caller may retry, and the next
     * candidate URL would only hide the outage. */
    if (disc_flow_is_fatal_status(resp->status)) {
        disc_flow_format(what, sizeof(what), "GET %s", url);
        if (resp->final_url != NULL && strcmp(resp->final_url, url) != 0) {
            disc_flow_format(what, sizeof(what), "GET %s, redirected to %s,",
                             url, resp->final_url);
        }
        *state = disc_flow_fail_busy(flow, what, resp);
        return true;
    }
    return false;
}

/* ---- public functions ---- */

mr_err
disc_flow_new(const disc_flow_config *cfg, const char *mcp_server_url,
              disc_flow **out)
{
    disc_flow *flow = calloc(1, sizeof(*flow));

    *out = NULL;
    if (flow == NULL) {
        return MR_ENOMEM;
    }
    flow->cfg = *cfg;
    flow->mcp_text = strdup(mcp_server_url);
    if (flow->mcp_text == NULL) {
        free(flow);
        return MR_ENOMEM;
    }
    *out = flow;
    return MR_OK;
}

/* operator_method returns the auth method of an operator client: the one
 * given, else client_secret_basic with a secret and none without; NULL
 * when the one given is not one that mcpreg supports. */
static const char *
operator_method(const disc_operator_client *client)
{
    const char *method = client->token_endpoint_auth_method;
    bool has_secret =
        client->client_secret != NULL && client->client_secret[0] != '\0';

    if (method == NULL || method[0] == '\0') {
        return has_secret ? "client_secret_basic" : "none";
    }
    if (strcmp(method, "none") == 0) {
        return has_secret ? NULL : "none";
    }
    if (strcmp(method, "client_secret_basic") == 0 ||
        strcmp(method, "client_secret_post") == 0) {
        return has_secret ? method : NULL;
    }
    return NULL;
}

mr_err
disc_flow_add_operator_client(disc_flow *flow,
                              const disc_operator_client *client)
{
    size_t n = flow->noperator_clients;
    const char *method = operator_method(client);
    const char *secret = client->client_secret;
    disc_client *copy = &flow->operator_clients[n];
    mr_err err;

    if (n == DISC_FLOW_MAX_OPERATOR_CLIENTS || client->issuer == NULL ||
        client->issuer[0] == '\0' || client->client_id == NULL ||
        client->client_id[0] == '\0' || method == NULL) {
        return MR_EINVALID_FIELD;
    }

    err = disc_strdup_or_null(client->issuer, &flow->operator_issuers[n]);
    if (err == MR_OK) {
        err = disc_strdup_or_null(client->client_id, &copy->client_id);
    }
    if (err == MR_OK && secret != NULL && secret[0] != '\0') {
        err = disc_strdup_or_null(secret, &copy->client_secret);
    }
    if (err == MR_OK) {
        err = disc_strdup_or_null(method, &copy->token_endpoint_auth_method);
    }
    flow->noperator_clients++; /* so that disc_flow_free frees the copy */
    return err;
}

disc_flow_state
disc_flow_step(disc_flow *flow, const disc_response *response)
{
    disc_flow_note_freshness(flow, response);
    switch (flow->stage) {
    case DISC_STAGE_START:
        return disc_flow_start(flow);
    case DISC_STAGE_PROBE:
        return disc_flow_finish_probe(flow, response);
    case DISC_STAGE_PRM:
        return disc_flow_finish_prm(flow, response);
    case DISC_STAGE_ASM:
        return disc_flow_finish_asm(flow, response);
    case DISC_STAGE_DCR:
        return disc_flow_finish_registration(flow, response);
    case DISC_STAGE_DELETE_START:
        return disc_flow_start_delete(flow);
    case DISC_STAGE_DELETE:
        return disc_flow_finish_delete(flow, response);
    case DISC_STAGE_DONE:
        return DISC_FLOW_DONE;
    case DISC_STAGE_FAILED:
        break;
    }
    return DISC_FLOW_FAILED;
}

const disc_request *
disc_flow_request(const disc_flow *flow)
{
    return &flow->request;
}

static const char *
or_empty(const char *text)
{
    return text != NULL ? text : "";
}

void
disc_flow_result(const disc_flow *flow, disc_result *out)
{
    *out = (disc_result){
        .resource = flow->fallback ? "" : or_empty(flow->prm.resource),
        .issuer = or_empty(flow->meta.issuer),
        .authorization_endpoint = or_empty(flow->meta.authorization_endpoint),
        .token_endpoint = or_empty(flow->meta.token_endpoint),
        .registration_endpoint = or_empty(flow->meta.registration_endpoint),
        .revocation_endpoint = or_empty(flow->meta.revocation_endpoint),
        .scope = or_empty(flow->scope),
        .redirect_uri = flow->cfg.redirect_uri,
        .client_source = or_empty(flow->client_source),
        .client = &flow->client,
        .delete_status = flow->delete_status,
    };
}

mr_err
disc_flow_error(const disc_flow *flow)
{
    return flow->stage == DISC_STAGE_FAILED ? flow->err : MR_OK;
}

uint32_t
disc_flow_retry_after(const disc_flow *flow)
{
    return flow->stage == DISC_STAGE_FAILED ? flow->retry_after_s : 0;
}

const char *
disc_flow_detail(const disc_flow *flow)
{
    return flow->stage == DISC_STAGE_FAILED ? flow->detail : "";
}

const char *
disc_flow_stage(const disc_flow *flow)
{
    if (flow->stage == DISC_STAGE_FAILED) {
        return stage_names[flow->failed_stage];
    }
    return stage_names[flow->stage];
}

bool
disc_flow_registers(const disc_flow *flow)
{
    return flow->stage == DISC_STAGE_DCR;
}

void
disc_flow_free(disc_flow *flow)
{
    if (flow == NULL) {
        return;
    }
    disc_flow_clear_candidates(flow);
    free(flow->mcp_text);
    disc_url_free(&flow->mcp);
    free(flow->origin);
    free(flow->challenge_scope);
    disc_prm_free(&flow->prm);
    free(flow->issuer);
    disc_asm_free(&flow->meta);
    free(flow->scope);
    free(flow->dcr_body);
    disc_client_free(&flow->client);
    if (flow->auth_header != NULL) {
        explicit_bzero(flow->auth_header, strlen(flow->auth_header));
        free(flow->auth_header);
    }
    for (size_t i = 0; i < flow->noperator_clients; i++) {
        free(flow->operator_issuers[i]);
        disc_client_free(&flow->operator_clients[i]);
    }
    free(flow);
}
