/* mr_rpc_test.c - the RPC layer over a real nng socket pair. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "mcpreg/v1/registration.pb-c.h"
#include "mr_log.h"
#include "mr_rpc.h"
#include "mr_rpc_internal.h"
#include "mr_test.h"
#include "mr_util.h"

#define URL "inproc://mr_rpc_test"

/* get_server replies with a server named after the requested id, or fails
 * with not found for the id "missing". */
static void
get_server(mr_rpc_call *call, void *arg)
{
    const Mcpreg__V1__GetMcpServerRequest *req =
        (const Mcpreg__V1__GetMcpServerRequest *)mr_rpc_request(call);
    Mcpreg__V1__McpServer server = MCPREG__V1__MCP_SERVER__INIT;
    bool huge;

    (void)arg;
    if (strcmp(req->id, "missing") == 0) {
        mr_rpc_fail(call, MR_ESERVER_NOT_FOUND, "no such server", 0);
        return;
    }
    server.id = req->id;
    server.name = (char *)mr_rpc_request_id(call);
    /* The request is freed with the call, so decide before replying. */
    huge = strcmp(req->id, "huge") == 0;
    if (huge) {
        server.name = calloc(1, MR_RPC_REPLY_MAX + 2);
        memset(server.name, 'x', MR_RPC_REPLY_MAX + 1);
    }
    mr_rpc_reply(call, &server.base);
    if (huge) {
        free(server.name);
    }
}

/* late_reply finishes a call from another thread after 200 ms, as a
 * handler that waits for another service does. */
static void
late_reply(void *arg)
{
    mr_rpc_call *call = arg;
    Mcpreg__V1__DeleteMcpServerResponse resp =
        MCPREG__V1__DELETE_MCP_SERVER_RESPONSE__INIT;

    nng_msleep(200);
    resp.deleted = true;
    mr_rpc_reply(call, &resp.base);
}

/* The threads of late_reply, joined by join_late_replies. */
static nng_thread *late_threads[16];
static atomic_int nlate;

static void
delete_server(mr_rpc_call *call, void *arg)
{
    int slot = atomic_fetch_add(&nlate, 1);

    (void)arg;
    MR_CHECK_INT(slot, <, 16);
    if (slot < 16) {
        nng_thread_create(&late_threads[slot], late_reply, call);
    }
}

/* join_late_replies waits for every late_reply thread started so far. */
static void
join_late_replies(void)
{
    int n = atomic_exchange(&nlate, 0);

    for (int i = 0; i < n && i < 16; i++) {
        nng_thread_destroy(late_threads[i]);
        late_threads[i] = NULL;
    }
}

/* The call that hold_call keeps without replying, and whether its caller
 * was connected when it arrived. */
static _Atomic(mr_rpc_call *) held;
static atomic_bool held_connected;

static void
hold_call(mr_rpc_call *call, void *arg)
{
    (void)arg;
    atomic_store(&held_connected, mr_rpc_caller_connected(call));
    atomic_store(&held, call);
}

static const mr_rpc_method methods[] = {
    {"/t/Get", &mcpreg__v1__get_mcp_server_request__descriptor, get_server},
    {"/t/Delete", &mcpreg__v1__delete_mcp_server_request__descriptor,
     delete_server},
    {"/t/Hold", &mcpreg__v1__get_mcp_server_request__descriptor, hold_call},
};

/* server_config returns the test server's configuration on url. */
static mr_rpc_server_config
server_config(const char *url)
{
    mr_rpc_server_config cfg = {
        .url = url,
        .contexts = 4,
        .default_timeout_ms = 1000,
        .methods = methods,
        .nmethods = 3,
        .name = "test",
    };

    return cfg;
}

static mr_rpc_server *
start_server(void)
{
    mr_rpc_server_config cfg = server_config(URL);
    mr_rpc_server *server = NULL;

    mr_util_init();
    mr_log_init("test", MR_LOG_ERROR, 2);
    MR_CHECK_INT(mr_rpc_server_start(&server, &cfg), ==, MR_OK);
    return server;
}

static mr_rpc_client *
open_client(void)
{
    mr_rpc_client *client = NULL;

    MR_CHECK_INT(mr_rpc_client_open(&client, URL, false), ==, MR_OK);
    for (int i = 0; i < 100 && mr_rpc_client_peers(client) == 0; i++) {
        nng_msleep(10);
    }
    return client;
}

static mr_err
call_get(mr_rpc_client *client, const char *method, const char *id,
         Mcpreg__V1__McpServer **out, char **detail)
{
    Mcpreg__V1__GetMcpServerRequest req =
        MCPREG__V1__GET_MCP_SERVER_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    mr_err err;

    req.id = (char *)id;
    err = mr_rpc_call_sync(client, method, &req.base,
                           &mcpreg__v1__mcp_server__descriptor, "rid-1", 1000,
                           &resp, detail, NULL);
    *out = (Mcpreg__V1__McpServer *)resp;
    return err;
}

static void
test_reply_round_trip(void)
{
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client();
    Mcpreg__V1__McpServer *got = NULL;

    MR_CHECK_INT(call_get(client, "/t/Get", "abc", &got, NULL), ==, MR_OK);
    MR_CHECK(got != NULL);
    if (got != NULL) {
        MR_CHECK_STR(got->id, "abc");
        MR_CHECK_STR(got->name, "rid-1");
        protobuf_c_message_free_unpacked(&got->base, NULL);
    }

    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
}

/* Ids of every size up to past both decoding buffers, which then take the
 * rest from malloc, come back whole (LeakSanitizer checks the frees). */
static void
test_large_bodies_round_trip(void)
{
    static const size_t sizes[] = {1, 700, 1100, 5000, 70000};
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client();

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        Mcpreg__V1__McpServer *got = NULL;
        char *id = malloc(sizes[i] + 1);

        for (size_t j = 0; j < sizes[i]; j++) {
            id[j] = (char)('a' + (i + j) % 26);
        }
        id[sizes[i]] = '\0';
        MR_CHECK_INT(call_get(client, "/t/Get", id, &got, NULL), ==, MR_OK);
        MR_CHECK(got != NULL && strcmp(got->id, id) == 0);
        if (got != NULL) {
            protobuf_c_message_free_unpacked(&got->base, NULL);
        }
        free(id);
    }

    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
}

static void
test_error_travels(void)
{
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client();
    Mcpreg__V1__McpServer *got = NULL;
    char *detail = NULL;

    MR_CHECK_INT(call_get(client, "/t/Get", "missing", &got, &detail), ==,
                 MR_ESERVER_NOT_FOUND);
    MR_CHECK(got == NULL);
    MR_CHECK_STR(detail, "no such server");
    free(detail);

    MR_CHECK_INT(call_get(client, "/t/Nope", "x", &got, NULL), ==,
                 MR_EUNIMPLEMENTED);

    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
}

/* A method name with a NUL byte in it matches no method, even when the
 * bytes before the NUL name one. */
static void
test_method_with_nul_unknown(void)
{
    static const char request[] = "\x0a\x0b/t/Get\0tail\x12\x01r";
    mr_rpc_server *server = start_server();
    nng_socket sock;
    nng_msg *reply = NULL;
    mr_rpc__reply got;

    MR_CHECK_INT(nng_req0_open(&sock), ==, 0);
    MR_CHECK_INT(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000), ==, 0);
    MR_CHECK_INT(nng_dial(sock, URL, NULL, 0), ==, 0);
    MR_CHECK_INT(nng_send(sock, (void *)request, sizeof(request) - 1, 0), ==,
                 0);
    MR_CHECK_INT(nng_recvmsg(sock, &reply, 0), ==, 0);

    MR_CHECK(reply != NULL && mr_rpc__unpack_reply(nng_msg_body(reply),
                                                   nng_msg_len(reply), &got));
    if (reply != NULL) {
        MR_CHECK_INT(got.error.len, ==,
                     strlen(mr_err_code(MR_EUNIMPLEMENTED)));
        MR_CHECK(memcmp(got.error.data, mr_err_code(MR_EUNIMPLEMENTED),
                        got.error.len) == 0);
        nng_msg_free(reply);
    }
    nng_close(sock);
    mr_rpc_server_stop(server, 1000);
}

static void
test_late_reply_from_thread(void)
{
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client();
    Mcpreg__V1__DeleteMcpServerRequest req =
        MCPREG__V1__DELETE_MCP_SERVER_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    mr_err err;

    err = mr_rpc_call_sync(client, "/t/Delete", &req.base,
                           &mcpreg__v1__delete_mcp_server_response__descriptor,
                           NULL, 2000, &resp, NULL, NULL);
    MR_CHECK_INT(err, ==, MR_OK);
    MR_CHECK(resp != NULL &&
             ((Mcpreg__V1__DeleteMcpServerResponse *)resp)->deleted);
    protobuf_c_message_free_unpacked(resp, NULL);

    join_late_replies();
    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
}

static void
test_deadline_exceeded(void)
{
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client();
    Mcpreg__V1__DeleteMcpServerRequest req =
        MCPREG__V1__DELETE_MCP_SERVER_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int64_t start = mr_mono_ms();
    mr_err err;

    err = mr_rpc_call_sync(client, "/t/Delete", &req.base,
                           &mcpreg__v1__delete_mcp_server_response__descriptor,
                           NULL, 50, &resp, NULL, NULL);
    MR_CHECK_INT(err, ==, MR_ETIMEDOUT);
    MR_CHECK(resp == NULL);
    MR_CHECK_INT(mr_mono_ms() - start, <, 1000);

    mr_rpc_client_close(client);
    /* The late reply lands before the server goes away. */
    join_late_replies();
    mr_rpc_server_stop(server, 1000);
}

static void
test_no_peer_fails_fast(void)
{
    mr_rpc_client *client = NULL;
    Mcpreg__V1__McpServer *got = NULL;
    int64_t start;

    mr_util_init();
    MR_CHECK_INT(mr_rpc_client_open(&client, "inproc://nobody", false), ==,
                 MR_OK);
    start = mr_mono_ms();
    MR_CHECK_INT(call_get(client, "/t/Get", "x", &got, NULL), ==,
                 MR_EUNAVAILABLE);
    MR_CHECK_INT(mr_mono_ms() - start, <, 500);
    mr_rpc_client_close(client);
}

/* Connections that nng rejects for the wrong protocol are reported as
 * removed but never as added: they must not change the count of peers. */
static void
test_wrong_peer_not_counted(void)
{
    mr_rpc_client *client = NULL;
    nng_socket wrong;
    nng_listener listener;
    int port = 0;
    char url[64];

    mr_util_init();
    MR_CHECK_INT(nng_req0_open(&wrong), ==, 0);
    MR_CHECK_INT(nng_listen(wrong, "tcp://127.0.0.1:0", &listener, 0), ==, 0);
    MR_CHECK_INT(nng_listener_get_int(listener, NNG_OPT_TCP_BOUND_PORT, &port),
                 ==, 0);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);

    MR_CHECK_INT(mr_rpc_client_open(&client, url, false), ==, MR_OK);
    /* The client redials every 100 ms or more; let it try a few times. */
    for (int i = 0; i < 10; i++) {
        nng_msleep(100);
        MR_CHECK_INT(mr_rpc_client_peers(client), ==, 0);
    }
    mr_rpc_client_close(client);
    nng_close(wrong);
}

/* The outcome of an asynchronous call, set by record_outcome. */
typedef struct {
    atomic_int err; /* -1 until the call ends */
} outcome;

static void
record_outcome(void *arg, const mr_rpc_status *status,
               ProtobufCMessage *response)
{
    outcome *out = arg;

    if (response != NULL) {
        protobuf_c_message_free_unpacked(response, NULL);
    }
    atomic_store(&out->err, (int)status->err);
}

/* The only peer leaves while a call waits for its reply: the call fails
 * with unavailable at once instead of waiting for its deadline. */
static void
test_peer_leaves_mid_call(void)
{
    Mcpreg__V1__GetMcpServerRequest req =
        MCPREG__V1__GET_MCP_SERVER_REQUEST__INIT;
    mr_rpc_client *client = NULL;
    outcome out = {-1};
    nng_socket silent;
    int64_t closed_at;

    mr_util_init();
    MR_CHECK_INT(nng_rep0_open(&silent), ==, 0);
    MR_CHECK_INT(nng_listen(silent, "inproc://silent_peer", NULL, 0), ==, 0);
    MR_CHECK_INT(mr_rpc_client_open(&client, "inproc://silent_peer", false),
                 ==, MR_OK);
    for (int i = 0; i < 100 && mr_rpc_client_peers(client) == 0; i++) {
        nng_msleep(10);
    }

    req.id = "x";
    MR_CHECK_INT(mr_rpc_call_async(client, "/t/Get", &req.base,
                                   &mcpreg__v1__mcp_server__descriptor, NULL,
                                   5000, record_outcome, &out),
                 ==, MR_OK);
    nng_msleep(100);
    MR_CHECK_INT(atomic_load(&out.err), ==, -1);

    closed_at = mr_mono_ms();
    nng_close(silent);
    while (atomic_load(&out.err) == -1 && mr_mono_ms() - closed_at < 4000) {
        nng_msleep(5);
    }
    MR_CHECK_INT(atomic_load(&out.err), ==, MR_EUNAVAILABLE);
    MR_CHECK_INT(mr_mono_ms() - closed_at, <, 1000);
    mr_rpc_client_close(client);
}

/* A call that failed at once because no peer was connected leaves its
 * context and aio for reuse. A later call on them that gets no reply must
 * fail at its deadline: nng 1.5.2 completed the receive without an error
 * and without a message once the aio had slept, and the client crashed. */
static void
test_deadline_after_failed_call(void)
{
    const char *url = "inproc://deadline_after_failed";
    mr_rpc_client *client = NULL;
    Mcpreg__V1__McpServer *got = NULL;
    nng_socket silent;

    mr_util_init();
    MR_CHECK_INT(mr_rpc_client_open(&client, url, false), ==, MR_OK);
    MR_CHECK_INT(call_get(client, "/t/Get", "x", &got, NULL), ==,
                 MR_EUNAVAILABLE);

    MR_CHECK_INT(nng_rep0_open(&silent), ==, 0);
    MR_CHECK_INT(nng_listen(silent, url, NULL, 0), ==, 0);
    for (int i = 0; i < 300 && mr_rpc_client_peers(client) == 0; i++) {
        nng_msleep(10);
    }
    MR_CHECK_INT(mr_rpc_client_peers(client), ==, 1);
    MR_CHECK_INT(call_get(client, "/t/Get", "x", &got, NULL), ==,
                 MR_ETIMEDOUT);
    MR_CHECK(got == NULL);

    mr_rpc_client_close(client);
    nng_close(silent);
}

/* start_get starts a Get call with timeout_ms that records its end in
 * out. */
static void
start_get(mr_rpc_client *client, uint32_t timeout_ms, outcome *out)
{
    Mcpreg__V1__GetMcpServerRequest req =
        MCPREG__V1__GET_MCP_SERVER_REQUEST__INIT;

    atomic_store(&out->err, -1);
    req.id = "x";
    MR_CHECK_INT(mr_rpc_call_async(client, "/t/Get", &req.base,
                                   &mcpreg__v1__mcp_server__descriptor, NULL,
                                   timeout_ms, record_outcome, out),
                 ==, MR_OK);
}

/* wait_outcome waits up to 5 s for the call of out to end. */
static void
wait_outcome(outcome *out)
{
    for (int i = 0; i < 500 && atomic_load(&out->err) == -1; i++) {
        nng_msleep(10);
    }
}

/* A send that waits for a free connection, on an aio that failed at once
 * before, fails at its deadline too. The peer reads no requests, so the
 * third call's send never leaves, and its message must be freed
 * (AddressSanitizer checks). */
static void
test_send_deadline_after_failed_calls(void)
{
    const char *url = "inproc://send_deadline_after_failed";
    mr_rpc_client *client = NULL;
    outcome out[3];
    nng_socket silent;

    mr_util_init();
    MR_CHECK_INT(mr_rpc_client_open(&client, url, false), ==, MR_OK);
    for (int i = 0; i < 3; i++) {
        start_get(client, 1000, &out[i]);
    }
    for (int i = 0; i < 3; i++) {
        wait_outcome(&out[i]);
        MR_CHECK_INT(atomic_load(&out[i].err), ==, MR_EUNAVAILABLE);
    }

    MR_CHECK_INT(nng_rep0_open(&silent), ==, 0);
    MR_CHECK_INT(nng_listen(silent, url, NULL, 0), ==, 0);
    for (int i = 0; i < 300 && mr_rpc_client_peers(client) == 0; i++) {
        nng_msleep(10);
    }
    start_get(client, 2000, &out[0]);
    start_get(client, 2000, &out[1]);
    start_get(client, 300, &out[2]);
    wait_outcome(&out[2]);
    MR_CHECK_INT(atomic_load(&out[2].err), ==, MR_ETIMEDOUT);

    mr_rpc_client_close(client);
    nng_close(silent);
}

/* More calls at once than the client keeps for reuse: those it frees
 * when they finish must not be touched afterwards by the thread that
 * started their receive (AddressSanitizer checks). */
static void
test_calls_past_idle_pool(void)
{
    enum { CALLS = 600 };
    Mcpreg__V1__GetMcpServerRequest req =
        MCPREG__V1__GET_MCP_SERVER_REQUEST__INIT;
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client();
    outcome *outs = calloc(CALLS, sizeof(*outs));
    int ok = 0;

    req.id = "abc";
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < CALLS; i++) {
            atomic_init(&outs[i].err, -1);
            mr_rpc_call_async(client, "/t/Get", &req.base,
                              &mcpreg__v1__mcp_server__descriptor, NULL, 5000,
                              record_outcome, &outs[i]);
        }
        for (int i = 0; i < CALLS; i++) {
            for (int wait = 0; wait < 1000 && atomic_load(&outs[i].err) == -1;
                 wait++) {
                nng_msleep(5);
            }
            ok += atomic_load(&outs[i].err) == MR_OK;
        }
    }

    MR_CHECK_INT(ok, ==, 3 * CALLS);
    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
    free(outs);
}

/* A handler learns that the caller's connection closed while it held
 * the call, as the discovery worker does before registering a client. */
static void
test_caller_leaves_held_call(void)
{
    Mcpreg__V1__GetMcpServerRequest req =
        MCPREG__V1__GET_MCP_SERVER_REQUEST__INIT;
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client();
    outcome out = {-1};
    mr_rpc_call *call = NULL;
    bool connected = true;

    atomic_store(&held, NULL);
    req.id = "x";
    mr_rpc_call_async(client, "/t/Hold", &req.base,
                      &mcpreg__v1__mcp_server__descriptor, NULL, 5000,
                      record_outcome, &out);
    for (int i = 0; i < 200 && call == NULL; i++) {
        nng_msleep(10);
        call = atomic_load(&held);
    }
    MR_CHECK(call != NULL);
    MR_CHECK(atomic_load(&held_connected));

    mr_rpc_client_close(client);
    for (int i = 0; i < 200 && connected && call != NULL; i++) {
        nng_msleep(10);
        connected = mr_rpc_caller_connected(call);
    }
    MR_CHECK(!connected);
    MR_CHECK_INT(atomic_load(&out.err), ==, MR_EUNAVAILABLE);

    /* The reply goes nowhere, and ends the call. */
    if (call != NULL) {
        mr_rpc_fail(call, MR_EUNAVAILABLE, "caller left", 0);
    }
    mr_rpc_server_stop(server, 1000);
}

/* send_sent_at sends a raw request for method, for the id "x", with
 * timeout_ms, as if it had been sent waited_ms ago, on a new REQ socket
 * that it returns. */
static nng_socket
send_sent_at(const char *method, uint32_t timeout_ms, int64_t waited_ms)
{
    Mcpreg__V1__GetMcpServerRequest req =
        MCPREG__V1__GET_MCP_SERVER_REQUEST__INIT;
    nng_socket sock;
    nng_msg *msg;

    req.id = "x";
    msg = mr_rpc__pack_request(method, "rid-stale", timeout_ms,
                               (uint64_t)(mr_now_ms() - waited_ms), &req.base,
                               protobuf_c_message_get_packed_size(&req.base));
    MR_CHECK(msg != NULL);
    MR_CHECK_INT(nng_req0_open(&sock), ==, 0);
    MR_CHECK_INT(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000), ==, 0);
    MR_CHECK_INT(nng_dial(sock, URL, NULL, 0), ==, 0);
    MR_CHECK_INT(nng_sendmsg(sock, msg, 0), ==, 0);
    return sock;
}

/* A call read after its deadline, as by a process that was paused, fails
 * without running, because its caller has given up. */
static void
test_stale_call_not_run(void)
{
    mr_rpc_server *server = start_server();
    nng_socket sock = send_sent_at("/t/Get", 2000, 60000);
    nng_msg *reply = NULL;
    mr_rpc__reply got;
    const char *code = mr_err_code(MR_ETIMEDOUT);

    MR_CHECK_INT(nng_recvmsg(sock, &reply, 0), ==, 0);
    MR_CHECK(reply != NULL && mr_rpc__unpack_reply(nng_msg_body(reply),
                                                   nng_msg_len(reply), &got));
    if (reply != NULL) {
        MR_CHECK_INT(got.error.len, ==, strlen(code));
        MR_CHECK(memcmp(got.error.data, code, got.error.len) == 0);
        nng_msg_free(reply);
    }
    nng_close(sock);
    mr_rpc_server_stop(server, 1000);
}

/* A call read late, but within its timeout and beyond the clock skew
 * allowance of 1 s, loses the excess from its deadline. */
static void
test_late_call_shorter_deadline(void)
{
    mr_rpc_server *server = start_server();
    nng_socket sock;
    mr_rpc_call *call = NULL;
    int64_t left;

    atomic_store(&held, NULL);
    sock = send_sent_at("/t/Hold", 10000, 4000);
    for (int i = 0; i < 200 && call == NULL; i++) {
        nng_msleep(10);
        call = atomic_load(&held);
    }
    MR_CHECK(call != NULL);
    if (call != NULL) {
        left = mr_rpc_deadline(call) - mr_mono_ms();
        MR_CHECK_INT(left, <=, 7000);
        MR_CHECK_INT(left, >, 5000);
        mr_rpc_fail(call, MR_EUNAVAILABLE, "done", 0);
    }
    nng_close(sock);
    mr_rpc_server_stop(server, 1000);
}

/* close_round makes calls to a peer that never replies and closes the
 * client offset_ms after their deadline. Every call must end, timed out or
 * cut off. */
static void
close_round(const char *url, int offset_ms)
{
    enum { CALLS = 100, TIMEOUT_MS = 40 };
    Mcpreg__V1__GetMcpServerRequest req =
        MCPREG__V1__GET_MCP_SERVER_REQUEST__INIT;
    mr_rpc_client *client = NULL;
    outcome outs[CALLS];
    int ended = 0;

    MR_CHECK_INT(mr_rpc_client_open(&client, url, false), ==, MR_OK);
    for (int i = 0; i < 100 && mr_rpc_client_peers(client) == 0; i++) {
        nng_msleep(2);
    }

    req.id = "x";
    for (int i = 0; i < CALLS; i++) {
        atomic_init(&outs[i].err, -1);
        mr_rpc_call_async(client, "/t/Get", &req.base,
                          &mcpreg__v1__mcp_server__descriptor, NULL,
                          TIMEOUT_MS, record_outcome, &outs[i]);
    }
    nng_msleep(TIMEOUT_MS + offset_ms);
    mr_rpc_client_close(client);

    for (int i = 0; i < CALLS; i++) {
        int err = atomic_load(&outs[i].err);

        ended += err == MR_ETIMEDOUT || err == MR_EUNAVAILABLE;
    }
    MR_CHECK_INT(ended, ==, CALLS);
}

/* Closes the client while its calls' deadlines pass. nng's timeout
 * thread must not be left cancelling a call on a socket being freed,
 * which aborted the gateway at shutdown. */
static void
test_close_at_deadline(void)
{
    const char *url = "inproc://close_at_deadline";
    nng_socket silent;

    mr_util_init();
    MR_CHECK_INT(nng_rep0_open(&silent), ==, 0);
    MR_CHECK_INT(nng_listen(silent, url, NULL, 0), ==, 0);
    for (int round = 0; round < 60; round++) {
        close_round(url, round % 7 - 3);
    }
    nng_close(silent);
}

static void
test_huge_reply_fails_alone(void)
{
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client();
    Mcpreg__V1__McpServer *got = NULL;

    MR_CHECK_INT(call_get(client, "/t/Get", "huge", &got, NULL), ==,
                 MR_EINTERNAL);
    MR_CHECK(got == NULL);

    /* The connection survives, so the next call on it works. */
    MR_CHECK_INT(call_get(client, "/t/Get", "abc", &got, NULL), ==, MR_OK);
    if (got != NULL) {
        protobuf_c_message_free_unpacked(&got->base, NULL);
    }

    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
}

/* ipc_url writes into url, of size len, an ipc:// URL under /tmp whose
 * path is path_len bytes long. */
static void
ipc_url(char *url, size_t len, size_t path_len)
{
    int n = snprintf(url, len, "ipc:///tmp/mr_rpc_test.%ld.", (long)getpid());

    MR_CHECK(n > 0 && (size_t)n < path_len + 6 && path_len + 6 < len);
    memset(url + n, 'p', path_len + 6 - (size_t)n);
    url[path_len + 6] = '\0';
}

/* A path of 107 bytes, the most a Unix socket address takes, connects. One
 * byte more fails at once, where nng 1.5.2 would take it and then keep
 * redialling. */
static void
test_ipc_path_limit(void)
{
    char url[160];
    mr_rpc_server_config cfg = server_config(url);
    mr_rpc_server *server = NULL;
    mr_rpc_client *client = NULL;
    char why[MR_RPC_URL_WHY_MAX];

    mr_util_init();
    mr_log_init("test", MR_LOG_ERROR, 2);
    ipc_url(url, sizeof(url), 107);
    MR_CHECK(mr_rpc_check_url(url, why, sizeof(why)));
    MR_CHECK_INT(mr_rpc_server_start(&server, &cfg), ==, MR_OK);
    MR_CHECK_INT(mr_rpc_client_open(&client, url, false), ==, MR_OK);
    for (int i = 0; i < 200 && mr_rpc_client_peers(client) == 0; i++) {
        nng_msleep(10);
    }
    MR_CHECK_INT(mr_rpc_client_peers(client), ==, 1);
    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
    unlink(url + 6);

    ipc_url(url, sizeof(url), 108);
    MR_CHECK(!mr_rpc_check_url(url, why, sizeof(why)));
    MR_CHECK(strstr(why, "is 108 bytes") != NULL);
    MR_CHECK(strstr(why, "at most 107") != NULL);
    MR_CHECK_INT(mr_rpc_server_start(&server, &cfg), ==, MR_EUNAVAILABLE);
    MR_CHECK_INT(mr_rpc_client_open(&client, url, false), ==, MR_EUNAVAILABLE);
    MR_CHECK(client == NULL);
    MR_CHECK(mr_rpc_check_url("tcp://127.0.0.1:1", why, sizeof(why)));
}

/* nng takes "unix://" and any case of the scheme for ipc, and an empty
 * path or abstract name fails only when a connection is made. A long URL
 * is cut in the reason after the length and the limit. A URL that nng
 * cannot parse is rejected too. */
static void
test_ipc_url_spellings(void)
{
    char url[4200];
    char why[MR_RPC_URL_WHY_MAX];

    ipc_url(url, sizeof(url), 108);
    memcpy(url, "IPC", 3);
    MR_CHECK(!mr_rpc_check_url(url, why, sizeof(why)));
    MR_CHECK(strstr(why, "is 108 bytes") != NULL);

    snprintf(url, sizeof(url), "unix:///tmp/%0200d", 0);
    MR_CHECK(!mr_rpc_check_url(url, why, sizeof(why)));
    MR_CHECK(strstr(why, "is 205 bytes") != NULL);
    MR_CHECK(strstr(why, "...") != NULL);

    MR_CHECK(!mr_rpc_check_url("ipc://", why, sizeof(why)));
    MR_CHECK(strstr(why, "empty") != NULL);

    ipc_url(url, sizeof(url), 4000);
    MR_CHECK(!mr_rpc_check_url(url, why, sizeof(why)));
    MR_CHECK(strstr(why, "is 4000 bytes") != NULL);
    MR_CHECK(strstr(why, "at most 107") != NULL);

    MR_CHECK(mr_rpc_check_url("Unix:///tmp/short.sock", why, sizeof(why)));
    MR_CHECK(mr_rpc_check_url("inproc://x", why, sizeof(why)));
    MR_CHECK(mr_rpc_check_url("TCP://127.0.0.1:1", why, sizeof(why)));
    MR_CHECK(mr_rpc_check_url("abstract://x", why, sizeof(why)));

    MR_CHECK(!mr_rpc_check_url("abstract://", why, sizeof(why)));
    MR_CHECK(strstr(why, "abstract socket name is empty") != NULL);
    MR_CHECK(!mr_rpc_check_url("ipc:/tmp/x", why, sizeof(why)));
    MR_CHECK(strstr(why, "is not an nng URL") != NULL);
    MR_CHECK(!mr_rpc_check_url("localhost:7401", why, sizeof(why)));
}

/* mr_rpc_client_connect returns with the peer counted, since nng's dial
 * returned after the handshake. Without a listener it fails at once with
 * nng's reason, which for a missing ipc:// file is a refusal. */
static void
test_connect_waits_for_peer(void)
{
    char url[160];
    char why[128] = "";
    mr_rpc_server_config cfg = server_config(url);
    mr_rpc_server *server = NULL;
    mr_rpc_client *client = NULL;

    mr_util_init();
    mr_log_init("test", MR_LOG_NONE, 2);
    ipc_url(url, sizeof(url), 60);
    MR_CHECK_INT(mr_rpc_server_start(&server, &cfg), ==, MR_OK);
    MR_CHECK_INT(mr_rpc_client_connect(&client, url, why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK_INT(mr_rpc_client_peers(client), ==, 1);
    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
    unlink(url + 6);

    MR_CHECK_INT(mr_rpc_client_connect(&client, url, why, sizeof(why)), ==,
                 MR_EUNAVAILABLE);
    MR_CHECK(client == NULL);
    MR_CHECK_STR(why, "Connection refused");
}

static const mr_test_case cases[] = {
    {"huge_reply_fails_alone", test_huge_reply_fails_alone},
    {"reply_round_trip", test_reply_round_trip},
    {"large_bodies_round_trip", test_large_bodies_round_trip},
    {"error_travels", test_error_travels},
    {"method_with_nul_unknown", test_method_with_nul_unknown},
    {"late_reply_from_thread", test_late_reply_from_thread},
    {"deadline_exceeded", test_deadline_exceeded},
    {"stale_call_not_run", test_stale_call_not_run},
    {"late_call_shorter_deadline", test_late_call_shorter_deadline},
    {"no_peer_fails_fast", test_no_peer_fails_fast},
    {"peer_leaves_mid_call", test_peer_leaves_mid_call},
    {"calls_past_idle_pool", test_calls_past_idle_pool},
    {"close_at_deadline", test_close_at_deadline},
    {"caller_leaves_held_call", test_caller_leaves_held_call},
    {"wrong_peer_not_counted", test_wrong_peer_not_counted},
    {"ipc_path_limit", test_ipc_path_limit},
    {"ipc_url_spellings", test_ipc_url_spellings},
    {"connect_waits_for_peer", test_connect_waits_for_peer},
    {"deadline_after_failed_call", test_deadline_after_failed_call},
    {"send_deadline_after_failed_calls",
     test_send_deadline_after_failed_calls},
};

MR_TEST_MAIN(cases)
