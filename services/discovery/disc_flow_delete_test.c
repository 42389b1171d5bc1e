/* disc_flow_delete_test.c - the RFC 7592 client deletion flow driven by
 * canned responses. */
#include <stdio.h>
#include <string.h>

#include "disc_flow.h"
#include "mr_test.h"

#define CLIENT_URI   "https://as.example.com/register/client-1"
#define ACCESS_TOKEN "rat-secret-1"
#define REDIRECT_URI "https://mcpreg.example.com/v1/deepagents/oauth/callback"

static mr_allow_list no_hosts;

static disc_flow *
start(const char *uri, disc_flow_state *state)
{
    disc_flow_config cfg = {.allow = &no_hosts, .redirect_uri = REDIRECT_URI};
    disc_flow *flow = NULL;

    MR_CHECK_INT(disc_flow_new_delete(&cfg, uri, ACCESS_TOKEN, &flow), ==,
                 MR_OK);
    *state = disc_flow_step(flow, NULL);
    return flow;
}

/* respond steps flow with a response of status and returns the state. */
static disc_flow_state
respond(disc_flow *flow, long status)
{
    disc_response resp = {
        .net = DISC_NET_OK,
        .status = status,
        .body = "",
        .body_len = 0,
    };

    return disc_flow_step(flow, &resp);
}

static void
test_delete_request_shape(void)
{
    disc_flow_state state;
    disc_flow *flow = start(CLIENT_URI, &state);
    const disc_request *req = disc_flow_request(flow);
    bool has_token = false;

    MR_CHECK_INT(state, ==, DISC_FLOW_FETCH);
    MR_CHECK_INT(req->method, ==, DISC_DELETE);
    MR_CHECK_STR(req->url, CLIENT_URI);
    MR_CHECK(!req->follow_redirects);
    MR_CHECK(req->body == NULL);
    for (size_t i = 0; req->headers[i] != NULL; i++) {
        if (strcmp(req->headers[i], "Authorization: Bearer " ACCESS_TOKEN) ==
            0) {
            has_token = true;
        }
    }
    MR_CHECK(has_token);
    MR_CHECK_STR(disc_flow_stage(flow), "client_deletion");
    disc_flow_free(flow);
}

/* RFC 7592 specifies 204. A 200, and 404 or 410 for a client that the
 * server no longer has, also leave nothing to delete. */
static void
test_delete_done_statuses(void)
{
    static const long statuses[] = {204, 200, 404, 410};

    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        disc_flow_state state;
        disc_flow *flow = start(CLIENT_URI, &state);

        MR_CHECK_INT(respond(flow, statuses[i]), ==, DISC_FLOW_DONE);
        MR_CHECK_INT(disc_flow_error(flow), ==, MR_OK);
        disc_flow_free(flow);
    }
}

static void
test_delete_failures(void)
{
    static const struct {
        long status;
        mr_err err;
    } cases[] = {
        {401, MR_EREGISTRATION_REJECTED}, {403, MR_EREGISTRATION_REJECTED},
        {302, MR_EREGISTRATION_REJECTED}, {500, MR_EREMOTE_UNAVAILABLE},
        {503, MR_EREMOTE_UNAVAILABLE},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        disc_flow_state state;
        disc_flow *flow = start(CLIENT_URI, &state);
        const char *detail;

        MR_CHECK_INT(respond(flow, cases[i].status), ==, DISC_FLOW_FAILED);
        MR_CHECK_INT(disc_flow_error(flow), ==, cases[i].err);
        detail = disc_flow_detail(flow);
        MR_CHECK(strstr(detail, "client deletion at " CLIENT_URI) != NULL);
        MR_CHECK(strstr(detail, ACCESS_TOKEN) == NULL);
        disc_flow_free(flow);
    }
}

static void
test_delete_transport_fault(void)
{
    disc_flow_state state;
    disc_flow *flow = start(CLIENT_URI, &state);
    disc_response resp = {.net = DISC_NET_CONNECT, .net_detail = "refused"};

    MR_CHECK_INT(disc_flow_step(flow, &resp), ==, DISC_FLOW_FAILED);
    MR_CHECK_INT(disc_flow_error(flow), ==, MR_EREMOTE_UNAVAILABLE);
    disc_flow_free(flow);
}

/* The access token is sent only to a URL that the fetch policy allows. */
static void
test_delete_blocked_uri(void)
{
    disc_flow_state state;
    disc_flow *flow = start("http://as.example.com/register/c", &state);

    MR_CHECK_INT(state, ==, DISC_FLOW_FAILED);
    MR_CHECK_INT(disc_flow_error(flow), ==, MR_EBLOCKED_ADDRESS);
    MR_CHECK(strstr(disc_flow_detail(flow), ACCESS_TOKEN) == NULL);
    disc_flow_free(flow);

    flow = start("not a url", &state);
    MR_CHECK_INT(state, ==, DISC_FLOW_FAILED);
    MR_CHECK_INT(disc_flow_error(flow), ==, MR_EINVALID_FIELD);
    disc_flow_free(flow);
}

static void
test_delete_needs_token(void)
{
    disc_flow_config cfg = {.allow = &no_hosts, .redirect_uri = REDIRECT_URI};
    disc_flow *flow = NULL;

    MR_CHECK_INT(disc_flow_new_delete(&cfg, CLIENT_URI, "", &flow), ==,
                 MR_EMISSING_FIELD);
    MR_CHECK(flow == NULL);
}

static const mr_test_case cases[] = {
    {"delete_request_shape", test_delete_request_shape},
    {"delete_done_statuses", test_delete_done_statuses},
    {"delete_failures", test_delete_failures},
    {"delete_transport_fault", test_delete_transport_fault},
    {"delete_blocked_uri", test_delete_blocked_uri},
    {"delete_needs_token", test_delete_needs_token},
};

MR_TEST_MAIN(cases)
