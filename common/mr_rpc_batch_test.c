/* mr_rpc_batch_test.c - batches of quick calls over a real socket pair. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define URL     "inproc://mr_rpc_batch_test"
#define RAW_URL "inproc://mr_rpc_batch_test_raw"

/* CALLS_MAX bounds the calls of one case. */
#define CALLS_MAX 128

/* BIG_NAME is the size of a /b/Big reply: three of them exceed
 * MR_RPC_REPLY_MAX, two do not. */
#define BIG_NAME (3 * 1000 * 1000)

/* reply_server replies to call with a server of id and name. */
static void
reply_server(mr_rpc_call *call, const char *id, const char *name)
{
    Mcpreg__V1__McpServer server = MCPREG__V1__MCP_SERVER__INIT;

    server.id = (char *)id;
    server.name = (char *)name;
    mr_rpc_reply(call, &server.base);
}

/* request_id returns the id of call's GetMcpServerRequest. */
static const char *
request_id(const mr_rpc_call *call)
{
    return ((const Mcpreg__V1__GetMcpServerRequest *)mr_rpc_request(call))->id;
}

/* echo names its reply after how the call came. */
static void
echo(mr_rpc_call *call, void *arg)
{
    (void)arg;
    reply_server(call, request_id(call),
                 mr_rpc_batched(call) ? "batched" : "alone");
}

/* The call that hold keeps without replying. */
static _Atomic(mr_rpc_call *) held;

static void
hold(mr_rpc_call *call, void *arg)
{
    (void)arg;
    atomic_store(&held, call);
}

/* decline declines every batched call, as a handler that would wait for
 * another service does, and counts them. */
static atomic_int declines;

static void
decline(mr_rpc_call *call, void *arg)
{
    (void)arg;
    if (mr_rpc_batched(call)) {
        atomic_fetch_add(&declines, 1);
        mr_rpc_decline(call);
        return;
    }
    reply_server(call, request_id(call), "alone");
}

/* late replies from a thread of its own after 50 ms, batched or not. */
static nng_thread *late_threads[CALLS_MAX];
static atomic_int nlate;

static void
late_reply(void *arg)
{
    mr_rpc_call *call = arg;

    nng_msleep(50);
    reply_server(call, request_id(call),
                 mr_rpc_batched(call) ? "batched" : "alone");
}

static void
late(mr_rpc_call *call, void *arg)
{
    int slot = atomic_fetch_add(&nlate, 1);

    (void)arg;
    nng_thread_create(&late_threads[slot], late_reply, call);
}

/* big replies with a name of BIG_NAME bytes, and its id marked "/b" when
 * the call came in a batch and "/a" when alone. */
static void
big(mr_rpc_call *call, void *arg)
{
    char *name = malloc(BIG_NAME + 1);
    char id[64];

    (void)arg;
    memset(name, 'x', BIG_NAME);
    name[BIG_NAME] = '\0';
    snprintf(id, sizeof(id), "%s/%s", request_id(call),
             mr_rpc_batched(call) ? "b" : "a");
    reply_server(call, id, name);
    free(name);
}

static const mr_rpc_method methods[] = {
    {"/b/Echo", &mcpreg__v1__get_mcp_server_request__descriptor, echo},
    {"/b/Hold", &mcpreg__v1__get_mcp_server_request__descriptor, hold},
    {"/b/Decline", &mcpreg__v1__get_mcp_server_request__descriptor, decline},
    {"/b/Late", &mcpreg__v1__get_mcp_server_request__descriptor, late},
    {"/b/Big", &mcpreg__v1__get_mcp_server_request__descriptor, big},
};

/* result is the outcome of one call of a case. */
typedef struct {
    mr_err err;
    char id[64];
    char name[16];
    int64_t started_ms; /* on mr_mono_ms's clock */
    int64_t finished_ms;
} result;

static result results[CALLS_MAX];
static atomic_int finished;

static void
record(void *arg, const mr_rpc_status *status, ProtobufCMessage *response)
{
    result *r = &results[(intptr_t)arg];
    Mcpreg__V1__McpServer *server = (Mcpreg__V1__McpServer *)response;

    r->err = status->err;
    r->finished_ms = mr_mono_ms();
    if (server != NULL) {
        snprintf(r->id, sizeof(r->id), "%s", server->id);
        snprintf(r->name, sizeof(r->name), "%.15s", server->name);
        protobuf_c_message_free_unpacked(response, NULL);
    }
    atomic_fetch_add(&finished, 1);
}

/* start_quick_for starts quick call slot to method with id "<slot>" and
 * a timeout of timeout_ms. */
static void
start_quick_for(mr_rpc_client *client, const char *method, int slot,
                uint32_t timeout_ms)
{
    Mcpreg__V1__GetMcpServerRequest req =
        MCPREG__V1__GET_MCP_SERVER_REQUEST__INIT;
    char id[16];

    snprintf(id, sizeof(id), "%d", slot);
    req.id = id;
    memset(&results[slot], 0, sizeof(results[slot]));
    results[slot].err = MR_EINTERNAL;
    results[slot].started_ms = mr_mono_ms();
    MR_CHECK_INT(mr_rpc_call_quick(client, method, &req.base,
                                   &mcpreg__v1__mcp_server__descriptor, NULL,
                                   timeout_ms, record, (void *)(intptr_t)slot),
                 ==, MR_OK);
}

/* start_quick starts quick call slot to method with a timeout of 2 s. */
static void
start_quick(mr_rpc_client *client, const char *method, int slot)
{
    start_quick_for(client, method, slot, 2000);
}

/* wait_finished waits up to 5 s for n calls to finish, and returns
 * whether they did. */
static bool
wait_finished(int n)
{
    for (int i = 0; i < 500 && atomic_load(&finished) < n; i++) {
        nng_msleep(10);
    }
    return atomic_load(&finished) == n;
}

static mr_rpc_server *
start_server(void)
{
    mr_rpc_server_config cfg = {
        .url = URL,
        .contexts = 4,
        .default_timeout_ms = 1000,
        .methods = methods,
        .nmethods = (int)(sizeof(methods) / sizeof(methods[0])),
        .name = "test",
    };
    mr_rpc_server *server = NULL;

    mr_util_init();
    mr_log_init("test", MR_LOG_ERROR, 2);
    MR_CHECK_INT(mr_rpc_server_start(&server, &cfg), ==, MR_OK);
    return server;
}

/* open_client opens a client of url with one batch in flight at a time,
 * and waits for its peer. */
static mr_rpc_client *
open_client(const char *url)
{
    mr_rpc_client *client = NULL;

    MR_CHECK_INT(mr_rpc_client_open(&client, url, false), ==, MR_OK);
    mr_rpc_client_set_batching(client, 1);
    for (int i = 0; i < 100 && mr_rpc_client_peers(client) == 0; i++) {
        nng_msleep(10);
    }
    atomic_store(&finished, 0);
    return client;
}

/*
 * hold_then_queue sends call 0 to /b/Hold, so that the one batch allowed
 * stays in flight, starts n calls to method, which queue behind it, and
 * then replies to call 0. The queued calls go out in batches of up to 64.
 */
static void
hold_then_queue(mr_rpc_client *client, const char *method, int n)
{
    mr_rpc_call *call = NULL;

    atomic_store(&held, NULL);
    start_quick(client, "/b/Hold", 0);
    for (int i = 0; i < 500 && call == NULL; i++) {
        nng_msleep(10);
        call = atomic_load(&held);
    }
    MR_CHECK(call != NULL);

    for (int i = 1; i <= n; i++) {
        start_quick(client, method, i);
    }
    if (call != NULL) {
        reply_server(call, "0", "held");
    }
}

/* Calls that queue while a batch is in flight go out together, and each
 * gets its own reply. */
static void
test_queued_calls_share_batches(void)
{
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client(URL);
    int n = 100;

    hold_then_queue(client, "/b/Echo", n);
    MR_CHECK(wait_finished(n + 1));
    MR_CHECK_INT(results[0].err, ==, MR_OK);
    MR_CHECK_STR(results[0].name, "held");
    for (int i = 1; i <= n; i++) {
        char id[16];

        snprintf(id, sizeof(id), "%d", i);
        MR_CHECK_INT(results[i].err, ==, MR_OK);
        MR_CHECK_STR(results[i].id, id);
        MR_CHECK_STR(results[i].name, "batched");
    }

    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
}

/* A call that the server declines in a batch is sent again alone. */
static void
test_declined_call_goes_alone(void)
{
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client(URL);
    int n = 10;

    atomic_store(&declines, 0);
    hold_then_queue(client, "/b/Decline", n);
    MR_CHECK(wait_finished(n + 1));
    MR_CHECK_INT(atomic_load(&declines), ==, n);
    for (int i = 1; i <= n; i++) {
        MR_CHECK_INT(results[i].err, ==, MR_OK);
        MR_CHECK_STR(results[i].name, "alone");
    }

    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
}

/* A batched call that its handler finishes later, from another thread,
 * keeps its batch waiting until then and loses nothing. */
static void
test_late_parts_finish_batch(void)
{
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client(URL);
    int n = 5;

    atomic_store(&nlate, 0);
    hold_then_queue(client, "/b/Late", n);
    MR_CHECK(wait_finished(n + 1));
    for (int i = 1; i <= n; i++) {
        MR_CHECK_INT(results[i].err, ==, MR_OK);
        MR_CHECK_STR(results[i].name, "batched");
    }

    for (int i = 0; i < atomic_load(&nlate); i++) {
        nng_thread_destroy(late_threads[i]);
    }
    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
}

/* Replies that would take a batch's reply over MR_RPC_REPLY_MAX are
 * declined, and their calls sent again alone. */
static void
test_oversized_batch_reply_split(void)
{
    mr_rpc_server *server = start_server();
    mr_rpc_client *client = open_client(URL);
    int n = 4;
    int batched = 0;
    int alone = 0;

    hold_then_queue(client, "/b/Big", n);
    MR_CHECK(wait_finished(n + 1));
    for (int i = 1; i <= n; i++) {
        const char *mark = strchr(results[i].id, '/');

        MR_CHECK_INT(results[i].err, ==, MR_OK);
        batched += mark != NULL && strcmp(mark, "/b") == 0;
        alone += mark != NULL && strcmp(mark, "/a") == 0;
    }
    MR_CHECK_INT(batched, ==, 2);
    MR_CHECK_INT(alone, ==, 2);

    mr_rpc_client_close(client);
    mr_rpc_server_stop(server, 1000);
}

/* When the peer leaves, the batch in flight and the calls queued behind
 * it fail at once. */
static void
test_peer_leaves_with_queue(void)
{
    mr_rpc_client *client = NULL;
    nng_socket raw;
    nng_msg *msg = NULL;
    int n = 10;

    MR_CHECK_INT(nng_rep0_open(&raw), ==, 0);
    MR_CHECK_INT(nng_listen(raw, RAW_URL, NULL, 0), ==, 0);
    MR_CHECK_INT(nng_socket_set_ms(raw, NNG_OPT_RECVTIMEO, 5000), ==, 0);
    client = open_client(RAW_URL);

    start_quick(client, "/b/Echo", 0);
    MR_CHECK_INT(nng_recvmsg(raw, &msg, 0), ==, 0);
    nng_msg_free(msg);
    for (int i = 1; i <= n; i++) {
        start_quick(client, "/b/Echo", i);
    }
    nng_close(raw);

    MR_CHECK(wait_finished(n + 1));
    for (int i = 0; i <= n; i++) {
        MR_CHECK_INT(results[i].err, ==, MR_EUNAVAILABLE);
    }
    mr_rpc_client_close(client);
}

/* Each queued call fails at its own deadline when the server never
 * replies, not at the latest deadline of the batch it went out in. */
static void
test_queued_calls_keep_deadlines(void)
{
    static const int after_ms[] = {0, 50, 250};
    const int timeout_ms = 300;
    mr_rpc_client *client = NULL;
    nng_socket raw;

    MR_CHECK_INT(nng_rep0_open(&raw), ==, 0);
    MR_CHECK_INT(nng_listen(raw, RAW_URL, NULL, 0), ==, 0);
    client = open_client(RAW_URL);

    for (int i = 0; i < 3; i++) {
        nng_msleep(i > 0 ? (nng_duration)(after_ms[i] - after_ms[i - 1]) : 0);
        start_quick_for(client, "/b/Echo", i, (uint32_t)timeout_ms);
    }
    MR_CHECK(wait_finished(3));
    for (int i = 0; i < 3; i++) {
        int64_t took = results[i].finished_ms - results[i].started_ms;

        MR_CHECK_INT(results[i].err, ==, MR_ETIMEDOUT);
        MR_CHECK_INT(took, >=, timeout_ms - 5);
        MR_CHECK_INT(took, <=, timeout_ms + 120);
    }

    mr_rpc_client_close(client);
    nng_close(raw);
}

/* reply_alone replies to one request on the raw socket: with
 * method_not_implemented to a batch, as a server without batches does,
 * and with an echo otherwise. It returns whether the request was a
 * batch. */
static bool
reply_alone(nng_socket raw)
{
    nng_msg *msg = NULL;
    nng_msg *reply = NULL;
    mr_rpc__request env;
    mr_rpc__status unknown = {12, mr_err_code(MR_EUNIMPLEMENTED), "", 0};
    Mcpreg__V1__McpServer server = MCPREG__V1__MCP_SERVER__INIT;
    bool batch = false;

    MR_CHECK_INT(nng_recvmsg(raw, &msg, 0), ==, 0);
    if (msg == NULL ||
        !mr_rpc__unpack_request(nng_msg_body(msg), nng_msg_len(msg), &env)) {
        nng_msg_free(msg);
        return false;
    }
    batch = env.method.len == strlen(MR_RPC__BATCH_METHOD);
    if (batch) {
        reply = mr_rpc__pack_reply(&unknown, NULL, 0);
    } else {
        mr_rpc__status ok = {0, "ok", "", 0};

        server.id = "plain";
        reply = mr_rpc__pack_reply(
            &ok, &server.base,
            protobuf_c_message_get_packed_size(&server.base));
    }
    nng_msg_free(msg);
    MR_CHECK_INT(nng_sendmsg(raw, reply, 0), ==, 0);
    return batch;
}

/* A server without batches replies to a batch with
 * method_not_implemented, and its calls are sent again alone. */
static void
test_server_without_batches(void)
{
    mr_rpc_client *client = NULL;
    nng_socket raw;

    MR_CHECK_INT(nng_rep0_open(&raw), ==, 0);
    MR_CHECK_INT(nng_listen(raw, RAW_URL, NULL, 0), ==, 0);
    MR_CHECK_INT(nng_socket_set_ms(raw, NNG_OPT_RECVTIMEO, 5000), ==, 0);
    client = open_client(RAW_URL);

    start_quick(client, "/b/Echo", 0);
    MR_CHECK(reply_alone(raw));
    MR_CHECK(!reply_alone(raw));
    MR_CHECK(wait_finished(1));
    MR_CHECK_INT(results[0].err, ==, MR_OK);
    MR_CHECK_STR(results[0].id, "plain");

    mr_rpc_client_close(client);
    nng_close(raw);
}

/* send_raw sends the len bytes at request to the server and writes the
 * error code of its reply into code, or "(none)" without one. */
static void
send_raw(const void *request, size_t len, char *code, size_t code_len)
{
    nng_socket sock;
    nng_msg *reply = NULL;
    mr_rpc__reply got;

    snprintf(code, code_len, "(none)");
    MR_CHECK_INT(nng_req0_open(&sock), ==, 0);
    MR_CHECK_INT(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000), ==, 0);
    MR_CHECK_INT(nng_dial(sock, URL, NULL, 0), ==, 0);
    MR_CHECK_INT(nng_send(sock, (void *)request, len, 0), ==, 0);
    MR_CHECK_INT(nng_recvmsg(sock, &reply, 0), ==, 0);
    if (reply != NULL &&
        mr_rpc__unpack_reply(nng_msg_body(reply), nng_msg_len(reply), &got)) {
        snprintf(code, code_len, "%.*s", (int)got.error.len,
                 (const char *)got.error.data);
    }
    nng_msg_free(reply);
    nng_close(sock);
}

/* A batch whose body is not a Batch, or contains more than
 * MR_RPC__BATCH_MAX calls, fails whole. */
static void
test_bad_batches_rejected(void)
{
    static const char garbage[] = "\x0a\x14/mcpreg.v1.Rpc/Batch\x22\x01\xff";
    mr_rpc_server *server = start_server();
    nng_msg *parts[MR_RPC__BATCH_MAX + 1];
    nng_msg *msg;
    char code[64];

    send_raw(garbage, sizeof(garbage) - 1, code, sizeof(code));
    MR_CHECK_STR(code, mr_err_code(MR_EINVALID_BODY));

    for (int i = 0; i <= MR_RPC__BATCH_MAX; i++) {
        parts[i] = NULL;
    }
    msg = mr_rpc__pack_batch(NULL, 0, 0, parts, MR_RPC__BATCH_MAX + 1);
    send_raw(nng_msg_body(msg), nng_msg_len(msg), code, sizeof(code));
    MR_CHECK_STR(code, mr_err_code(MR_EINVALID_BODY));
    nng_msg_free(msg);

    mr_rpc_server_stop(server, 1000);
}

/* A batch inside a batch fails as an unknown method, alone. */
static void
test_nested_batch_unknown(void)
{
    mr_rpc_server *server = start_server();
    nng_msg *inner = mr_rpc__pack_batch(NULL, 0, 0, NULL, 0);
    nng_msg *outer = mr_rpc__pack_batch(NULL, 0, 0, &inner, 1);
    nng_socket sock;
    nng_msg *reply = NULL;
    mr_rpc__reply env;
    mr_rpc__reply part_reply;
    mr_rpc__span part = {NULL, 0};
    bool ok;

    MR_CHECK_INT(nng_req0_open(&sock), ==, 0);
    MR_CHECK_INT(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000), ==, 0);
    MR_CHECK_INT(nng_dial(sock, URL, NULL, 0), ==, 0);
    MR_CHECK_INT(nng_sendmsg(sock, outer, 0), ==, 0);
    MR_CHECK_INT(nng_recvmsg(sock, &reply, 0), ==, 0);

    ok = reply != NULL &&
         mr_rpc__unpack_reply(nng_msg_body(reply), nng_msg_len(reply), &env);
    MR_CHECK(ok);
    if (ok) {
        MR_CHECK_INT(env.code, ==, 0);
        ok = mr_rpc__next_part(&env.body, &part) == 1;
        MR_CHECK(ok);
    }
    if (ok) {
        ok = mr_rpc__unpack_reply(part.data, part.len, &part_reply);
        MR_CHECK(ok);
    }
    if (ok) {
        MR_CHECK_INT(part_reply.error.len, ==,
                     strlen(mr_err_code(MR_EUNIMPLEMENTED)));
    }

    nng_msg_free(reply);
    nng_msg_free(inner);
    nng_close(sock);
    mr_rpc_server_stop(server, 1000);
}

static const mr_test_case cases[] = {
    {"queued_calls_share_batches", test_queued_calls_share_batches},
    {"declined_call_goes_alone", test_declined_call_goes_alone},
    {"late_parts_finish_batch", test_late_parts_finish_batch},
    {"oversized_batch_reply_split", test_oversized_batch_reply_split},
    {"peer_leaves_with_queue", test_peer_leaves_with_queue},
    {"queued_calls_keep_deadlines", test_queued_calls_keep_deadlines},
    {"server_without_batches", test_server_without_batches},
    {"bad_batches_rejected", test_bad_batches_rejected},
    {"nested_batch_unknown", test_nested_batch_unknown},
};

MR_TEST_MAIN(cases)
