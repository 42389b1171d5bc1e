/* reg_service.h - the registration service's shared state and RPC table. */
#ifndef REG_SERVICE_H
#define REG_SERVICE_H

#include <stdint.h>

#include "mr_rpc.h"
#include "reg_keycache.h"
#include "reg_seal.h"
#include "reg_store.h"
#include "reg_text.h"
#include "reg_url.h"

/* REG_DETAIL_MAX is the size of an error detail buffer, with its NUL. */
#define REG_DETAIL_MAX 512

typedef struct reg_providers reg_providers;
typedef struct reg_deletion_queue reg_deletion_queue;

/* reg_service is what every handler receives as its argument. */
typedef struct {
    reg_store *store;
    reg_seal seal;
    reg_url_rules url_rules;
    reg_providers *providers;
    reg_deletion_queue *deletions; /* see reg_deletions_start */
    reg_keycache *keys;            /* resolved API keys, or NULL */
} reg_service;

/*
 * reg_service_start starts the RPC server of service Registration on url
 * with contexts calls handled at once; service must outlive it. It returns
 * MR_EUNAVAILABLE, logged, when url cannot be used.
 */
mr_err reg_service_start(mr_rpc_server **out, reg_service *service,
                         const char *url, int contexts);

/*
 * reg_rpc_ok finishes call with response, which the caller still owns, and
 * logs the "reg.rpc" line with the time since started_ms (mr_mono_ms).
 */
void reg_rpc_ok(mr_rpc_call *call, int64_t started_ms,
                const ProtobufCMessage *response);

/*
 * reg_rpc_ok_read is reg_rpc_ok for a call that changed nothing, such as a
 * repeat RegisterOAuthProvider or a Get: its "reg.rpc" line is at debug,
 * because the gateway's access line records the request already.
 */
void reg_rpc_ok_read(mr_rpc_call *call, int64_t started_ms,
                     const ProtobufCMessage *response);

/*
 * reg_rpc_fail finishes call with err and logs the "reg.rpc" line. detail
 * replaces err's default detail unless it is NULL or empty; it must hold no
 * secret. retry_after is in seconds.
 */
void reg_rpc_fail(mr_rpc_call *call, int64_t started_ms, mr_err err,
                  const char *detail, uint32_t retry_after);

/*
 * reg_msg_copy returns a deep copy of msg, made by packing and unpacking,
 * that the caller frees with protobuf_c_message_free_unpacked(copy, NULL);
 * NULL when memory runs out.
 */
ProtobufCMessage *reg_msg_copy(const ProtobufCMessage *msg);

#endif
