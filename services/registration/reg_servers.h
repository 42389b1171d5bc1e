/* reg_servers.h - the MCP server records of a workspace and their RPCs. */
#ifndef REG_SERVERS_H
#define REG_SERVERS_H

#include <stdbool.h>
#include <stddef.h>

#include "mcpreg/v1/registration.pb-c.h"
#include "mcpreg/v1/store.pb-c.h"
#include "mr_rpc.h"
#include "mr_util.h"
#include "reg_service.h"

/* REG_HEADERS_MAX is the most headers an MCP server record may carry. */
#define REG_HEADERS_MAX 64

/* REG_HEADER_VALUE_MAX is the longest header value accepted, in bytes. */
#define REG_HEADER_VALUE_MAX 8192

/* reg_server_list is the outcome of reg_servers_list; servers point into
 * records. */
typedef struct {
    Mcpreg__V1__McpServerRecord **records;
    Mcpreg__V1__McpServer **servers;
    size_t n;
} reg_server_list;

/*
 * reg_servers_check validates server as it would be stored: name, URL (see
 * reg_url_check), headers, and the auth_type, oauth_mode and
 * oauth_provider_id combination. It sets an unspecified auth_type to
 * headers, and writes a non-empty oauth_provider_id in lower case into
 * provider_id and points server at it. It returns the project error with a
 * detail naming the field, such as MR_EMISSING_FIELD, MR_EINVALID_URL or
 * MR_EAUTH_CONFIG.
 */
mr_err reg_servers_check(const reg_service *service,
                         Mcpreg__V1__McpServer *server,
                         char provider_id[MR_UUID_LEN + 1], char *detail,
                         size_t detail_len);

/*
 * reg_servers_read reads server id of workspace ws; both are canonical
 * UUIDs. On MR_OK, *rec is NULL when there is no such server, else a record
 * the caller frees with mcpreg__v1__mcp_server_record__free_unpacked.
 */
mr_err reg_servers_read(reg_store *store, const char *ws, const char *id,
                        Mcpreg__V1__McpServerRecord **rec);

/*
 * reg_servers_create validates req and stores a new server with a new id in
 * workspace ws. On MR_OK the caller frees *out with
 * mcpreg__v1__mcp_server__free_unpacked. It returns MR_ENAME_CONFLICT when
 * the workspace has a server of that name, or a validation error with a
 * detail.
 */
mr_err reg_servers_create(reg_service *service, const char *ws,
                          const Mcpreg__V1__CreateMcpServerRequest *req,
                          Mcpreg__V1__McpServer **out, char *detail,
                          size_t detail_len);

/* reg_servers_list fills out with the servers of ws, sorted by creation
 * time, then id. The caller frees out with reg_server_list_free. */
mr_err reg_servers_list(reg_service *service, const char *ws,
                        reg_server_list *out);

/* reg_server_list_free frees what reg_servers_list put into list. */
void reg_server_list_free(reg_server_list *list);

/*
 * reg_servers_get reads server id of ws. It returns MR_EINVALID_ID when id
 * is not a UUID and MR_ESERVER_NOT_FOUND when ws has no such server. On
 * MR_OK the caller frees *rec.
 */
mr_err reg_servers_get(reg_service *service, const char *ws, const char *id,
                       Mcpreg__V1__McpServerRecord **rec);

/*
 * reg_servers_update applies the fields of req whose has_* flag is set,
 * validates the result and stores it. A change of url, auth_type or
 * oauth_mode deletes the server's provider mappings in the same batch. On
 * MR_OK the caller frees *out with mcpreg__v1__mcp_server__free_unpacked.
 */
mr_err reg_servers_update(reg_service *service, const char *ws,
                          const Mcpreg__V1__UpdateMcpServerRequest *req,
                          Mcpreg__V1__McpServer **out, char *detail,
                          size_t detail_len);

/*
 * reg_servers_delete deletes server id of ws, its name, every provider
 * mapping and every operator client of it in one batch. *deleted is false when
 * there was no such server. It returns MR_EINVALID_ID when id is not a UUID.
 */
mr_err reg_servers_delete(reg_service *service, const char *ws, const char *id,
                          bool *deleted);

/*
 * reg_servers_resolve_workspace resolves caller (see reg_keys_resolve) and
 * copies the workspace id of its key into ws.
 */
mr_err reg_servers_resolve_workspace(reg_store *store,
                                     const Mcpreg__V1__Caller *caller,
                                     char ws[MR_UUID_LEN + 1]);

/* reg_servers_handle_create handles CreateMcpServer; arg is the
 * reg_service. */
void reg_servers_handle_create(mr_rpc_call *call, void *arg);

/* reg_servers_handle_list handles ListMcpServers. */
void reg_servers_handle_list(mr_rpc_call *call, void *arg);

/* reg_servers_handle_get handles GetMcpServer. */
void reg_servers_handle_get(mr_rpc_call *call, void *arg);

/* reg_servers_handle_update handles UpdateMcpServer. */
void reg_servers_handle_update(mr_rpc_call *call, void *arg);

/* reg_servers_handle_delete handles DeleteMcpServer. */
void reg_servers_handle_delete(mr_rpc_call *call, void *arg);

#endif
