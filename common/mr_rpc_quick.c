/* mr_rpc_quick.c - the client side of batches of quick calls. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "mr_rpc_client_internal.h"
#include "mr_util.h"

#define UNDECODABLE_DETAIL "Retry later: undecodable RPC reply"

/* batch_limit returns how many batches may be in flight: the setting for
 * each connected peer, and at least one, so that the queue always
 * drains. The caller holds client->mtx. */
static int
batch_limit(mr_rpc_client *client)
{
    int depth = atomic_load(&client->batch_depth);
    int peers = atomic_load(&client->peers);

    return (depth > 0 ? depth : 1) * (peers > 0 ? peers : 1);
}

/* take_queue takes up to max of the oldest queued calls and returns
 * them, linked by member_next, with their count in *n. The caller holds
 * client->mtx. */
static pending *
take_queue(mr_rpc_client *client, int max, int *n)
{
    pending *first = client->queue;
    pending *last = NULL;

    *n = 0;
    while (client->queue != NULL && *n < max) {
        last = client->queue;
        client->queue = last->member_next;
        (*n)++;
    }
    if (last != NULL) {
        last->member_next = NULL;
    }
    if (client->queue == NULL) {
        client->queue_tail = NULL;
    }
    return first;
}

/* fail_now completes every call of list with err, on an nng thread. */
static void
fail_now(pending *list, mr_err err)
{
    while (list != NULL) {
        pending *next = list->member_next;

        list->state = PENDING_FAIL;
        list->err = err;
        mr_rpc__fail_later(list->aio, NNG_ENOMEM);
        list = next;
    }
}

/* pack_batch returns the message of a batch of the n calls in list. A
 * call alone goes in a batch too, so that the server declines it when it
 * would take long, and it does not hold up the queue behind it. */
static nng_msg *
pack_batch(pending *list, int n, uint32_t timeout_ms)
{
    nng_msg *parts[MR_RPC__BATCH_MAX];
    int i = 0;

    for (pending *p = list; p != NULL; p = p->member_next) {
        parts[i++] = p->msg;
    }
    return mr_rpc__pack_batch(NULL, timeout_ms, (uint64_t)mr_now_ms(), parts,
                              n);
}

/*
 * send_batch sends the n calls of list in one batch, which waits until the
 * earliest of their deadlines. Without memory it fails them, and every
 * call still queued, because no batch in flight may be left to send
 * those.
 */
static void
send_batch(mr_rpc_client *client, pending *list, int n)
{
    pending *b = mr_rpc__take_call(client);
    int64_t deadline = INT64_MAX;
    int64_t left;
    nng_msg *msg;
    int more;

    for (pending *p = list; p != NULL; p = p->member_next) {
        deadline = p->deadline < deadline ? p->deadline : deadline;
    }
    left = deadline - mr_mono_ms();
    left = left > 0 ? left : 1;

    if (b == NULL) {
        nng_mtx_lock(client->mtx);
        client->batches--;
        fail_now(take_queue(client, INT32_MAX, &more), MR_ENOMEM);
        nng_mtx_unlock(client->mtx);
        fail_now(list, MR_ENOMEM);
        return;
    }

    mr_rpc__init_call(b, client, (uint32_t)left, NULL, NULL, NULL);
    b->is_batch = true;
    b->members = list;
    msg = pack_batch(list, n, (uint32_t)left);
    if (msg == NULL) {
        b->state = PENDING_FAIL;
        b->err = MR_ENOMEM;
        mr_rpc__fail_later(b->aio, NNG_ENOMEM);
        return;
    }
    mr_rpc__start_send(client, b, msg, (uint32_t)left);
}

mr_err
mr_rpc_call_quick(mr_rpc_client *client, const char *method,
                  const ProtobufCMessage *request,
                  const ProtobufCMessageDescriptor *response_type,
                  const char *request_id, uint32_t timeout_ms,
                  mr_rpc_done done, void *arg)
{
    pending *p;
    pending *list = NULL;
    int n = 0;

    if (atomic_load(&client->batch_depth) == 0) {
        return mr_rpc_call_async(client, method, request, response_type,
                                 request_id, timeout_ms, done, arg);
    }

    p = mr_rpc__prepare_call(client, method, request, response_type,
                             request_id, timeout_ms, done, arg);
    if (p == NULL) {
        return MR_ENOMEM;
    }

    nng_mtx_lock(client->mtx);
    if (client->queue_tail != NULL) {
        client->queue_tail->member_next = p;
    } else {
        client->queue = p;
    }
    client->queue_tail = p;
    if (client->batches < batch_limit(client)) {
        list = take_queue(client, MR_RPC__BATCH_MAX, &n);
        client->batches++;
    }
    nng_mtx_unlock(client->mtx);

    if (list != NULL) {
        send_batch(client, list, n);
    }
    return MR_OK;
}

void
mr_rpc_client_set_batching(mr_rpc_client *client, int depth)
{
    atomic_store(&client->batch_depth, depth > 0 ? depth : 0);
}

/* resend sends p again alone, for the rest of its deadline. */
static void
resend(pending *p)
{
    nng_msg *msg = p->msg;
    int64_t left = p->deadline - mr_mono_ms();

    p->msg = NULL;
    mr_rpc__start_send(p->client, p, msg, left > 0 ? (uint32_t)left : 1);
}

/* finish_part completes p with its Reply in a BatchReply, or sends it
 * again alone when the server declined it. */
static void
finish_part(pending *p, mr_rpc__span part)
{
    mr_rpc__reply reply;
    const char *declined = mr_err_code(MR_EBATCH_DECLINED);

    if (part.len == 0) {
        mr_rpc__finish_error(p, MR_ENOMEM, NULL, 1);
        return;
    }
    if (!mr_rpc__unpack_reply(part.data, part.len, &reply)) {
        mr_rpc__finish_error(p, MR_EINTERNAL, UNDECODABLE_DETAIL, 1);
        return;
    }
    if (reply.error.len == strlen(declined) &&
        memcmp(reply.error.data, declined, reply.error.len) == 0) {
        resend(p);
        return;
    }
    mr_rpc__finish_reply(p, &reply);
}

/*
 * deliver completes the calls of list from reply, the bytes of the
 * batch's Reply. A server without batches returns
 * method_not_implemented, and each call is sent again alone.
 */
static void
deliver(pending *list, nng_msg *reply)
{
    const char *unknown = mr_err_code(MR_EUNIMPLEMENTED);
    mr_rpc__reply env;
    mr_rpc__span part;
    bool ok;
    bool old;

    ok = mr_rpc__unpack_reply(nng_msg_body(reply), nng_msg_len(reply), &env);
    old = ok && env.code != 0 && env.error.len == strlen(unknown) &&
          memcmp(env.error.data, unknown, env.error.len) == 0;
    while (list != NULL) {
        pending *next = list->member_next;

        if (!ok) {
            mr_rpc__finish_error(list, MR_EINTERNAL, UNDECODABLE_DETAIL, 1);
        } else if (old) {
            resend(list);
        } else if (env.code != 0) {
            mr_rpc__finish_reply(list, &env);
        } else if (mr_rpc__next_part(&env.body, &part) == 1) {
            finish_part(list, part);
        } else {
            mr_rpc__finish_error(list, MR_EINTERNAL, UNDECODABLE_DETAIL, 1);
        }
        list = next;
    }
}

/* fail_all completes every call of list with err and detail. */
static void
fail_all(pending *list, mr_err err, const char *detail)
{
    while (list != NULL) {
        pending *next = list->member_next;

        mr_rpc__finish_error(list, err, detail, 1);
        list = next;
    }
}

/*
 * requeue puts the calls of list whose deadline has not passed back at the
 * head of the queue, in order, and returns the others. A batch times out
 * at its earliest deadline, so each call fails at its own, and the rest
 * go again in the next batch.
 */
static pending *
requeue(mr_rpc_client *client, pending *list)
{
    int64_t now = mr_mono_ms();
    pending *expired = NULL;
    pending **expired_end = &expired;
    pending *live = NULL;
    pending **live_end = &live;
    pending *last_live = NULL;

    while (list != NULL) {
        pending *next = list->member_next;

        list->member_next = NULL;
        if (list->deadline <= now + 1) {
            *expired_end = list;
            expired_end = &list->member_next;
        } else {
            *live_end = list;
            live_end = &list->member_next;
            last_live = list;
        }
        list = next;
    }

    if (live != NULL) {
        nng_mtx_lock(client->mtx);
        last_live->member_next = client->queue;
        client->queue = live;
        if (client->queue_tail == NULL) {
            client->queue_tail = last_live;
        }
        nng_mtx_unlock(client->mtx);
    }
    return expired;
}

/* end_batch releases b and returns the next batch to send, if the queue
 * contains one, with its count in *n. */
static pending *
end_batch(pending *b, int *n)
{
    mr_rpc_client *client = b->client;
    pending *next = NULL;

    mr_rpc__release_call(b);
    nng_mtx_lock(client->mtx);
    client->batches--;
    *n = 0;
    if (client->queue != NULL && client->batches < batch_limit(client)) {
        next = take_queue(client, MR_RPC__BATCH_MAX, n);
        client->batches++;
    }
    nng_mtx_unlock(client->mtx);
    return next;
}

void
mr_rpc__batch_done(pending *b, int rv)
{
    mr_rpc_client *client = b->client;
    pending *members = b->members;
    mr_rpc__pending_state state = b->state;
    mr_err err = state == PENDING_FAIL ? b->err : mr_rpc__nng_error(rv);
    bool lost =
        state == PENDING_RECV && rv != NNG_ETIMEDOUT && rv != NNG_ECLOSED;
    nng_msg *reply = NULL;
    pending *next;
    int k;

    if (state == PENDING_RECV && rv == 0) {
        reply = nng_aio_get_msg(b->aio);
    } else if (state == PENDING_SEND) {
        nng_msg_free(nng_aio_get_msg(b->aio));
    }
    if (state != PENDING_FAIL && rv == NNG_ETIMEDOUT) {
        members = requeue(client, members);
    }

    /* The next batch goes out first, so that the pipe stays full while
     * this one's callers run. */
    next = end_batch(b, &k);
    if (next != NULL) {
        send_batch(client, next, k);
    }

    if (reply != NULL) {
        deliver(members, reply);
        nng_msg_free(reply);
    } else {
        fail_all(members, err, lost ? MR_RPC__PEER_LOST_DETAIL : NULL);
    }

    /* The batch's own count kept the client open until here. */
    atomic_fetch_sub(&client->pending, 1);
}
