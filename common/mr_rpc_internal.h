/* mr_rpc_internal.h - what the RPC client and server share, and no one
 * else. */
#ifndef MR_RPC_INTERNAL_H
#define MR_RPC_INTERNAL_H

#include <stdbool.h>

#include <nng/nng.h>

/* MR_RPC__CLOSE_WAIT_MS bounds how long closing a socket may take. */
#define MR_RPC__CLOSE_WAIT_MS 3000

/*
 * mr_rpc__close closes sock and returns true, or returns false when the
 * close has not finished after timeout_ms. nng 1.5.2 can wait forever in
 * nng_close (seen after a peer left while its requests were still being
 * replied to), so the close runs on a thread of its own, which is left
 * behind on a timeout. The caller must then leave everything the socket's
 * callbacks use allocated, since they may still run.
 */
bool mr_rpc__close(nng_socket sock, int timeout_ms);

#endif
