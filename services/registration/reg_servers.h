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

/* reg_sealed_server is an MCP server record ready to be stored: server
 * without its headers, and sealed, which contains them encrypted. */
typedef struct {
    Mcpreg__V1__McpServerRecord rec;
    Mcpreg__V1__McpServer server;
    Mcpreg__V1__Sealed sealed;
} reg_sealed_server;

/*
 * reg_servers_seal fills out with the record to store for server: a copy of
 * server without headers, whose strings still point into server, and the
 * headers, names and values, sealed under seal with the record's store key
 * as associated data. A server without headers gets no sealed_headers. The
 * caller frees out with reg_sealed_server_clear before server goes away. It
 * returns MR_ENOMEM when memory runs out.
 */
mr_err reg_servers_seal(const reg_seal *seal,
                        const Mcpreg__V1__McpServer *server,
                        reg_sealed_server *out);

/* reg_sealed_server_clear frees what reg_servers_seal allocated in s. */
void reg_sealed_server_clear(reg_sealed_server *s);

/*
 * reg_servers_open_headers decrypts the sealed headers of rec in place. On
 * MR_OK rec->server->headers contains the plaintext headers and
 * rec->sealed_headers is NULL, so rec must never be stored as it is. A
 * record without sealed headers is left unchanged. It returns MR_EINTERNAL,
 * logged with the server and key ids, when the headers do not decrypt under
 * seal (another key, or an altered record), with a detail that tells the
 * caller to send them again; or when they do not decode. detail may be
 * NULL when detail_len is 0.
 */
mr_err reg_servers_open_headers(const reg_seal *seal,
                                Mcpreg__V1__McpServerRecord *rec, char *detail,
                                size_t detail_len);

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
 * the caller frees with mcpreg__v1__mcp_server_record__free_unpacked. Its
 * headers stay sealed: call reg_servers_open_headers before using them,
 * for example before sending them to a discovery worker.
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

/* reg_servers_list fills out with the servers of ws, headers opened,
 * sorted by creation time, then id. The caller frees out with
 * reg_server_list_free. It returns MR_EINTERNAL when a record does not
 * decode or its headers do not open (see reg_servers_open_headers). */
mr_err reg_servers_list(reg_service *service, const char *ws,
                        reg_server_list *out, char *detail, size_t detail_len);

/* reg_server_list_free frees what reg_servers_list put into list. */
void reg_server_list_free(reg_server_list *list);

/*
 * reg_servers_get reads server id of ws and opens its headers. It returns
 * MR_EINVALID_ID when id is not a UUID, MR_ESERVER_NOT_FOUND when ws has no
 * such server, and MR_EINTERNAL when the headers do not open (see
 * reg_servers_open_headers). On MR_OK the caller frees *rec.
 */
mr_err reg_servers_get(reg_service *service, const char *ws, const char *id,
                       Mcpreg__V1__McpServerRecord **rec, char *detail,
                       size_t detail_len);

/*
 * reg_servers_update applies the fields of req whose has_* flag is set,
 * validates the result and stores it. A change of url, auth_type or
 * oauth_mode deletes the server's provider mappings in the same batch. The
 * headers are sealed again. Stored headers that do not open make it return
 * MR_EINTERNAL unless req replaces them. On MR_OK the caller frees *out
 * with mcpreg__v1__mcp_server__free_unpacked.
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
 * reg_servers_resolve_workspace resolves caller through keys (see
 * reg_keys_resolve) and copies the workspace id of its key into ws.
 */
mr_err reg_servers_resolve_workspace(reg_store *store, reg_keycache *keys,
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
