/* mr_rpc_client.c - the REQ side: one context and aio per call. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "mr_log.h"
#include "mr_rpc.h"
#include "mr_rpc_client_internal.h"
#include "mr_rpc_internal.h"
#include "mr_util.h"

/* With resending off, nng's REQ socket fails a call whose connection
 * closes before the reply (MR_RPC__PEER_LOST_DETAIL) instead of resending it.
 * Older nng releases resent it; tests/integration/robustness_faults.test.mjs
 * checks the behaviour of 1.5.2, the version the build was tested with. */
#if NNG_MAJOR_VERSION < 1 || (NNG_MAJOR_VERSION == 1 && NNG_MINOR_VERSION < 5)
#error "nng 1.5 or later is required: older REQ sockets may resend requests"
#endif

/* MAX_REPLY_BYTES bounds one reply envelope: twice MR_RPC_REPLY_MAX,
 * which servers enforce, leaves room for the envelope. */
#define MAX_REPLY_BYTES (2 * MR_RPC_REPLY_MAX)

/* ERROR_CODE_MAX bounds the error code of a failed reply, with its NUL;
 * the longest known code is far shorter. */
#define ERROR_CODE_MAX 64

/* IDLE_MAX bounds the finished calls kept for reuse. Reusing a call's
 * context and aio saves their allocation and the reaper thread's wake-up
 * that freeing an aio from its own callback costs. */
#define IDLE_MAX 256

/*
 * track_pipe records that pipe id connected or left, and returns whether
 * the count of peers changes. nng reports the removal of a connection it
 * rejected, such as one of the wrong protocol, without reporting it added,
 * so only removals of counted pipes count. A pipe that cannot be recorded
 * for lack of memory is not counted. The caller holds client->mtx.
 */
static bool
track_pipe(mr_rpc_client *client, uint32_t id, bool connected)
{
    if (mr_rpc__pipes_remove(&client->pipes, id)) {
        return !connected;
    }
    return connected && mr_rpc__pipes_add(&client->pipes, id);
}

/*
 * Counts the connected peers. When the last one leaves, it cancels every
 * call not finished yet, because no reply can come for them. A call still
 * waiting to be sent would otherwise wait in nng's queue until a peer
 * connects or its deadline passes. nng reports the removal after it has
 * closed the connection, so calls started in between need this too.
 */
static void
pipe_event(nng_pipe pipe, nng_pipe_ev event, void *arg)
{
    mr_rpc_client *client = arg;
    bool connected = event == NNG_PIPE_EV_ADD_POST;
    char address[MR_RPC_PEER_ADDR_MAX] = "";
    bool changed;
    bool report;
    int peers;

    if (client->watch != NULL && connected) {
        mr_rpc__peer_address(pipe, address);
    }

    pthread_rwlock_wrlock(&client->start_lock);
    nng_mtx_lock(client->mtx);
    changed = track_pipe(client, nng_pipe_id(pipe), connected);
    if (changed) {
        client->peers += connected ? 1 : -1;
    }
    peers = client->peers;
    if (changed && peers == 0) {
        for (pending *p = client->calls; p != NULL; p = p->next) {
            p->cancelled = true;
            /* The callback runs on an nng thread, after this unlocks. */
            nng_aio_cancel(p->aio);
        }
    }
    report = changed && client->watch != NULL && !client->closing;
    nng_mtx_unlock(client->mtx);
    pthread_rwlock_unlock(&client->start_lock);

    if (report) {
        client->watch(client->watch_arg, connected, peers, nng_pipe_id(pipe),
                      address);
    }
}

/* Adds p to the client's calls. The caller holds client->mtx. */
static void
link_call(mr_rpc_client *client, pending *p)
{
    p->prev = NULL;
    p->next = client->calls;
    if (client->calls != NULL) {
        client->calls->prev = p;
    }
    client->calls = p;
    atomic_fetch_add(&client->pending, 1);
}

/* Removes p from the client's calls. The caller holds client->mtx. */
static void
unlink_call(mr_rpc_client *client, pending *p)
{
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        client->calls = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    }
}

void
mr_rpc__release_call(pending *p)
{
    mr_rpc_client *client = p->client;
    pending *spare = p;

    /* nng allows a new operation on an aio from its own callback, so the
     * call can be reused before this callback returns. A closing client
     * keeps every call, so that it frees their aios itself before the
     * socket closes. */
    nng_mtx_lock(client->mtx);
    unlink_call(client, p);
    if (client->closing ||
        (client->nidle < IDLE_MAX && p->ctx_open && !p->cancelled)) {
        p->next = client->idle;
        client->idle = p;
        client->nidle++;
        spare = NULL;
    }
    nng_mtx_unlock(client->mtx);

    if (spare != NULL) {
        if (spare->ctx_open) {
            nng_ctx_close(spare->ctx);
        }
        nng_aio_reap(spare->aio);
        free(spare);
    }
}

/* finish keeps the call for reuse or frees it, then runs the caller's
 * callback last, so that what the callback wakes finds nothing left to
 * wait for on this thread. */
static void
finish(pending *p, const mr_rpc_status *status, ProtobufCMessage *response)
{
    mr_rpc_client *client = p->client;
    mr_rpc_done done = p->done;
    void *arg = p->arg;

    nng_msg_free(p->msg);
    p->msg = NULL;
    mr_rpc__release_call(p);

    done(arg, status, response);

    /* The last touch of client: mr_rpc_client_close frees it once every
     * call has come this far. */
    atomic_fetch_sub(&client->pending, 1);
}

void
mr_rpc__finish_error(pending *p, mr_err err, const char *detail,
                     uint32_t retry)
{
    mr_rpc_status status = {err, detail ? detail : mr_strerror(err), retry};

    finish(p, &status, NULL);
}

/* copy_code copies the error code in span into dst, a buffer of dstlen
 * bytes, or an empty string when it does not fit: no known code is that
 * long. */
static void
copy_code(char *dst, size_t dstlen, mr_rpc__span span)
{
    size_t n = span.len < dstlen ? span.len : 0;

    memcpy(dst, span.data, n);
    dst[n] = '\0';
}

/* finish_failed completes the call with the failed status of reply. */
static void
finish_failed(pending *p, const mr_rpc__reply *reply)
{
    char code[ERROR_CODE_MAX];
    char *detail = malloc(reply->detail.len + 1);
    mr_rpc_status status = {MR_EINTERNAL, "", reply->retry_after};

    copy_code(code, sizeof(code), reply->error);
    status.err = mr_err_from_code(code);
    if (detail != NULL) {
        memcpy(detail, reply->detail.data, reply->detail.len);
        detail[reply->detail.len] = '\0';
        status.detail = detail;
    }
    finish(p, &status, NULL);
    free(detail);
}

void
mr_rpc__finish_reply(pending *p, const mr_rpc__reply *reply)
{
    ProtobufCMessage *response;
    mr_rpc_status status = {MR_OK, "", 0};

    if (reply->code != MCPREG__V1__CODE__OK) {
        finish_failed(p, reply);
        return;
    }

    response = protobuf_c_message_unpack(p->response_type, NULL,
                                         reply->body.len, reply->body.data);
    if (response == NULL) {
        status.err = MR_EINTERNAL;
        status.detail = "Retry later: undecodable RPC response body";
    }
    finish(p, &status, response);
}

/* finish_msg decodes the Reply envelope in msg, frees msg, and completes
 * the call. The response, which the caller keeps, is decoded into
 * malloc'd memory. */
static void
finish_msg(pending *p, nng_msg *msg)
{
    mr_rpc__reply reply;

    if (!mr_rpc__unpack_reply(nng_msg_body(msg), nng_msg_len(msg), &reply)) {
        nng_msg_free(msg);
        mr_rpc__finish_error(p, MR_EINTERNAL,
                             "Retry later: undecodable RPC reply", 1);
        return;
    }
    mr_rpc__finish_reply(p, &reply);
    nng_msg_free(msg);
}

static void
pending_cb(void *arg)
{
    pending *p = arg;
    mr_rpc_client *client = p->client;
    int rv = nng_aio_result(p->aio);
    bool cancelled;
    int64_t left;

    if (p->is_batch && (p->state != PENDING_SEND || rv != 0)) {
        mr_rpc__batch_done(p, rv);
        return;
    }
    if (p->state == PENDING_FAIL) {
        mr_rpc__finish_error(p, p->err, NULL, 1);
        return;
    }
    if (rv != 0) {
        bool lost = p->state == PENDING_RECV && rv != NNG_ETIMEDOUT &&
                    rv != NNG_ECLOSED;

        if (p->state == PENDING_SEND) {
            nng_msg_free(nng_aio_get_msg(p->aio));
        }
        mr_rpc__finish_error(p, mr_rpc__nng_error(rv),
                             lost ? MR_RPC__PEER_LOST_DETAIL : NULL, 1);
        return;
    }
    if (p->state == PENDING_RECV) {
        finish_msg(p, nng_aio_get_msg(p->aio));
        return;
    }

    /* The request is on its way; wait for the rest of the deadline,
     * unless the last peer left meanwhile. Once the receive starts, the
     * reply may finish the call and free p on another thread, so only
     * client is touched after it. */
    pthread_rwlock_rdlock(&client->start_lock);
    cancelled = p->cancelled;
    if (!cancelled) {
        left = p->deadline - mr_mono_ms();
        p->state = PENDING_RECV;
        nng_aio_set_timeout(p->aio, left > 0 ? (nng_duration)left : 1);
        nng_ctx_recv(p->ctx, p->aio);
    }
    pthread_rwlock_unlock(&client->start_lock);

    /* The last peer left after the send: a lost connection, for a batch
     * as for a call. NOTE: no test reaches this window for a batch, since
     * the peer must leave between the send and this lock. */
    if (cancelled && p->is_batch) {
        p->state = PENDING_RECV;
        mr_rpc__batch_done(p, NNG_ECONNSHUT);
    } else if (cancelled) {
        mr_rpc__finish_error(p, MR_EUNAVAILABLE, MR_RPC__PEER_LOST_DETAIL, 1);
    }
}

nng_msg *
mr_rpc__pack_call(const char *method, const ProtobufCMessage *request,
                  const char *request_id, uint32_t timeout_ms)
{
    return mr_rpc__pack_request(method, request_id, timeout_ms,
                                (uint64_t)mr_now_ms(), request,
                                protobuf_c_message_get_packed_size(request));
}

/* new_call allocates a call with its own context and aio, or NULL. */
static pending *
new_call(mr_rpc_client *client)
{
    pending *p = calloc(1, sizeof(*p));

    if (p == NULL || nng_aio_alloc(&p->aio, pending_cb, p) != 0) {
        free(p);
        return NULL;
    }
    if (nng_ctx_open(&p->ctx, client->sock) != 0) {
        nng_aio_free(p->aio);
        free(p);
        return NULL;
    }
    p->ctx_open = true;
    return p;
}

pending *
mr_rpc__take_call(mr_rpc_client *client)
{
    pending *p;

    nng_mtx_lock(client->mtx);
    p = client->idle;
    if (p != NULL) {
        client->idle = p->next;
        client->nidle--;
        p->cancelled = false;
        link_call(client, p);
    }
    nng_mtx_unlock(client->mtx);

    if (p != NULL) {
        return p;
    }

    p = new_call(client);
    if (p != NULL) {
        nng_mtx_lock(client->mtx);
        link_call(client, p);
        nng_mtx_unlock(client->mtx);
    }
    return p;
}

void
mr_rpc__init_call(pending *p, mr_rpc_client *client, uint32_t timeout_ms,
                  const ProtobufCMessageDescriptor *response_type,
                  mr_rpc_done done, void *arg)
{
    p->client = client;
    p->err = MR_OK;
    p->deadline = mr_mono_ms() + timeout_ms;
    p->response_type = response_type;
    p->done = done;
    p->arg = arg;
    p->msg = NULL;
    p->member_next = NULL;
    p->is_batch = false;
    p->members = NULL;
}

void
mr_rpc__start_send(mr_rpc_client *client, pending *p, nng_msg *msg,
                   uint32_t timeout_ms)
{
    bool lost;

    pthread_rwlock_rdlock(&client->start_lock);
    lost = client->peers == 0 || p->cancelled || client->closing;
    if (!lost) {
        p->state = PENDING_SEND;
        nng_aio_set_timeout(p->aio, (nng_duration)timeout_ms);
        nng_aio_set_msg(p->aio, msg);
        nng_ctx_send(p->ctx, p->aio);
    }
    pthread_rwlock_unlock(&client->start_lock);

    if (lost) {
        /* Fails at once, from an nng thread, so done never runs inside
         * the caller's locks. */
        nng_msg_free(msg);
        p->state = PENDING_FAIL;
        p->err = MR_EUNAVAILABLE;
        mr_rpc__fail_later(p->aio, NNG_ECLOSED);
    }
}

pending *
mr_rpc__prepare_call(mr_rpc_client *client, const char *method,
                     const ProtobufCMessage *request,
                     const ProtobufCMessageDescriptor *response_type,
                     const char *request_id, uint32_t timeout_ms,
                     mr_rpc_done done, void *arg)
{
    nng_msg *msg = mr_rpc__pack_call(method, request, request_id, timeout_ms);
    pending *p = msg != NULL ? mr_rpc__take_call(client) : NULL;

    if (p == NULL) {
        nng_msg_free(msg);
        return NULL;
    }
    mr_rpc__init_call(p, client, timeout_ms, response_type, done, arg);
    p->msg = msg;
    return p;
}

mr_err
mr_rpc_call_async(mr_rpc_client *client, const char *method,
                  const ProtobufCMessage *request,
                  const ProtobufCMessageDescriptor *response_type,
                  const char *request_id, uint32_t timeout_ms,
                  mr_rpc_done done, void *arg)
{
    pending *p = mr_rpc__prepare_call(client, method, request, response_type,
                                      request_id, timeout_ms, done, arg);
    nng_msg *msg;

    if (p == NULL) {
        return MR_ENOMEM;
    }
    msg = p->msg;
    p->msg = NULL;
    mr_rpc__start_send(client, p, msg, timeout_ms);
    return MR_OK;
}

mr_err
mr_rpc_client_open(mr_rpc_client **out, const char *url, bool listen)
{
    return mr_rpc_client_open_watched(out, url, listen, NULL, NULL);
}

/* Opens a client that listens on url or dials it with nng_dial's flags,
 * and stores nng's error, if any, in *nng_error. */
static mr_err
open_client(mr_rpc_client **out, const char *url, bool listen, int flags,
            mr_rpc_peer_watch watch, void *arg, int *nng_error)
{
    mr_rpc_client *client;
    char why[MR_RPC_URL_WHY_MAX];
    int rv;

    *out = NULL;
    *nng_error = 0;
    if (!mr_rpc_check_url(url, why, sizeof(why))) {
        MR_ERROR("rpc.client.url", NULL, "cannot %s: %s",
                 listen ? "listen" : "dial", why);
        return MR_EUNAVAILABLE;
    }
    client = calloc(1, sizeof(*client));
    if (client == NULL) {
        return MR_ENOMEM;
    }
    client->watch = watch;
    client->watch_arg = arg;
    pthread_rwlock_init(&client->start_lock, NULL);
    rv = nng_mtx_alloc(&client->mtx);
    if (rv == 0) {
        rv = nng_req0_open(&client->sock);
    }
    if (rv != 0) {
        goto out;
    }

    /* Never resend: a resent discovery job could register a second
     * client, and a resent write could be applied twice. With resending
     * off, nng fails a call whose connection closes before the reply
     * (MR_RPC__PEER_LOST_DETAIL) instead of sending it to another peer, and a
     * call that gets no reply fails at its deadline. The caller decides
     * whether to retry. */
    nng_socket_set_ms(client->sock, NNG_OPT_REQ_RESENDTIME,
                      NNG_DURATION_INFINITE);
    nng_socket_set_size(client->sock, NNG_OPT_RECVMAXSZ, MAX_REPLY_BYTES);
    nng_socket_set_ms(client->sock, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(client->sock, NNG_OPT_RECONNMAXT, 2000);
    nng_pipe_notify(client->sock, NNG_PIPE_EV_ADD_POST, pipe_event, client);
    nng_pipe_notify(client->sock, NNG_PIPE_EV_REM_POST, pipe_event, client);

    if (listen) {
        rv = nng_listen(client->sock, url, NULL, 0);
    } else {
        rv = nng_dial(client->sock, url, NULL, flags);
    }

out:
    if (rv != 0) {
        MR_ERROR("rpc.client.open", NULL, "failed to %s %s: %s",
                 listen ? "listen on" : "dial", url, nng_strerror(rv));
        mr_rpc_client_close(client);
        *nng_error = rv;
        return rv == NNG_ETIMEDOUT ? MR_ETIMEDOUT : MR_EUNAVAILABLE;
    }
    *out = client;
    return MR_OK;
}

mr_err
mr_rpc_client_open_watched(mr_rpc_client **out, const char *url, bool listen,
                           mr_rpc_peer_watch watch, void *arg)
{
    int nng_error;

    return open_client(out, url, listen, NNG_FLAG_NONBLOCK, watch, arg,
                       &nng_error);
}

mr_err
mr_rpc_client_connect(mr_rpc_client **out, const char *url, char *why,
                      size_t why_size)
{
    int nng_error;
    mr_err err = open_client(out, url, false, 0, NULL, NULL, &nng_error);

    if (err != MR_OK) {
        snprintf(why, why_size, "%s",
                 nng_error != 0 ? nng_strerror(nng_error) : mr_strerror(err));
    }
    return err;
}

/* stop_calls marks the client closing, which fails new calls at once,
 * and cancels every call in flight. Holding start_lock for writing means
 * each send or receive has either started, and is cancelled here, or will
 * see closing or its call cancelled. */
static void
stop_calls(mr_rpc_client *client)
{
    pthread_rwlock_wrlock(&client->start_lock);
    nng_mtx_lock(client->mtx);
    client->closing = true;
    for (pending *p = client->calls; p != NULL; p = p->next) {
        p->cancelled = true;
        nng_aio_cancel(p->aio);
    }
    nng_mtx_unlock(client->mtx);
    pthread_rwlock_unlock(&client->start_lock);
}

/* wait_calls returns whether every call's callback returned within
 * timeout_ms, which is unbounded if negative. It polls, so that finishing
 * a call takes no lock for it. */
static bool
wait_calls(mr_rpc_client *client, int timeout_ms)
{
    int64_t until = mr_mono_ms() + timeout_ms;

    while (atomic_load(&client->pending) > 0) {
        if (timeout_ms >= 0 && mr_mono_ms() >= until) {
            return false;
        }
        nng_msleep(1);
    }
    return true;
}

/* free_idle frees the finished calls' aios and closes their contexts.
 * Freeing an aio waits until nng's timeout thread is done with it. */
static void
free_idle(mr_rpc_client *client)
{
    pending *p;

    nng_mtx_lock(client->mtx);
    p = client->idle;
    client->idle = NULL;
    client->nidle = 0;
    nng_mtx_unlock(client->mtx);

    while (p != NULL) {
        pending *next = p->next;

        nng_aio_free(p->aio);
        nng_ctx_close(p->ctx);
        free(p);
        p = next;
    }
}

/*
 * Ends every call before closing the socket. nng 1.5.2's timeout thread
 * cancels an expired operation through its context without holding the
 * socket. So a deadline that passed while the socket closed made it
 * unlock a freed mutex and abort the process (common.rpc
 * "close_at_deadline" reproduced it).
 */
void
mr_rpc_client_close(mr_rpc_client *client)
{
    if (client == NULL) {
        return;
    }

    if (client->mtx != NULL) {
        stop_calls(client);
        wait_calls(client, MR_RPC__CLOSE_WAIT_MS);
        free_idle(client);
    }

    /* A close that did not finish may still run callbacks, so the client
     * is left. */
    if (!mr_rpc__close(client->sock, MR_RPC__CLOSE_WAIT_MS)) {
        MR_ERROR("rpc.client.close_stuck", NULL,
                 "closing the RPC socket did not finish in time; leaving it "
                 "to the process exit");
        return;
    }

    /* Calls that the cancel missed have ended with the socket. */
    wait_calls(client, -1);
    if (client->mtx != NULL) {
        free_idle(client);
    }

    /* A callback that started a receive may still be unlocking
     * start_lock after its call finished on another thread. */
    pthread_rwlock_wrlock(&client->start_lock);
    pthread_rwlock_unlock(&client->start_lock);

    if (client->mtx != NULL) {
        nng_mtx_free(client->mtx);
    }
    mr_rpc__pipes_free(&client->pipes);
    pthread_rwlock_destroy(&client->start_lock);
    free(client);
}

int
mr_rpc_client_peers(const mr_rpc_client *client)
{
    return atomic_load(&client->peers);
}
