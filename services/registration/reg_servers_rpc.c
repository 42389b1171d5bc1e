/* reg_servers_rpc.c - the RPC handlers of the MCP server records. Each
 * resolves the caller's workspace first and reads only keys of that
 * workspace. */
#include "mr_log.h"
#include "reg_servers.h"

void
reg_servers_handle_create(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__CreateMcpServerRequest *req =
        (const Mcpreg__V1__CreateMcpServerRequest *)mr_rpc_request(call);
    int64_t started = mr_mono_ms();
    char ws[MR_UUID_LEN + 1];
    char detail[REG_DETAIL_MAX] = "";
    Mcpreg__V1__McpServer *server = NULL;
    mr_err err;

    err = reg_servers_resolve_workspace(service->store, service->keys,
                                        req->caller, ws);
    if (err == MR_OK) {
        err = reg_servers_create(service, ws, req, &server, detail,
                                 sizeof(detail));
    }
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }

    MR_INFO("reg.server.created", mr_rpc_request_id(call),
            "created MCP server %s in workspace %s", server->id, ws);
    reg_rpc_ok(call, started, &server->base);
    mcpreg__v1__mcp_server__free_unpacked(server, NULL);
}

void
reg_servers_handle_list(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__ListMcpServersRequest *req =
        (const Mcpreg__V1__ListMcpServersRequest *)mr_rpc_request(call);
    Mcpreg__V1__ListMcpServersResponse resp =
        MCPREG__V1__LIST_MCP_SERVERS_RESPONSE__INIT;
    int64_t started = mr_mono_ms();
    char ws[MR_UUID_LEN + 1];
    char detail[REG_DETAIL_MAX] = "";
    reg_server_list list = {0};
    mr_err err;

    err = reg_servers_resolve_workspace(service->store, service->keys,
                                        req->caller, ws);
    if (err == MR_OK) {
        err = reg_servers_list(service, ws, &list, detail, sizeof(detail));
    }
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }

    resp.n_servers = list.n;
    resp.servers = list.servers;
    reg_rpc_ok_read(call, started, &resp.base);
    reg_server_list_free(&list);
}

void
reg_servers_handle_get(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__GetMcpServerRequest *req =
        (const Mcpreg__V1__GetMcpServerRequest *)mr_rpc_request(call);
    int64_t started = mr_mono_ms();
    char ws[MR_UUID_LEN + 1];
    char detail[REG_DETAIL_MAX] = "";
    Mcpreg__V1__McpServerRecord *rec = NULL;
    mr_err err;

    err = reg_servers_resolve_workspace(service->store, service->keys,
                                        req->caller, ws);
    if (err == MR_OK) {
        err = reg_servers_get(service, ws, req->id, &rec, detail,
                              sizeof(detail));
    }
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }

    reg_rpc_ok_read(call, started, &rec->server->base);
    mcpreg__v1__mcp_server_record__free_unpacked(rec, NULL);
}

void
reg_servers_handle_update(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__UpdateMcpServerRequest *req =
        (const Mcpreg__V1__UpdateMcpServerRequest *)mr_rpc_request(call);
    int64_t started = mr_mono_ms();
    char ws[MR_UUID_LEN + 1];
    char detail[REG_DETAIL_MAX] = "";
    Mcpreg__V1__McpServer *server = NULL;
    mr_err err;

    err = reg_servers_resolve_workspace(service->store, service->keys,
                                        req->caller, ws);
    if (err == MR_OK) {
        err = reg_servers_update(service, ws, req, &server, detail,
                                 sizeof(detail));
    }
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, detail, 0);
        return;
    }

    reg_rpc_ok(call, started, &server->base);
    mcpreg__v1__mcp_server__free_unpacked(server, NULL);
}

void
reg_servers_handle_delete(mr_rpc_call *call, void *arg)
{
    reg_service *service = arg;
    const Mcpreg__V1__DeleteMcpServerRequest *req =
        (const Mcpreg__V1__DeleteMcpServerRequest *)mr_rpc_request(call);
    Mcpreg__V1__DeleteMcpServerResponse resp =
        MCPREG__V1__DELETE_MCP_SERVER_RESPONSE__INIT;
    int64_t started = mr_mono_ms();
    char ws[MR_UUID_LEN + 1];
    bool deleted = false;
    mr_err err;

    err = reg_servers_resolve_workspace(service->store, service->keys,
                                        req->caller, ws);
    if (err == MR_OK) {
        err = reg_servers_delete(service, ws, req->id, &deleted);
    }
    if (err != MR_OK) {
        reg_rpc_fail(call, started, err, NULL, 0);
        return;
    }

    if (deleted) {
        MR_INFO("reg.server.deleted", mr_rpc_request_id(call),
                "deleted MCP server %s of workspace %s", req->id, ws);
    }
    resp.deleted = deleted;
    reg_rpc_ok(call, started, &resp.base);
}
