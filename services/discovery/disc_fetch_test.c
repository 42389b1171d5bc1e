/*
 * disc_fetch_test.c - the fetch policy of disc_fetch against two HTTP
 * servers on loopback: one on 127.0.0.1 that redirects, and one on
 * 127.0.0.2 that counts the requests it receives. Unless a test allows
 * it, 127.0.0.2 stands for a private address, so no traffic leaves the
 * host. Every range allowed either contains only loopback or, as
 * 10.0.0.0/8, is named in no URL.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "disc_fetch.h"
#include "mr_test.h"

/* peer is one loopback HTTP server. Requests to /redirect?to=URL get a 302
 * to URL; every other request gets 200 and "{}". */
typedef struct {
    struct MHD_Daemon *daemon;
    int port;
    pthread_mutex_t mutex;
    int requests; /* guarded by mutex */
} peer;

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload,
       size_t *upload_size, void **state)
{
    peer *p = cls;
    const char *to;
    struct MHD_Response *resp;
    enum MHD_Result rc;
    unsigned status = MHD_HTTP_OK;

    (void)method, (void)version, (void)upload, (void)upload_size;
    (void)state;
    pthread_mutex_lock(&p->mutex);
    p->requests++;
    pthread_mutex_unlock(&p->mutex);

    resp = MHD_create_response_from_buffer(2, "{}", MHD_RESPMEM_PERSISTENT);
    to = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to");
    if (strcmp(url, "/redirect") == 0 && to != NULL) {
        MHD_add_response_header(resp, "Location", to);
        status = MHD_HTTP_FOUND;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* peer_start starts p on a free port of address; false when it cannot. */
static bool
peer_start(peer *p, const char *address)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;

    *p = (peer){0};
    pthread_mutex_init(&p->mutex, NULL);
    inet_pton(AF_INET, address, &sin.sin_addr);
    p->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                         0, NULL, NULL, answer, p, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&sin, MHD_OPTION_END);
    if (p->daemon == NULL) {
        return false;
    }
    info = MHD_get_daemon_info(p->daemon, MHD_DAEMON_INFO_BIND_PORT);
    p->port = info != NULL ? info->port : 0;
    return p->port > 0;
}

static int
peer_requests(peer *p)
{
    int n;

    pthread_mutex_lock(&p->mutex);
    n = p->requests;
    pthread_mutex_unlock(&p->mutex);
    return n;
}

static void
peer_stop(peer *p)
{
    if (p->daemon != NULL) {
        MHD_stop_daemon(p->daemon);
    }
    pthread_mutex_destroy(&p->mutex);
}

/* run_fetch performs one GET of url with the given allow-list text and
 * stores the outcome in *net (and the status in *status). It returns the
 * error of disc_fetch_new. */
static mr_err
run_fetch(const char *allow_text, const char *url, bool follow, disc_net *net,
          long *status)
{
    mr_allow_list allow;
    const char *bad = NULL;
    disc_fetch_config cfg = {
        .allow = &allow,
        .connect_timeout_ms = 2000,
        .max_response_bytes = 65536,
        .user_agent = "mcpreg-test",
    };
    disc_request req = {
        .method = DISC_GET,
        .url = url,
        .follow_redirects = follow,
        .want_body = true,
    };
    disc_fetch *fetch = NULL;
    disc_response resp;
    mr_err err;

    *net = DISC_NET_OTHER;
    *status = 0;
    if (mr_allow_parse(allow_text, &allow, &bad) != MR_OK) {
        return MR_EINTERNAL;
    }
    err = disc_fetch_new(&cfg, &req, 5000, NULL, &fetch);
    if (err == MR_OK) {
        CURLcode rc = curl_easy_perform(disc_fetch_handle(fetch));

        disc_fetch_response(fetch, rc, &resp);
        *net = resp.net;
        *status = resp.status;
    }
    disc_fetch_free(fetch);
    mr_allow_free(&allow);
    return err;
}

typedef struct {
    peer allowed; /* 127.0.0.1 */
    peer other;   /* 127.0.0.2 */
} peers;

static bool
peers_start(peers *ps)
{
    bool ok = peer_start(&ps->allowed, "127.0.0.1") &&
              peer_start(&ps->other, "127.0.0.2");

    MR_CHECK(ok);
    return ok;
}

static void
peers_stop(peers *ps)
{
    peer_stop(&ps->allowed);
    peer_stop(&ps->other);
}

static void
test_allowed_host_fetched(void)
{
    peers ps;
    char url[128];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/doc", ps.allowed.port);
    MR_CHECK_INT(run_fetch("127.0.0.1", url, true, &net, &status), ==, MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_OK);
    MR_CHECK_INT(status, ==, 200);
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 1);
out:
    peers_stop(&ps);
}

static void
test_loopback_blocked_by_default(void)
{
    peers ps;
    char url[128];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    /* https passes the scheme rule, so only the address policy stops it,
     * before any connection is made. */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/doc", ps.allowed.port);
    MR_CHECK_INT(run_fetch("", url, true, &net, &status), ==, MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_BLOCKED);
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 0);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/doc", ps.allowed.port);
    MR_CHECK_INT(run_fetch("", url, true, &net, &status), ==,
                 MR_EBLOCKED_ADDRESS);
out:
    peers_stop(&ps);
}

/* Other spellings of loopback addresses, each over https so that only the
 * address policy can stop it, with an empty allow-list. None may connect.
 * curl rewrites the numeric forms to 127.0.0.1 before the allow-list
 * check, so with "127.0.0.1" allowed they would be allowed too. */
static void
test_loopback_spellings_blocked(void)
{
    static const char *const hosts[] = {
        "localhost",          /* a name that resolves to loopback */
        "127.1",              /* short dotted form */
        "2130706433",         /* 127.0.0.1 as one decimal number */
        "0x7f000001",         /* ... and as hex */
        "[::ffff:127.0.0.1]", /* IPv4-mapped IPv6 */
    };
    peers ps;
    char url[128];
    char outcome[160];
    char expected[160];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        snprintf(url, sizeof(url), "https://%s:%d/doc", hosts[i],
                 ps.allowed.port);
        MR_CHECK_INT(run_fetch("", url, true, &net, &status), ==, MR_OK);
        /* The URL is part of both strings, so a failure names it. */
        snprintf(outcome, sizeof(outcome), "%s: net %d", url, (int)net);
        snprintf(expected, sizeof(expected), "%s: net %d", url,
                 (int)DISC_NET_BLOCKED);
        MR_CHECK_STR(outcome, expected);
    }
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 0);
out:
    peers_stop(&ps);
}

/* With only "localhost" allowed, the address 127.0.0.1 written as itself
 * still gets the default policy: the allow-list names hosts. */
static void
test_allowed_name_not_address(void)
{
    peers ps;
    char url[128];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/doc", ps.allowed.port);
    MR_CHECK_INT(run_fetch("localhost", url, true, &net, &status), ==, MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_BLOCKED);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/doc", ps.allowed.port);
    MR_CHECK_INT(run_fetch("localhost", url, true, &net, &status), ==,
                 MR_EBLOCKED_ADDRESS);
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 0);
out:
    peers_stop(&ps);
}

/* check_redirect_blocked redirects from the allowed peer to target, with
 * allow_text as the allow-list, and expects the hop to be refused before
 * it connects. */
static void
check_redirect_blocked(peers *ps, const char *allow_text, const char *target)
{
    char url[512];
    disc_net net;
    long status;
    int before = peer_requests(&ps->allowed);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect?to=%s",
             ps->allowed.port, target);
    MR_CHECK_INT(run_fetch(allow_text, url, true, &net, &status), ==, MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_BLOCKED);
    MR_CHECK_INT(peer_requests(&ps->allowed), ==, before + 1);
    MR_CHECK_INT(peer_requests(&ps->other), ==, 0);
}

static void
test_redirect_to_other_loopback_http(void)
{
    peers ps;
    char target[128];

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(target, sizeof(target), "http://127.0.0.2:%d/doc", ps.other.port);
    check_redirect_blocked(&ps, "127.0.0.1", target);
out:
    peers_stop(&ps);
}

static void
test_redirect_to_other_loopback_https(void)
{
    peers ps;
    char target[128];

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(target, sizeof(target), "https://127.0.0.2:%d/doc",
             ps.other.port);
    check_redirect_blocked(&ps, "127.0.0.1", target);
out:
    peers_stop(&ps);
}

static void
test_redirect_to_name_of_loopback(void)
{
    peers ps;
    char target[128];
    char url[256];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    /* localhost is loopback too, but not on the allow-list. */
    snprintf(target, sizeof(target), "http://localhost:%d/doc",
             ps.allowed.port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect?to=%s",
             ps.allowed.port, target);
    MR_CHECK_INT(run_fetch("127.0.0.1", url, true, &net, &status), ==, MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_BLOCKED);
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 1);
out:
    peers_stop(&ps);
}

static void
test_redirect_to_allowed_host(void)
{
    peers ps;
    char target[128];
    char url[256];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(target, sizeof(target), "http://127.0.0.2:%d/doc", ps.other.port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect?to=%s",
             ps.allowed.port, target);
    MR_CHECK_INT(run_fetch("127.0.0.1,127.0.0.2", url, true, &net, &status),
                 ==, MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_OK);
    MR_CHECK_INT(status, ==, 200);
    MR_CHECK_INT(peer_requests(&ps.other), ==, 1);
out:
    peers_stop(&ps);
}

/* A CIDR range admits http to IP literals in it, on the first URL and on
 * a redirect hop. */
static void
test_range_admits_literals_over_http(void)
{
    peers ps;
    char url[256];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(url, sizeof(url),
             "http://127.0.0.1:%d/redirect?to=http://127.0.0.2:%d/doc",
             ps.allowed.port, ps.other.port);
    MR_CHECK_INT(run_fetch("127.0.0.0/8", url, true, &net, &status), ==,
                 MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_OK);
    MR_CHECK_INT(status, ==, 200);
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 1);
    MR_CHECK_INT(peer_requests(&ps.other), ==, 1);
out:
    peers_stop(&ps);
}

/* A redirect to an address outside every range is refused before it
 * connects, even within loopback. */
static void
test_range_refuses_hop_outside(void)
{
    peers ps;
    char target[128];

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(target, sizeof(target), "http://127.0.0.2:%d/doc", ps.other.port);
    check_redirect_blocked(&ps, "127.0.0.1/32", target);
    snprintf(target, sizeof(target), "https://127.0.0.2:%d/doc",
             ps.other.port);
    check_redirect_blocked(&ps, "127.0.0.1/32", target);
out:
    peers_stop(&ps);
}

/* A host name that resolves into a range is not listed, so it may not use
 * http, neither as the first URL nor on a redirect hop. */
static void
test_range_refuses_name_over_http(void)
{
    peers ps;
    char url[256];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(url, sizeof(url), "http://localhost:%d/doc", ps.allowed.port);
    MR_CHECK_INT(run_fetch("127.0.0.0/8", url, true, &net, &status), ==,
                 MR_EBLOCKED_ADDRESS);
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 0);

    snprintf(url, sizeof(url),
             "http://127.0.0.1:%d/redirect?to=http://localhost:%d/doc",
             ps.allowed.port, ps.allowed.port);
    MR_CHECK_INT(run_fetch("127.0.0.0/8", url, true, &net, &status), ==,
                 MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_BLOCKED);
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 1);
out:
    peers_stop(&ps);
}

/* Over https a name that resolves into a range may connect: the fetch
 * gets past the address policy and fails in the TLS handshake with the
 * plain http peer instead. */
static void
test_range_admits_name_over_https(void)
{
    peers ps;
    char url[128];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(url, sizeof(url), "https://localhost:%d/doc", ps.allowed.port);
    MR_CHECK_INT(run_fetch("127.0.0.0/8", url, true, &net, &status), ==,
                 MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_CONNECT);

    MR_CHECK_INT(run_fetch("", url, true, &net, &status), ==, MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_BLOCKED);
out:
    peers_stop(&ps);
}

/* A range that does not contain loopback leaves 127.0.0.1 refused before
 * any connection, over http by the URL check and over https by the
 * address policy. */
static void
test_other_range_refuses_loopback(void)
{
    peers ps;
    char url[128];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/doc", ps.allowed.port);
    MR_CHECK_INT(run_fetch("10.0.0.0/8", url, true, &net, &status), ==,
                 MR_EBLOCKED_ADDRESS);

    snprintf(url, sizeof(url), "https://127.0.0.1:%d/doc", ps.allowed.port);
    MR_CHECK_INT(run_fetch("10.0.0.0/8", url, true, &net, &status), ==, MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_BLOCKED);
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 0);
out:
    peers_stop(&ps);
}

static void
test_redirect_not_followed_without_flag(void)
{
    peers ps;
    char url[256];
    disc_net net;
    long status;

    if (!peers_start(&ps)) {
        goto out;
    }
    snprintf(url, sizeof(url),
             "http://127.0.0.1:%d/redirect?to=http://127.0.0.1:%d/doc",
             ps.allowed.port, ps.allowed.port);
    MR_CHECK_INT(run_fetch("127.0.0.1", url, false, &net, &status), ==, MR_OK);
    MR_CHECK_INT(net, ==, DISC_NET_OK);
    MR_CHECK_INT(status, ==, 302);
    MR_CHECK_INT(peer_requests(&ps.allowed), ==, 1);
out:
    peers_stop(&ps);
}

static const mr_test_case cases[] = {
    {"allowed_host_fetched", test_allowed_host_fetched},
    {"loopback_blocked_by_default", test_loopback_blocked_by_default},
    {"loopback_spellings_blocked", test_loopback_spellings_blocked},
    {"allowed_name_not_address", test_allowed_name_not_address},
    {"redirect_to_other_loopback_http", test_redirect_to_other_loopback_http},
    {"redirect_to_other_loopback_https",
     test_redirect_to_other_loopback_https},
    {"redirect_to_name_of_loopback", test_redirect_to_name_of_loopback},
    {"redirect_to_allowed_host", test_redirect_to_allowed_host},
    {"range_admits_literals_over_http", test_range_admits_literals_over_http},
    {"range_refuses_hop_outside", test_range_refuses_hop_outside},
    {"range_refuses_name_over_http", test_range_refuses_name_over_http},
    {"range_admits_name_over_https", test_range_admits_name_over_https},
    {"other_range_refuses_loopback", test_other_range_refuses_loopback},
    {"redirect_not_followed_without_flag",
     test_redirect_not_followed_without_flag},
};

MR_TEST_MAIN(cases)
