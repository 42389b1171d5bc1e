/* reg_clients.h - clients that the operator registered by hand at an
 * authorization server for one MCP server (`mcpreg client add`), which
 * discovery jobs use instead of registering a client there. */
#ifndef REG_CLIENTS_H
#define REG_CLIENTS_H

#include <stddef.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_rpc.h"
#include "reg_service.h"

/* REG_T_OPCLIENT is the table of operator clients, keyed
 * opclient/<workspace_id>/<server_id>/<issuer>; the issuer contains '/'
 * and is therefore the last component. */
#define REG_T_OPCLIENT "opclient"

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
 * reg_clients_handle_add handles AddOperatorClient; arg is the
 * reg_service. It requires a server of the workspace that uses per-user
 * OAuth, an issuer that reg_url_check accepts and that has no query or
 * fragment, and an auth method that agrees with the secret. It then
 * stores the client with its secret sealed.
 */
void reg_clients_handle_add(mr_rpc_call *call, void *arg);

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
