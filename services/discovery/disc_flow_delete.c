/* disc_flow_delete.c - deletion of a registered client at its
 * authorization server (RFC 7592 section 2.3), as a one-request flow that
 * the engine runs like a discovery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disc_flow_internal.h"
#include "mr_util.h"

/* BEARER_PREFIX starts the Authorization header of the DELETE. */
#define BEARER_PREFIX "Authorization: Bearer "

mr_err
disc_flow_new_delete(const disc_flow_config *cfg,
                     const char *registration_client_uri,
                     const char *registration_access_token, disc_flow **out)
{
    size_t size;
    mr_err err;

    *out = NULL;
    if (registration_client_uri == NULL ||
        registration_client_uri[0] == '\0' ||
        registration_access_token == NULL ||
        registration_access_token[0] == '\0') {
        return MR_EMISSING_FIELD;
    }

    err = disc_flow_new(cfg, registration_client_uri, out);
    if (err != MR_OK) {
        return err;
    }
    size = sizeof(BEARER_PREFIX) + strlen(registration_access_token);
    (*out)->auth_header = malloc(size);
    if ((*out)->auth_header == NULL) {
        disc_flow_free(*out);
        *out = NULL;
        return MR_ENOMEM;
    }
    snprintf((*out)->auth_header, size, "%s%s", BEARER_PREFIX,
             registration_access_token);
    (*out)->stage = DISC_STAGE_DELETE_START;
    return MR_OK;
}

disc_flow_state
disc_flow_start_delete(disc_flow *flow)
{
    char quoted[160];
    const char *why = NULL;
    mr_err err = disc_url_check(flow->mcp_text, flow->cfg.allow, NULL, &why);

    if (err == MR_ENOMEM) {
        return disc_flow_fail_nomem(flow);
    }
    if (err != MR_OK) {
        mr_sanitize(quoted, sizeof(quoted), flow->mcp_text);
        return disc_flow_fail(
            flow, err == MR_EBLOCKED_ADDRESS ? err : MR_EINVALID_FIELD,
            "registration_client_uri \"%s\" %s", quoted, why);
    }

    flow->delete_headers[0] = flow->auth_header;
    flow->delete_headers[1] = "Accept: application/json";
    flow->delete_headers[2] = NULL;
    flow->stage = DISC_STAGE_DELETE;
    disc_flow_set_request(flow, DISC_DELETE, flow->mcp_text,
                          flow->delete_headers, NULL);
    return DISC_FLOW_FETCH;
}

disc_flow_state
disc_flow_finish_delete(disc_flow *flow, const disc_response *resp)
{
    char url[DISC_FLOW_URL_SHOWN_MAX];
    char what[DISC_FLOW_URL_SHOWN_MAX + 64];

    disc_flow_show(flow->mcp_text, url, sizeof(url));
    if (resp->net != DISC_NET_OK) {
        disc_flow_format(what, sizeof(what), "client deletion DELETE %s", url);
        return disc_flow_fail_transport(flow, what, resp,
                                        MR_EREMOTE_UNAVAILABLE);
    }

    /* A client that the server no longer has needs no deletion either. */
    if ((resp->status >= 200 && resp->status <= 299) || resp->status == 404 ||
        resp->status == 410) {
        flow->delete_status = resp->status;
        flow->stage = DISC_STAGE_DONE;
        return DISC_FLOW_DONE;
    }
    if (resp->status >= 500) {
        disc_flow_format(what, sizeof(what), "client deletion at %s", url);
        return disc_flow_fail_busy(flow, what, resp);
    }
    return disc_flow_fail(flow, MR_EREGISTRATION_REJECTED,
                          "client deletion at %s returned HTTP %ld", url,
                          resp->status);
}
