/* reg_clients.h - clients that the operator registered by hand at an
 * authorization server for one MCP server (`mcpreg client add`), which
 * discovery jobs use instead of registering a client there. */
#ifndef REG_CLIENTS_H
#define REG_CLIENTS_H

#include <stddef.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_rpc.h"
#include "reg_service.h"
#include "reg_store.h"

/* REG_CLIENTS_MAX is the most operator clients one MCP server may have,
 * one per authorization server it may name. */
#define REG_CLIENTS_MAX 8

/* reg_job_clients contains the operator clients of one MCP server, with
 * their secrets in clear text, ready to be sent in a DiscoveryJob. */
typedef struct {
    Mcpreg__V1__OperatorClient *items[REG_CLIENTS_MAX];
    size_t count;
} reg_job_clients;

/*
 * reg_clients_issuer_canonical checks issuer and writes the form that is
 * stored into out. The issuer must be an absolute https URL (http only for
 * a host on rules, as for MCP server URLs; see reg_url_check) without
 * query or fragment. Discovery compares issuers as strings and accepts
 * only a trailing "/" on an empty path as a difference, so the canonical
 * form drops that "/" and writes the scheme and host in lower case:
 * "HTTPS://AS.example/" becomes "https://as.example".
 * It returns MR_EMISSING_FIELD or MR_EINVALID_FIELD with a detail.
 */
mr_err reg_clients_issuer_canonical(const reg_url_rules *rules,
                                    const char *issuer,
                                    char out[REG_URL_MAX + 1], char *detail,
                                    size_t detail_len);

/*
 * reg_clients_issuer_keys builds the opclient/ key of issuer, a canonical
 * issuer, for server id of ws into key. When the issuer has no path, it
 * also builds into slash_key the key of the same issuer with a trailing
 * "/", which records written before issuers were normalised may use;
 * otherwise slash_key->len is 0. It returns MR_EINVALID_FIELD when a key
 * does not fit in REG_KEY_MAX.
 */
mr_err reg_clients_issuer_keys(const char *ws, const char *id,
                               const char *issuer, reg_key *key,
                               reg_key *slash_key);

/*
 * reg_clients_handle_add handles AddOperatorClient; arg is the
 * reg_service. It requires a server of the workspace that uses per-user
 * OAuth, an issuer that reg_clients_issuer_canonical accepts, an auth
 * method that agrees with the secret, and fewer than REG_CLIENTS_MAX
 * clients for other issuers. It then stores the client under the
 * canonical issuer, with its secret sealed, and deletes a record of the
 * same issuer with a trailing "/" written before issuers were normalised.
 */
void reg_clients_handle_add(mr_rpc_call *call, void *arg);

/*
 * reg_clients_handle_list handles ListOperatorClients; arg is the
 * reg_service. It returns the clients of the workspace, or of one server
 * of it, ordered by server id and issuer, and tells only whether each
 * has a secret. A server id that names no server of the workspace is
 * MR_ESERVER_NOT_FOUND.
 */
void reg_clients_handle_list(mr_rpc_call *call, void *arg);

/*
 * reg_clients_handle_remove handles RemoveOperatorClient; arg is the
 * reg_service. It deletes the records of the issuer with and without a
 * trailing "/" on an empty path, and answers removed = false when there
 * were none. The server need not exist any more, so that records left by
 * a server deleted before operator clients went with it can be removed.
 */
void reg_clients_handle_remove(mr_rpc_call *call, void *arg);

/*
 * reg_clients_add_deletes adds to batch the deletes of every operator
 * client record of server_id in ws, sealed secrets included, so that they
 * go in the batch that deletes the server. It returns MR_EINTERNAL, logged,
 * when the store fails.
 */
mr_err reg_clients_add_deletes(reg_store *store, reg_batch *batch,
                               const char *ws, const char *server_id);

/*
 * reg_clients_load reads the operator clients of server_id in ws into
 * *out and unseals their secrets. It returns MR_EINTERNAL, logged, when
 * the store fails or a secret cannot be unsealed, or MR_ENOMEM. Free *out
 * with reg_clients_free, which wipes the secrets, also after a failure.
 */
mr_err reg_clients_load(reg_service *service, const char *ws,
                        const char *server_id, reg_job_clients *out);

/* reg_clients_free wipes and frees the clients of list and empties it. */
void reg_clients_free(reg_job_clients *list);

#endif
