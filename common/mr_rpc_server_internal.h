/* mr_rpc_server_internal.h - the server's calls, shared with batches. */
#ifndef MR_RPC_SERVER_INTERNAL_H
#define MR_RPC_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "mr_arena.h"
#include "mr_rpc.h"
#include "mr_rpc_internal.h"

/* MR_RPC__CALL_ARENA_BYTES is room for a small decoded request while its
 * call lasts. Larger ones take the rest from malloc. */
#define MR_RPC__CALL_ARENA_BYTES 768

typedef enum {
    CALL_RECV, /* waiting for a request */
    CALL_BUSY, /* the handler owns the call */
    CALL_SEND, /* the reply is being sent */
    CALL_IDLE, /* stopped */
} mr_rpc__call_state;

/* The states of a call that came in a batch. */
typedef enum {
    PART_RUNNING,  /* its handler has not finished it yet */
    PART_DONE,     /* finished, so the batch may reuse it */
    PART_DETACHED, /* its handler returned first, and finishing frees it */
} mr_rpc__part_state;

typedef struct mr_rpc__batch mr_rpc__batch;

/* mr_rpc_call is one context of the server, which handles one call at a
 * time and is reused for the next, or one call of a batch. */
struct mr_rpc_call {
    mr_rpc_server *server;
    nng_ctx ctx;
    nng_aio *aio;
    _Atomic mr_rpc__call_state state;
    const mr_rpc_method *method;
    ProtobufCMessage *request; /* decoded with arena */
    mr_arena arena;
    _Alignas(MR_ARENA_ALIGN) unsigned char arena_buf[MR_RPC__CALL_ARENA_BYTES];
    int64_t deadline;
    uint32_t pipe_id; /* the connection that brought the request */
    char request_id[MR_RPC_ID_MAX + 1];
    char method_name[128];
    /* For a call in a batch: the batch, its place in it, and its state.
     * A context keeps the batch of its last one in own_batch. */
    mr_rpc__batch *batch;
    int slot;
    _Atomic mr_rpc__part_state part;
    mr_rpc__batch *own_batch;
};

struct mr_rpc_server {
    nng_socket sock;
    mr_rpc_server_config cfg;
    mr_rpc_call *calls;
    int ncalls;
    nng_mtx *mtx;
    nng_cv *cv;
    /* The hot path touches only these atomics; mtx and cv serve the
     * drain at shutdown, which waits for active to reach 0. */
    atomic_int active; /* calls in CALL_BUSY or CALL_SEND */
    atomic_bool stopping;
    /* Replies hold it for reading around nng_ctx_send, and closing the
     * socket for writing, because nng 1.5 can crash when a context sends
     * while its socket closes in another thread. */
    pthread_rwlock_t close_lock;
    bool closed;
    /* The ids of the open connections, for mr_rpc_caller_connected. */
    pthread_mutex_t pipes_lock;
    mr_rpc__pipes pipes;
};

/*
 * mr_rpc__run_request decodes the Request envelope in the len bytes at
 * data and runs its handler, or fails call when it cannot be handled.
 * msg, which contains the bytes, is freed once they are decoded. It is
 * NULL when the caller frees them.
 */
void mr_rpc__run_request(mr_rpc_call *call, const uint8_t *data, size_t len,
                         nng_msg *msg);

/*
 * mr_rpc__send_reply sends msg, the packed Reply of call, on its context,
 * or hands it to the call's batch. NULL means no memory was left for it.
 */
void mr_rpc__send_reply(mr_rpc_call *call, nng_msg *msg);

/*
 * mr_rpc__batch_run runs the calls of the Batch in body, which msg contains
 * and which is freed here, with call as their carrier. Once all of them
 * have finished, their replies go out in one on call's context.
 */
void mr_rpc__batch_run(mr_rpc_call *call, mr_rpc__span body, nng_msg *msg);

/*
 * mr_rpc__batch_finish records msg as the reply of part, a call of a
 * batch, and sends the batch's reply when it was the last one.
 */
void mr_rpc__batch_finish(mr_rpc_call *part, nng_msg *msg);

/* mr_rpc__batch_free frees what call keeps for batches. */
void mr_rpc__batch_free(mr_rpc_call *call);

#endif
