/* mr_rpc_server.c - the REP side: contexts, dispatch table, replies. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include "mr_arena.h"
#include "mr_log.h"
#include "mr_rpc.h"
#include "mr_rpc_internal.h"
#include "mr_rpc_server_internal.h"
#include "mr_util.h"

/* MAX_REQUEST_BYTES bounds one request envelope; nng drops larger ones. */
#define MAX_REQUEST_BYTES (1024 * 1024)

/* CLOCK_SKEW_MS is how far apart the wall clocks of two hosts may be.
 * Only the time that a call waited beyond it, before it was read, comes
 * off the call's timeout. */
#define CLOCK_SKEW_MS 1000

static void call_cb(void *arg);

/* pipe_event keeps the ids of the open connections. A connection is
 * recorded before it is added, because a request can arrive on it before
 * nng reports the addition. nng reports the removal of every connection,
 * rejected ones too. */
static void
pipe_event(nng_pipe pipe, nng_pipe_ev event, void *arg)
{
    mr_rpc_server *server = arg;
    uint32_t id = nng_pipe_id(pipe);

    /* A connection that cannot be recorded for lack of memory counts as
     * gone for its callers. */
    pthread_mutex_lock(&server->pipes_lock);
    if (event == NNG_PIPE_EV_ADD_PRE) {
        mr_rpc__pipes_add(&server->pipes, id);
    } else {
        mr_rpc__pipes_remove(&server->pipes, id);
    }
    pthread_mutex_unlock(&server->pipes_lock);
}

/* find_method returns the method named name, or NULL. The whole name is
 * compared, so a name with a NUL byte in it matches no method. */
static const mr_rpc_method *
find_method(const mr_rpc_server *server, mr_rpc__span name)
{
    for (int i = 0; i < server->cfg.nmethods; i++) {
        const char *known = server->cfg.methods[i].name;

        if (strlen(known) == name.len &&
            memcmp(known, name.data, name.len) == 0) {
            return &server->cfg.methods[i];
        }
    }
    return NULL;
}

/* copy_span copies the string in span into dst, a buffer of dstlen bytes,
 * cut at its first NUL and at the buffer's end. */
static void
copy_span(char *dst, size_t dstlen, mr_rpc__span span)
{
    size_t n = span.len < dstlen - 1 ? span.len : dstlen - 1;
    const char *nul = memchr(span.data, '\0', n);

    if (nul != NULL) {
        n = (size_t)(nul - (const char *)span.data);
    }
    memcpy(dst, span.data, n);
    dst[n] = '\0';
}

void
mr_rpc__send_reply(mr_rpc_call *call, nng_msg *msg)
{
    mr_rpc_server *server = call->server;
    bool locked;

    if (call->batch != NULL) {
        mr_rpc__batch_finish(call, msg);
        return;
    }

    call->state = CALL_SEND;
    if (msg == NULL) {
        /* Without memory the caller gets no reply and times out. */
        MR_ERROR("rpc.reply.nomem", call->request_id,
                 "no memory for the reply to %s", call->method_name);
        nng_aio_set_msg(call->aio, NULL);
        mr_rpc__fail_later(call->aio, NNG_ENOMEM);
        return;
    }

    /* A failed try means the socket is closing; waiting could deadlock with
     * nng_close, which waits for this thread when it runs a callback. */
    locked = pthread_rwlock_tryrdlock(&server->close_lock) == 0;
    if (!locked || server->closed) {
        if (locked) {
            pthread_rwlock_unlock(&server->close_lock);
        }
        MR_WARN("rpc.reply.dropped", call->request_id,
                "%s: reply to %s dropped because the socket is closed",
                server->cfg.name, call->method_name);
        nng_msg_free(msg);
        nng_aio_set_msg(call->aio, NULL);
        mr_rpc__fail_later(call->aio, NNG_ECLOSED);
        return;
    }
    nng_aio_set_msg(call->aio, msg);
    nng_ctx_send(call->ctx, call->aio);
    pthread_rwlock_unlock(&server->close_lock);
}

void
mr_rpc_reply(mr_rpc_call *call, const ProtobufCMessage *response)
{
    mr_rpc__status status = {0, mr_err_code(MR_OK), "", 0};
    size_t len = protobuf_c_message_get_packed_size(response);

    if (len > MR_RPC_REPLY_MAX) {
        MR_ERROR("rpc.reply.too_large", call->request_id,
                 "%s: reply to %s is %zu bytes, over the limit of %d",
                 call->server->cfg.name, call->method_name, len,
                 MR_RPC_REPLY_MAX);
        mr_rpc_fail(call, MR_EINTERNAL,
                    "Delete unused MCP servers or shorten their headers: "
                    "the reply would exceed the RPC size limit",
                    0);
        return;
    }
    mr_rpc__send_reply(call, mr_rpc__pack_reply(&status, response, len));
}

void
mr_rpc_fail(mr_rpc_call *call, mr_err err, const char *detail,
            uint32_t retry_after)
{
    mr_rpc__status status = {(int32_t)mr_err_class(err), mr_err_code(err),
                             detail ? detail : mr_strerror(err), retry_after};

    mr_rpc__send_reply(call, mr_rpc__pack_reply(&status, NULL, 0));
}

/* queued_ms returns how long beyond CLOCK_SKEW_MS a call sent at
 * sent_unix_ms waited before it was read, such as in the queue of a
 * paused process; 0 when the sender did not say when it sent it. */
static int64_t
queued_ms(uint64_t sent_unix_ms)
{
    int64_t waited;

    if (sent_unix_ms == 0 || sent_unix_ms > (uint64_t)INT64_MAX) {
        return 0;
    }
    waited = mr_now_ms() - (int64_t)sent_unix_ms - CLOCK_SKEW_MS;
    return waited > 0 ? waited : 0;
}

void
mr_rpc__run_request(mr_rpc_call *call, const uint8_t *data, size_t len,
                    nng_msg *msg)
{
    mr_rpc_server *server = call->server;
    mr_rpc__request env;
    uint32_t timeout_ms;
    int64_t late_ms;

    if (!mr_rpc__unpack_request(data, len, &env)) {
        nng_msg_free(msg);
        MR_WARN("rpc.request.invalid", NULL, "%s: undecodable request",
                server->cfg.name);
        mr_rpc_fail(call, MR_EINVALID_BODY, "Send a valid Request envelope",
                    0);
        return;
    }
    if (call->batch == NULL &&
        env.method.len == sizeof(MR_RPC__BATCH_METHOD) - 1 &&
        memcmp(env.method.data, MR_RPC__BATCH_METHOD, env.method.len) == 0) {
        /* The batch's own log lines name it. */
        copy_span(call->request_id, sizeof(call->request_id), env.request_id);
        snprintf(call->method_name, sizeof(call->method_name), "%s",
                 MR_RPC__BATCH_METHOD);
        mr_rpc__batch_run(call, env.body, msg);
        return;
    }

    copy_span(call->request_id, sizeof(call->request_id), env.request_id);
    copy_span(call->method_name, sizeof(call->method_name), env.method);
    timeout_ms =
        env.timeout_ms ? env.timeout_ms : server->cfg.default_timeout_ms;
    late_ms = queued_ms(env.sent_unix_ms);
    call->deadline = mr_mono_ms() + timeout_ms - late_ms;
    call->method = find_method(server, env.method);

    /* Its caller has given up, so the result of work done now, such as a
     * client registration, would be lost. */
    if (late_ms >= timeout_ms) {
        nng_msg_free(msg);
        MR_WARN("rpc.call.stale", call->request_id,
                "%s: %s was read %lld ms after its deadline of %u ms; "
                "not run",
                server->cfg.name, call->method_name,
                (long long)(late_ms - timeout_ms), timeout_ms);
        mr_rpc_fail(call, MR_ETIMEDOUT, NULL, 1);
        return;
    }

    if (call->method == NULL) {
        bool nul = memchr(env.method.data, '\0', env.method.len) != NULL;

        nng_msg_free(msg);
        MR_WARN("rpc.method.unknown", call->request_id,
                "%s: unknown method %s%s", server->cfg.name, call->method_name,
                nul ? " followed by a NUL byte" : "");
        mr_rpc_fail(call, MR_EUNIMPLEMENTED, NULL, 0);
        return;
    }

    /* The spans point into msg, so it is freed only after this. */
    call->request = protobuf_c_message_unpack(call->method->request,
                                              &call->arena.allocator,
                                              env.body.len, env.body.data);
    nng_msg_free(msg);
    if (call->request == NULL) {
        MR_WARN("rpc.body.invalid", call->request_id,
                "%s: undecodable body for %s", server->cfg.name,
                call->method_name);
        mr_rpc_fail(call, MR_EINVALID_BODY,
                    "Send a request body of the method's message type", 0);
        return;
    }

    call->method->handler(call, server->cfg.arg);
}

/* start_call handles the request in msg, which it frees. */
static void
start_call(mr_rpc_call *call, nng_msg *msg)
{
    call->pipe_id = nng_pipe_id(nng_msg_get_pipe(msg));
    mr_rpc__run_request(call, nng_msg_body(msg), nng_msg_len(msg), msg);
}

/* wake_drain wakes a drain waiting for the busy calls to finish. */
static void
wake_drain(mr_rpc_server *server)
{
    nng_mtx_lock(server->mtx);
    nng_cv_wake(server->cv);
    nng_mtx_unlock(server->mtx);
}

static void
finish_send(mr_rpc_call *call)
{
    mr_rpc_server *server = call->server;
    nng_msg *unsent = nng_aio_get_msg(call->aio);
    bool stopping;

    if (nng_aio_result(call->aio) != 0 && unsent != NULL) {
        nng_msg_free(unsent);
    }
    nng_aio_set_msg(call->aio, NULL);
    if (call->request != NULL) {
        protobuf_c_message_free_unpacked(call->request,
                                         &call->arena.allocator);
        call->request = NULL;
    }
    mr_arena_reset(&call->arena);

    /* Every write to call comes before the decrement: once active is 0,
     * a stopping server may free the calls. */
    stopping = atomic_load(&server->stopping);
    call->state = stopping ? CALL_IDLE : CALL_RECV;
    if (!stopping) {
        atomic_fetch_sub(&server->active, 1);
        nng_ctx_recv(call->ctx, call->aio);
        return;
    }
    atomic_fetch_sub(&server->active, 1);
    wake_drain(server);
}

static void
finish_recv(mr_rpc_call *call)
{
    mr_rpc_server *server = call->server;
    int rv = nng_aio_result(call->aio);
    bool closed;

    /* The increment comes before the check of stopping, and drain sets
     * stopping before it reads active, so either this call is counted or
     * it sees the stop. */
    if (rv == 0) {
        atomic_fetch_add(&server->active, 1);
        if (!atomic_load(&server->stopping)) {
            call->state = CALL_BUSY;
            start_call(call, nng_aio_get_msg(call->aio));
            return;
        }
        nng_msg_free(nng_aio_get_msg(call->aio));
        call->state = CALL_IDLE;
        atomic_fetch_sub(&server->active, 1);
        wake_drain(server);
        return;
    }

    closed = rv == NNG_ECLOSED || rv == NNG_ECANCELED ||
             atomic_load(&server->stopping);
    call->state = closed ? CALL_IDLE : CALL_RECV;
    if (!closed) {
        nng_ctx_recv(call->ctx, call->aio);
    }
}

static void
call_cb(void *arg)
{
    mr_rpc_call *call = arg;
    mr_rpc__call_state state = call->state;

    if (state == CALL_RECV) {
        finish_recv(call);
    } else if (state == CALL_SEND) {
        finish_send(call);
    }
}

/* open_socket opens the REP socket and listens or dials; it returns 0 or
 * an nng error, logged. */
static int
open_socket(mr_rpc_server *server)
{
    const mr_rpc_server_config *cfg = &server->cfg;
    char why[MR_RPC_URL_WHY_MAX];
    int rv;

    if (!mr_rpc_check_url(cfg->url, why, sizeof(why))) {
        MR_ERROR("rpc.server.url", NULL, "%s: cannot %s: %s", cfg->name,
                 cfg->dial ? "dial" : "listen", why);
        return NNG_EADDRINVAL;
    }
    rv = nng_rep0_open(&server->sock);
    if (rv != 0) {
        goto out;
    }
    nng_socket_set_size(server->sock, NNG_OPT_RECVMAXSZ, MAX_REQUEST_BYTES);
    nng_socket_set_ms(server->sock, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(server->sock, NNG_OPT_RECONNMAXT, 2000);
    nng_pipe_notify(server->sock, NNG_PIPE_EV_ADD_PRE, pipe_event, server);
    nng_pipe_notify(server->sock, NNG_PIPE_EV_REM_POST, pipe_event, server);

    if (cfg->dial) {
        /* NNG_FLAG_NONBLOCK: keep redialling in the background when the
         * peer is not up yet. */
        rv = nng_dial(server->sock, cfg->url, NULL, NNG_FLAG_NONBLOCK);
    } else {
        rv = nng_listen(server->sock, cfg->url, NULL, 0);
    }

out:
    if (rv != 0) {
        MR_ERROR("rpc.server.open", NULL, "%s: failed to %s %s: %s", cfg->name,
                 cfg->dial ? "dial" : "listen on", cfg->url, nng_strerror(rv));
    }
    return rv;
}

static int
start_contexts(mr_rpc_server *server)
{
    for (int i = 0; i < server->ncalls; i++) {
        mr_rpc_call *call = &server->calls[i];
        int rv;

        call->server = server;
        call->state = CALL_RECV;
        mr_arena_init(&call->arena, call->arena_buf, sizeof(call->arena_buf));
        rv = nng_aio_alloc(&call->aio, call_cb, call);
        if (rv == 0) {
            rv = nng_ctx_open(&call->ctx, server->sock);
        }
        if (rv != 0) {
            return rv;
        }
    }
    for (int i = 0; i < server->ncalls; i++) {
        nng_ctx_recv(server->calls[i].ctx, server->calls[i].aio);
    }
    return 0;
}

mr_err
mr_rpc_server_start(mr_rpc_server **out, const mr_rpc_server_config *cfg)
{
    mr_rpc_server *server = calloc(1, sizeof(*server));
    int ncalls = cfg->contexts > 0 ? cfg->contexts : 1;

    *out = NULL;
    if (server == NULL) {
        return MR_ENOMEM;
    }
    server->cfg = *cfg;
    server->ncalls = ncalls;
    pthread_rwlock_init(&server->close_lock, NULL);
    pthread_mutex_init(&server->pipes_lock, NULL);
    server->calls = calloc((size_t)ncalls, sizeof(*server->calls));
    if (server->calls == NULL || nng_mtx_alloc(&server->mtx) != 0 ||
        nng_cv_alloc(&server->cv, server->mtx) != 0) {
        mr_rpc_server_stop(server, 0);
        return MR_ENOMEM;
    }

    if (open_socket(server) != 0) {
        mr_rpc_server_stop(server, 0);
        return MR_EUNAVAILABLE;
    }
    if (start_contexts(server) != 0) {
        mr_rpc_server_stop(server, 0);
        return MR_ENOMEM;
    }

    MR_INFO("rpc.server.start", NULL, "%s: %s %s with %d contexts", cfg->name,
            cfg->dial ? "dialling" : "listening on", cfg->url, ncalls);
    /* Scripts wait for this line, so it does not wait for the flush. */
    mr_log_flush();
    *out = server;
    return MR_OK;
}

/* drain stops the idle contexts and waits up to grace_ms for the busy
 * ones to send their replies; it returns how many are still busy. */
static int
drain(mr_rpc_server *server, int grace_ms)
{
    nng_time until = nng_clock() + (nng_time)grace_ms;
    int active;

    atomic_store(&server->stopping, true);

    /* Only receives are cancelled; a reply being sent must still go out. */
    for (int i = 0; i < server->ncalls; i++) {
        mr_rpc_call *call = &server->calls[i];
        bool receiving;

        receiving = call->state == CALL_RECV;
        if (receiving && call->aio != NULL) {
            nng_aio_cancel(call->aio);
        }
    }

    nng_mtx_lock(server->mtx);
    while (atomic_load(&server->active) > 0) {
        if (nng_cv_until(server->cv, until) == NNG_ETIMEDOUT) {
            MR_WARN("rpc.server.grace", NULL,
                    "%s: %d calls still running after %d ms; closing",
                    server->cfg.name, atomic_load(&server->active), grace_ms);
            break;
        }
    }
    active = atomic_load(&server->active);
    nng_mtx_unlock(server->mtx);
    return active;
}

/* close_socket closes the socket once no reply is being sent; replies
 * that come later are dropped. It returns false, logged, when the close
 * did not finish in time. */
static bool
close_socket(mr_rpc_server *server)
{
    bool closed;

    pthread_rwlock_wrlock(&server->close_lock);
    server->closed = true;
    closed = mr_rpc__close(server->sock, MR_RPC__CLOSE_WAIT_MS);
    if (!closed) {
        MR_ERROR("rpc.server.close_stuck", NULL,
                 "%s: closing the socket did not finish in time; leaving "
                 "it to the process exit",
                 server->cfg.name);
    }
    pthread_rwlock_unlock(&server->close_lock);
    return closed;
}

void
mr_rpc_server_stop(mr_rpc_server *server, int grace_ms)
{
    if (server == NULL) {
        return;
    }
    if (server->calls != NULL && server->mtx != NULL &&
        drain(server, grace_ms) > 0) {
        /* Handlers still own calls and may still reply, so the server's
         * memory is left for the process exit to free. */
        close_socket(server);
        return;
    }

    /* A close that did not finish may still run callbacks, which use the
     * calls: they are left too. */
    if (!close_socket(server)) {
        return;
    }
    for (int i = 0; i < server->ncalls && server->calls != NULL; i++) {
        mr_rpc_call *call = &server->calls[i];

        if (call->aio != NULL) {
            nng_aio_free(call->aio);
        }
        if (call->request != NULL) {
            protobuf_c_message_free_unpacked(call->request,
                                             &call->arena.allocator);
        }
        mr_rpc__batch_free(call);
    }

    free(server->calls);
    mr_rpc__pipes_free(&server->pipes);
    pthread_mutex_destroy(&server->pipes_lock);
    pthread_rwlock_destroy(&server->close_lock);
    if (server->cv != NULL) {
        nng_cv_free(server->cv);
    }
    if (server->mtx != NULL) {
        nng_mtx_free(server->mtx);
    }
    free(server);
}

const ProtobufCMessage *
mr_rpc_request(const mr_rpc_call *call)
{
    return call->request;
}

const char *
mr_rpc_request_id(const mr_rpc_call *call)
{
    return call->request_id;
}

const char *
mr_rpc_method_name(const mr_rpc_call *call)
{
    return call->method_name;
}

int64_t
mr_rpc_deadline(const mr_rpc_call *call)
{
    return call->deadline;
}

bool
mr_rpc_caller_connected(const mr_rpc_call *call)
{
    mr_rpc_server *server = call->server;
    bool connected;

    pthread_mutex_lock(&server->pipes_lock);
    connected = mr_rpc__pipes_has(&server->pipes, call->pipe_id);
    pthread_mutex_unlock(&server->pipes_lock);
    return connected;
}

uint32_t
mr_rpc_timeout_left(const mr_rpc_call *call)
{
    int64_t left = call->deadline - mr_mono_ms();

    return left > 0 ? (uint32_t)left : 0;
}
