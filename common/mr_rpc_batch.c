/* mr_rpc_batch.c - the server side of batches: many calls, one reply. */
#include <stdlib.h>
#include <string.h>

#include "mr_log.h"
#include "mr_rpc_server_internal.h"

/* mr_rpc__batch is the state of one batch, kept by its carrier's context
 * for the next one. */
struct mr_rpc__batch {
    mr_rpc_call *carrier;
    int n;
    /* Its calls still running, plus one held while they are started. */
    atomic_int left;
    nng_msg *replies[MR_RPC__BATCH_MAX];
    mr_rpc_call *spare; /* a finished call of the batch, for reuse */
};

/* count_parts returns how many calls body contains, or -1 when it is not a
 * Batch of at most MR_RPC__BATCH_MAX calls. */
static int
count_parts(mr_rpc__span body)
{
    mr_rpc__span part;
    int n = 0;

    for (;;) {
        int rv = mr_rpc__next_part(&body, &part);

        if (rv != 1) {
            return rv == 0 ? n : -1;
        }
        if (++n > MR_RPC__BATCH_MAX) {
            return -1;
        }
    }
}

/* take_part returns a call to run the slot'th part of batch in, or NULL
 * without memory. */
static mr_rpc_call *
take_part(mr_rpc__batch *batch, int slot)
{
    mr_rpc_call *carrier = batch->carrier;
    mr_rpc_call *part = batch->spare;

    if (part == NULL) {
        part = calloc(1, sizeof(*part));
        if (part == NULL) {
            return NULL;
        }
        mr_arena_init(&part->arena, part->arena_buf, sizeof(part->arena_buf));
    }
    batch->spare = NULL;

    part->server = carrier->server;
    part->state = CALL_BUSY;
    part->pipe_id = carrier->pipe_id;
    part->batch = batch;
    part->slot = slot;
    part->part = PART_RUNNING;
    return part;
}

/* declined returns the packed reply of a declined call, or NULL without
 * memory. */
static nng_msg *
declined(void)
{
    mr_rpc__status status = {(int32_t)mr_err_class(MR_EBATCH_DECLINED),
                             mr_err_code(MR_EBATCH_DECLINED), "", 0};

    return mr_rpc__pack_reply(&status, NULL, 0);
}

/* fit declines the replies that would take the batch's reply over
 * MR_RPC_REPLY_MAX, which the client would reject, so that their calls
 * are sent again alone. */
static void
fit(mr_rpc__batch *batch)
{
    size_t total = 0;

    for (int i = 0; i < batch->n; i++) {
        nng_msg *reply = batch->replies[i];

        if (reply != NULL && total + nng_msg_len(reply) > MR_RPC_REPLY_MAX) {
            nng_msg_free(reply);
            reply = declined();
            batch->replies[i] = reply;
        }
        total += reply != NULL ? nng_msg_len(reply) : 0;
    }
}

/* send_batch sends the replies of batch in one, on its carrier. */
static void
send_batch(mr_rpc__batch *batch)
{
    nng_msg *msg;

    fit(batch);
    msg = mr_rpc__pack_batch_reply(batch->replies, batch->n);

    for (int i = 0; i < batch->n; i++) {
        nng_msg_free(batch->replies[i]);
        batch->replies[i] = NULL;
    }
    mr_rpc__send_reply(batch->carrier, msg);
}

/* release drops one hold on batch, and sends its replies with the last. */
static void
release(mr_rpc__batch *batch)
{
    if (atomic_fetch_sub(&batch->left, 1) == 1) {
        send_batch(batch);
    }
}

/* run_part runs the call in bytes as the slot'th of batch. A call that its
 * handler finished before returning is kept for the next part. One that
 * its handler still owns frees itself when finished. */
static void
run_part(mr_rpc__batch *batch, int slot, mr_rpc__span bytes)
{
    mr_rpc_call *part = take_part(batch, slot);
    mr_rpc__part_state running = PART_RUNNING;

    if (part == NULL) {
        MR_ERROR("rpc.batch.nomem", batch->carrier->request_id,
                 "%s: no memory for call %d of a batch",
                 batch->carrier->server->cfg.name, slot);
        batch->replies[slot] = NULL;
        release(batch);
        return;
    }

    mr_rpc__run_request(part, bytes.data, bytes.len, NULL);
    if (!atomic_compare_exchange_strong(&part->part, &running,
                                        PART_DETACHED)) {
        batch->spare = part;
    }
}

void
mr_rpc__batch_run(mr_rpc_call *carrier, mr_rpc__span body, nng_msg *msg)
{
    mr_rpc__batch *batch = carrier->own_batch;
    mr_rpc__span part;
    int n = count_parts(body);

    if (n < 0) {
        nng_msg_free(msg);
        MR_WARN("rpc.batch.invalid", carrier->request_id,
                "%s: invalid batch: not a Batch of at most %d calls",
                carrier->server->cfg.name, MR_RPC__BATCH_MAX);
        mr_rpc_fail(carrier, MR_EINVALID_BODY,
                    "Send a valid Batch of at most 64 calls", 0);
        return;
    }
    if (batch == NULL) {
        batch = calloc(1, sizeof(*batch));
        carrier->own_batch = batch;
    }
    if (batch == NULL) {
        nng_msg_free(msg);
        MR_ERROR("rpc.batch.nomem", carrier->request_id,
                 "%s: no memory for a batch", carrier->server->cfg.name);
        mr_rpc_fail(carrier, MR_ENOMEM, NULL, 1);
        return;
    }

    batch->carrier = carrier;
    batch->n = n;
    atomic_store(&batch->left, n + 1);
    for (int slot = 0; mr_rpc__next_part(&body, &part) == 1; slot++) {
        run_part(batch, slot, part);
    }

    /* The parts' requests are decoded, so their bytes can go. */
    nng_msg_free(msg);
    release(batch);
}

void
mr_rpc__batch_finish(mr_rpc_call *part, nng_msg *msg)
{
    mr_rpc__batch *batch = part->batch;
    mr_rpc__part_state running = PART_RUNNING;

    batch->replies[part->slot] = msg;
    if (part->request != NULL) {
        protobuf_c_message_free_unpacked(part->request,
                                         &part->arena.allocator);
        part->request = NULL;
    }
    mr_arena_reset(&part->arena);

    /* Once marked done, the batch may reuse part at once. */
    if (!atomic_compare_exchange_strong(&part->part, &running, PART_DONE)) {
        free(part);
    }
    release(batch);
}

void
mr_rpc__batch_free(mr_rpc_call *call)
{
    if (call->own_batch != NULL) {
        free(call->own_batch->spare);
        free(call->own_batch);
        call->own_batch = NULL;
    }
}

bool
mr_rpc_batched(const mr_rpc_call *call)
{
    return call->batch != NULL;
}

void
mr_rpc_decline(mr_rpc_call *call)
{
    mr_rpc_fail(call, MR_EBATCH_DECLINED, NULL, 0);
}
