/* mr_rpc_internal.h - what the RPC client and server share, and no one
 * else. */
#ifndef MR_RPC_INTERNAL_H
#define MR_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>

#include "mr_rpc.h"

/* MR_RPC__CLOSE_WAIT_MS bounds how long closing a socket may take. */
#define MR_RPC__CLOSE_WAIT_MS 3000

/*
 * mr_rpc__close closes sock and returns true, or returns false when the
 * close has not finished after timeout_ms. nng 1.5.2 can wait forever in
 * nng_close (seen after a peer left while its requests were still being
 * replied to), so the close runs on a thread of its own, which is left
 * behind on a timeout. The caller must then leave everything the socket's
 * callbacks use allocated, since they may still run. After one close has
 * timed out, later ones wait at most 100 ms.
 */
bool mr_rpc__close(nng_socket sock, int timeout_ms);

/*
 * mr_rpc__fail_later completes aio with the nng error rv, and its callback
 * then runs on an nng thread, never inside the caller's locks. It is not
 * nng_sleep_aio(0, aio): in nng 1.5.2 an aio that has slept once keeps a
 * flag that makes every later deadline on it expire without an error.
 */
static inline void
mr_rpc__fail_later(nng_aio *aio, int rv)
{
    if (nng_aio_begin(aio)) {
        nng_aio_finish(aio, rv);
    }
}

/* mr_rpc__pipes is a set of connection (nng pipe) ids, which its user
 * locks. A zeroed set is empty. */
typedef struct {
    uint32_t *ids;
    int n;
    int cap;
} mr_rpc__pipes;

/* mr_rpc__pipes_add adds id to set and returns true, or returns false
 * without memory. */
bool mr_rpc__pipes_add(mr_rpc__pipes *set, uint32_t id);

/* mr_rpc__pipes_remove removes id from set and returns whether it was
 * there. */
bool mr_rpc__pipes_remove(mr_rpc__pipes *set, uint32_t id);

/* mr_rpc__pipes_has returns whether id is in set. */
bool mr_rpc__pipes_has(const mr_rpc__pipes *set, uint32_t id);

/* mr_rpc__pipes_free frees the set's memory and empties it. */
void mr_rpc__pipes_free(mr_rpc__pipes *set);

/* mr_rpc__peer_address writes the remote address of pipe into buf, as
 * mr_rpc_peer_watch describes it. */
void mr_rpc__peer_address(nng_pipe pipe, char buf[MR_RPC_PEER_ADDR_MAX]);

/* The numbers of the body fields of Request and Reply in rpc.proto. */
#define MR_RPC__REQUEST_BODY_FIELD 4
#define MR_RPC__REPLY_BODY_FIELD   2

/* mr_rpc__span is a run of bytes inside a packed message. Its strings are
 * not NUL-terminated, and a decoded span's data is never NULL. */
typedef struct {
    const uint8_t *data;
    size_t len;
} mr_rpc__span;

/* mr_rpc__request is a decoded Request envelope of rpc.proto. Its spans
 * point into the bytes it was decoded from. */
typedef struct {
    mr_rpc__span method;
    mr_rpc__span request_id;
    uint32_t timeout_ms;
    mr_rpc__span body;
    uint64_t sent_unix_ms;
} mr_rpc__request;

/* mr_rpc__reply is a decoded Reply envelope with its Status. Its code is
 * 0 (OK) when the reply has no Status, and its spans point into the bytes
 * it was decoded from. */
typedef struct {
    int32_t code;
    mr_rpc__span error;
    mr_rpc__span detail;
    uint32_t retry_after;
    mr_rpc__span body;
} mr_rpc__reply;

/* mr_rpc__status is the Status of a reply to pack. Its error and detail
 * are never NULL. */
typedef struct {
    int32_t code;
    const char *error;
    const char *detail;
    uint32_t retry_after;
} mr_rpc__status;

/*
 * mr_rpc__pack_request returns a new message with the Request envelope of
 * method, request_id (NULL for none), timeout_ms and sent_unix_ms, and
 * body, body_len bytes once packed, in its body field. The bytes are those
 * libprotobuf-c gives the same envelope, made without packing body twice or
 * walking descriptors, except that an empty body is written as an empty field,
 * which libprotobuf-c leaves out: both decode the same. It returns NULL
 * without memory; the caller owns the message.
 */
nng_msg *mr_rpc__pack_request(const char *method, const char *request_id,
                              uint32_t timeout_ms, uint64_t sent_unix_ms,
                              const ProtobufCMessage *body, size_t body_len);

/*
 * mr_rpc__pack_reply returns a new message with the Reply envelope of
 * status and, unless body is NULL, body, body_len bytes once packed. Its
 * bytes, their one exception and its NULL are those of
 * mr_rpc__pack_request; the caller owns the message.
 */
nng_msg *mr_rpc__pack_reply(const mr_rpc__status *status,
                            const ProtobufCMessage *body, size_t body_len);

/*
 * mr_rpc__unpack_request decodes the len bytes at data into *out and
 * returns true, or returns false when they are not a Request envelope.
 * It accepts and rejects the same input as libprotobuf-c 1.4.
 */
bool mr_rpc__unpack_request(const uint8_t *data, size_t len,
                            mr_rpc__request *out);

/* mr_rpc__unpack_reply decodes a Reply envelope as mr_rpc__unpack_request
 * decodes a Request. */
bool mr_rpc__unpack_reply(const uint8_t *data, size_t len, mr_rpc__reply *out);

/* MR_RPC__BATCH_METHOD is the method of a call that carries a Batch of
 * rpc.proto, and MR_RPC__BATCH_MAX the most calls in one. */
#define MR_RPC__BATCH_METHOD "/mcpreg.v1.Rpc/Batch"
#define MR_RPC__BATCH_MAX    64

/*
 * mr_rpc__pack_batch returns a new message with the Request envelope of a
 * call to MR_RPC__BATCH_METHOD, whose body is a Batch of the n packed
 * Request envelopes in parts, which the caller keeps. request_id,
 * timeout_ms and sent_unix_ms are as in mr_rpc__pack_request. It returns
 * NULL without memory; the caller owns the message.
 */
nng_msg *mr_rpc__pack_batch(const char *request_id, uint32_t timeout_ms,
                            uint64_t sent_unix_ms, nng_msg *const *parts,
                            int n);

/*
 * mr_rpc__pack_batch_reply returns a new message with an OK Reply envelope
 * whose body is a BatchReply of the n packed Reply envelopes in parts,
 * which the caller keeps. A NULL part becomes an empty Reply. It returns
 * NULL without memory; the caller owns the message.
 */
nng_msg *mr_rpc__pack_batch_reply(nng_msg *const *parts, int n);

/*
 * mr_rpc__next_part reads the next repeated message of a Batch or
 * BatchReply body from *rest into *part and moves *rest past it. It
 * returns 1, or 0 when *rest is empty, or -1 when the bytes are not such
 * a body. Fields other than the repeated one are skipped.
 */
int mr_rpc__next_part(mr_rpc__span *rest, mr_rpc__span *part);

#endif
