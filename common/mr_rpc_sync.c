/* mr_rpc_sync.c - a call that waits for its reply, on top of
 * mr_rpc_call_async. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "mr_rpc.h"

/* sync_wait is the rendezvous of mr_rpc_call_sync with its callback. */
typedef struct {
    nng_mtx *mtx;
    nng_cv *cv;
    bool done;
    mr_err err;
    char *detail;
    uint32_t retry_after;
    ProtobufCMessage *response;
} sync_wait;

static void
sync_done(void *arg, const mr_rpc_status *status, ProtobufCMessage *response)
{
    sync_wait *w = arg;

    nng_mtx_lock(w->mtx);
    w->err = status->err;
    w->detail = status->err != MR_OK ? strdup(status->detail) : NULL;
    w->retry_after = status->retry_after;
    w->response = response;
    w->done = true;
    nng_cv_wake(w->cv);
    nng_mtx_unlock(w->mtx);
}

mr_err
mr_rpc_call_sync(mr_rpc_client *client, const char *method,
                 const ProtobufCMessage *request,
                 const ProtobufCMessageDescriptor *response_type,
                 const char *request_id, uint32_t timeout_ms,
                 ProtobufCMessage **response, char **detail,
                 uint32_t *retry_after)
{
    sync_wait w = {0};
    mr_err err;

    *response = NULL;
    if (nng_mtx_alloc(&w.mtx) != 0 || nng_cv_alloc(&w.cv, w.mtx) != 0) {
        err = MR_ENOMEM;
        goto out;
    }
    err = mr_rpc_call_async(client, method, request, response_type, request_id,
                            timeout_ms, sync_done, &w);
    if (err != MR_OK) {
        goto out;
    }

    nng_mtx_lock(w.mtx);
    while (!w.done) {
        nng_cv_wait(w.cv);
    }
    nng_mtx_unlock(w.mtx);
    err = w.err;
    *response = w.response;

out:
    if (detail != NULL) {
        *detail = w.detail;
    } else {
        free(w.detail);
    }
    if (retry_after != NULL) {
        *retry_after = w.retry_after;
    }
    if (w.cv != NULL) {
        nng_cv_free(w.cv);
    }
    if (w.mtx != NULL) {
        nng_mtx_free(w.mtx);
    }
    return err;
}
