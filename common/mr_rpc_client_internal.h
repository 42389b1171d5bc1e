/* mr_rpc_client_internal.h - the client's calls, shared with batches. */
#ifndef MR_RPC_CLIENT_INTERNAL_H
#define MR_RPC_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "mr_rpc.h"
#include "mr_rpc_internal.h"

#define MR_RPC__PEER_LOST_DETAIL                                              \
    "Retry later: the connection to the service closed before it replied"

struct mr_rpc_client {
    nng_socket sock;
    nng_mtx *mtx; /* guards the lists and closing */
    /* Starting a send or a receive takes start_lock for reading, and a
     * peer change takes it for writing. So the last peer leaves either
     * before a start, which then finds peers at 0 or the call cancelled,
     * or after it, and cancels what was started. Sends and receives start
     * outside mtx, which every call takes. */
    pthread_rwlock_t start_lock;
    atomic_int peers; /* written under start_lock and mtx */
    bool closing; /* mr_rpc_client_close started; under start_lock and mtx */
    mr_rpc_peer_watch watch; /* called on each peer change, or NULL */
    void *watch_arg;
    atomic_int pending;    /* calls whose done has not returned yet */
    struct pending *calls; /* calls not finished yet, guarded by mtx */
    struct pending *idle;  /* finished calls kept for reuse, by mtx */
    int nidle;
    mr_rpc__pipes pipes; /* ids of the counted peers, guarded by mtx */
    /* Quick calls waiting for a batch, oldest first, and the batches in
     * flight, both guarded by mtx. batch_depth is the setting. */
    struct pending *queue;
    struct pending *queue_tail;
    int batches;
    atomic_int batch_depth;
};

typedef enum {
    PENDING_SEND,
    PENDING_RECV,
    PENDING_FAIL, /* failed before sending; err is set */
} mr_rpc__pending_state;

/* pending is one call in flight, or one batch of quick calls. After done
 * returns, it goes to the client's idle list for reuse, or frees itself. */
typedef struct pending {
    struct pending *prev, *next; /* in client->calls */
    bool cancelled; /* the last peer left; written under start_lock and mtx */
    mr_rpc_client *client;
    nng_ctx ctx;
    bool ctx_open;
    nng_aio *aio;
    mr_rpc__pending_state state;
    mr_err err;
    int64_t deadline;
    const ProtobufCMessageDescriptor *response_type;
    mr_rpc_done done;
    void *arg;
    /* A quick call keeps its packed request until it finishes, to send
     * it again alone when the server declines it in a batch. */
    nng_msg *msg;
    struct pending *member_next; /* in the queue, or in its batch */
    /* A batch: its calls, oldest first. */
    bool is_batch;
    struct pending *members;
} pending;

/* mr_rpc__nng_error returns the project error for an nng failure of a
 * call. */
static inline mr_err
mr_rpc__nng_error(int rv)
{
    return rv == NNG_ETIMEDOUT ? MR_ETIMEDOUT : MR_EUNAVAILABLE;
}

/* mr_rpc__take_call returns a call with a context and an aio, counted
 * among the client's calls, or NULL without memory. */
pending *mr_rpc__take_call(mr_rpc_client *client);

/* mr_rpc__init_call sets what every call starts with. */
void mr_rpc__init_call(pending *p, mr_rpc_client *client, uint32_t timeout_ms,
                       const ProtobufCMessageDescriptor *response_type,
                       mr_rpc_done done, void *arg);

/* mr_rpc__pack_call returns the packed Request envelope of a call, owned
 * by the caller, or NULL without memory. */
nng_msg *mr_rpc__pack_call(const char *method, const ProtobufCMessage *request,
                           const char *request_id, uint32_t timeout_ms);

/* mr_rpc__prepare_call returns a call of method, initialised, with its
 * packed request in p->msg, or NULL without memory. */
pending *mr_rpc__prepare_call(mr_rpc_client *client, const char *method,
                              const ProtobufCMessage *request,
                              const ProtobufCMessageDescriptor *response_type,
                              const char *request_id, uint32_t timeout_ms,
                              mr_rpc_done done, void *arg);

/*
 * mr_rpc__start_send sends msg, which it takes, for p, or fails p from an
 * nng thread when no peer can take it. p may finish at any moment after,
 * so the caller does not touch it again.
 */
void mr_rpc__start_send(mr_rpc_client *client, pending *p, nng_msg *msg,
                        uint32_t timeout_ms);

/* mr_rpc__release_call takes p out of the client's calls and keeps it for
 * reuse or frees it. It does not lower client->pending. */
void mr_rpc__release_call(pending *p);

/* mr_rpc__finish_error completes p with err, and detail or err's default
 * detail when NULL. */
void mr_rpc__finish_error(pending *p, mr_err err, const char *detail,
                          uint32_t retry);

/* mr_rpc__finish_reply completes p with the decoded Reply envelope in
 * reply, whose bytes the caller keeps. */
void mr_rpc__finish_reply(pending *p, const mr_rpc__reply *reply);

/* mr_rpc__batch_done completes a batch, b, whose send or receive ended
 * with the nng result rv, and each of its calls. */
void mr_rpc__batch_done(pending *b, int rv);

#endif
