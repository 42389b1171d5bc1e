/* reg_store.h - the registration service's RocksDB store and its key layout.
 */
#ifndef REG_STORE_H
#define REG_STORE_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "mr_err.h"

/*
 * Key layout. Keys are '/'-joined text; values are records of
 * proto/mcpreg/v1/store.proto unless noted.
 *
 *   key/<sha256 hex of the API key>        ApiKeyRecord
 *   keyid/<key_id>                         sha256 hex of the key (text)
 *   wskey/<workspace_id>/<key_id>          empty, lists a workspace's keys
 *   srv/<workspace_id>/<server_id>         McpServerRecord
 *   srvname/<workspace_id>/<name>          server id (text), unique names
 *   prov/<workspace_id>/<server_id>/<user_id>   ProviderRecord
 *   provid/<oauth_provider_id>             the prov/ key (text)
 *   opclient/<workspace_id>/<server_id>/<issuer>   OperatorClientRecord
 *   clientdel/<workspace_id>/<deletion_id>  PendingDeletionRecord
 *
 * Every key of workspace data starts with its table and the workspace id,
 * so a sharded deployment can split workspaces by key range. Workspace,
 * server, key and provider ids are canonical UUIDs, which contain no '/'.
 * A user id, name or issuer may contain '/', so it is always the last
 * component. A deletion id is a random UUID.
 */
#define REG_T_KEY     "key"
#define REG_T_KEYID   "keyid"
#define REG_T_WSKEY   "wskey"
#define REG_T_SRV     "srv"
#define REG_T_SRVNAME "srvname"
#define REG_T_PROV    "prov"
#define REG_T_PROVID  "provid"

/* REG_T_OPCLIENT contains the clients that the operator registered by hand
 * (`mcpreg client add`), with the issuer in the form reg_clients stores. */
#define REG_T_OPCLIENT "opclient"

/* REG_T_CLIENTDEL contains the RFC 7592 client deletions that have not
 * succeeded yet (reg_deletions.h). */
#define REG_T_CLIENTDEL "clientdel"

/* REG_KEY_MAX is the size of the longest key, with its NUL. Callers bound
 * user ids and names well below it. */
#define REG_KEY_MAX 1024

/* reg_key is one store key as NUL-terminated text and its length. */
typedef struct {
    char text[REG_KEY_MAX];
    size_t len;
} reg_key;

/*
 * reg_key_build joins table and the components that follow, up to a NULL,
 * with '/' into key. An empty last component leaves a trailing '/', which
 * makes a scan prefix ("srv/<ws>/"). It returns MR_EINVALID_FIELD when the
 * key would not fit in REG_KEY_MAX.
 */
mr_err reg_key_build(reg_key *key, const char *table, ...)
    __attribute__((sentinel));

/* reg_key_set copies text (len bytes) into key; it returns
 * MR_EINVALID_FIELD when text is too long. */
mr_err reg_key_set(reg_key *key, const char *text, size_t len);

typedef struct reg_store reg_store;

/*
 * reg_store_open creates dir (and its parents) when missing and opens the
 * RocksDB database in it, with a bloom filter of 10 bits a key and LRU
 * caches of cache_mb MiB in all: three quarters for blocks, a quarter for
 * records by key. On failure it returns MR_EINTERNAL and writes a reason
 * naming dir and RocksDB's error into why.
 */
mr_err reg_store_open(reg_store **out, const char *dir, long cache_mb,
                      char *why, size_t whylen);

/* reg_store_close flushes the memtables, closes the database and frees
 * store. NULL is allowed. */
void reg_store_close(reg_store *store);

/*
 * reg_store_get reads key. On MR_OK, *value is NULL when the key is absent,
 * else a buffer of *len bytes that the caller frees with reg_store_free.
 * It returns MR_EINTERNAL, logged, when RocksDB fails.
 */
mr_err reg_store_get(reg_store *store, const reg_key *key, char **value,
                     size_t *len);

/* reg_store_free frees a value of reg_store_get; NULL is allowed. */
void reg_store_free(char *value);

/*
 * reg_store_get_msg reads key and decodes it as a message of type. On MR_OK,
 * *msg is NULL when the key is absent, else a message that the caller frees
 * with protobuf_c_message_free_unpacked(*msg, NULL). A value that does not
 * decode returns MR_EINTERNAL, logged.
 */
mr_err reg_store_get_msg(reg_store *store, const reg_key *key,
                         const ProtobufCMessageDescriptor *type,
                         ProtobufCMessage **msg);

/*
 * reg_store_get_msg_in is reg_store_get_msg with the message's memory from
 * allocator, such as an mr_arena's, with which the caller then frees it.
 */
mr_err reg_store_get_msg_in(reg_store *store, const reg_key *key,
                            const ProtobufCMessageDescriptor *type,
                            ProtobufCAllocator *allocator,
                            ProtobufCMessage **msg);

/*
 * reg_store_visit receives one key and value of a scan; both are valid
 * during the call only. It returns MR_OK to go on; any other value stops the
 * scan, which then returns that value.
 */
typedef mr_err (*reg_store_visit)(void *arg, const char *key, size_t keylen,
                                  const char *value, size_t len);

/* reg_store_scan calls visit for every key that starts with prefix, in key
 * order. It returns MR_EINTERNAL, logged, when RocksDB fails. */
mr_err reg_store_scan(reg_store *store, const reg_key *prefix,
                      reg_store_visit visit, void *arg);

/*
 * reg_store_lock serializes read-check-write sequences, such as "the name is
 * free, so write the server", against each other. Plain reads need no lock.
 * Hold it only around store calls, never while waiting for another service.
 */
void reg_store_lock(reg_store *store);

/*
 * reg_store_lock_shared takes the same lock shared: holders run at once,
 * and exclude every reg_store_lock holder. Take it only for a sequence
 * whose keys no other shared holder writes meanwhile, such as storing the
 * result of the single discovery job of one provider mapping. Concurrent
 * synced writes then share a WAL sync (RocksDB's group commit).
 */
void reg_store_lock_shared(reg_store *store);

/* reg_store_unlock releases the lock taken by either function. */
void reg_store_unlock(reg_store *store);

/* reg_batch collects the puts and deletes of one logical change. */
typedef struct reg_batch reg_batch;

/* reg_batch_new returns an empty batch, or NULL when memory runs out. */
reg_batch *reg_batch_new(void);

/* reg_batch_free frees batch; NULL is allowed. */
void reg_batch_free(reg_batch *batch);

/* reg_batch_put adds a put of len bytes of value; the batch copies them. */
void reg_batch_put(reg_batch *batch, const reg_key *key, const void *value,
                   size_t len);

/* reg_batch_put_msg adds a put of msg, packed. It returns MR_ENOMEM when
 * memory runs out. */
mr_err reg_batch_put_msg(reg_batch *batch, const reg_key *key,
                         const ProtobufCMessage *msg);

/* reg_batch_delete adds a delete of key. */
void reg_batch_delete(reg_batch *batch, const reg_key *key);

/*
 * reg_store_write applies batch atomically and syncs the write-ahead log
 * before it returns, so a change that was reported is on disk. It returns
 * MR_EINTERNAL, logged, when RocksDB fails; nothing is then applied.
 */
mr_err reg_store_write(reg_store *store, reg_batch *batch);

#endif
