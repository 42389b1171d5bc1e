/* mr_rpc_internal.h - what the RPC client and server share, and no one
 * else. */
#ifndef MR_RPC_INTERNAL_H
#define MR_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>

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

/* The numbers of the body fields of Request and Reply in rpc.proto. */
#define MR_RPC__REQUEST_BODY_FIELD 4
#define MR_RPC__REPLY_BODY_FIELD   2

/*
 * mr_rpc__pack returns a new message with envelope followed by body,
 * body_len bytes once packed, as the bytes field body_field of envelope,
 * whose own copy of that field must be empty. That is the encoding of the
 * envelope with body in the field, made without packing body twice. It
 * returns NULL without memory; the caller owns the message.
 */
nng_msg *mr_rpc__pack(const ProtobufCMessage *envelope, uint32_t body_field,
                      const ProtobufCMessage *body, size_t body_len);

#endif
