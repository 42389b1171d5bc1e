/* reg_service.c - the RPC table of service Registration and its log line. */
#include <stdlib.h>
#include <string.h>

#include "mcpreg/v1/registration.pb-c.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_util.h"
#include "reg_clients.h"
#include "reg_keys.h"
#include "reg_providers.h"
#include "reg_servers.h"
#include "reg_service.h"

/* Requests that carry no timeout get this one. It exceeds the default job
 * timeout, so that RegisterOAuthProvider can wait for a discovery job. */
#define DEFAULT_TIMEOUT_MS 30000

/* handle_ping replies at once, without a store read, so the caller learns
 * that the service reads and replies to calls. */
static void
handle_ping(mr_rpc_call *call, void *arg)
{
    Mcpreg__V1__PingResponse resp = MCPREG__V1__PING_RESPONSE__INIT;

    (void)arg;
    mr_rpc_reply(call, &resp.base);
}

static const mr_rpc_method methods[] = {
    {MR_M_CREATE_MCP_SERVER,
     &mcpreg__v1__create_mcp_server_request__descriptor,
     reg_servers_handle_create},
    {MR_M_LIST_MCP_SERVERS, &mcpreg__v1__list_mcp_servers_request__descriptor,
     reg_servers_handle_list},
    {MR_M_GET_MCP_SERVER, &mcpreg__v1__get_mcp_server_request__descriptor,
     reg_servers_handle_get},
    {MR_M_UPDATE_MCP_SERVER,
     &mcpreg__v1__update_mcp_server_request__descriptor,
     reg_servers_handle_update},
    {MR_M_DELETE_MCP_SERVER,
     &mcpreg__v1__delete_mcp_server_request__descriptor,
     reg_servers_handle_delete},
    {MR_M_REGISTER_OAUTH_PROVIDER,
     &mcpreg__v1__register_oauth_provider_request__descriptor,
     reg_providers_handle_register},
    {MR_M_CREATE_API_KEY, &mcpreg__v1__create_api_key_request__descriptor,
     reg_keys_handle_create},
    {MR_M_LIST_API_KEYS, &mcpreg__v1__list_api_keys_request__descriptor,
     reg_keys_handle_list},
    {MR_M_REVOKE_API_KEY, &mcpreg__v1__revoke_api_key_request__descriptor,
     reg_keys_handle_revoke},
    {MR_M_ADD_OPERATOR_CLIENT,
     &mcpreg__v1__add_operator_client_request__descriptor,
     reg_clients_handle_add},
    {MR_M_GET_OAUTH_PROVIDER,
     &mcpreg__v1__get_oauth_provider_request__descriptor,
     reg_providers_handle_get},
    {MR_M_REPORT_INVALID_CLIENT,
     &mcpreg__v1__report_invalid_client_request__descriptor,
     reg_providers_handle_report},
    {MR_M_LIST_OPERATOR_CLIENTS,
     &mcpreg__v1__list_operator_clients_request__descriptor,
     reg_clients_handle_list},
    {MR_M_REMOVE_OPERATOR_CLIENT,
     &mcpreg__v1__remove_operator_client_request__descriptor,
     reg_clients_handle_remove},
    {MR_M_PING, &mcpreg__v1__ping_request__descriptor, handle_ping},
};

mr_err
reg_service_start(mr_rpc_server **out, reg_service *service, const char *url,
                  int contexts)
{
    mr_rpc_server_config cfg = {
        .url = url,
        .dial = false,
        .contexts = contexts,
        .default_timeout_ms = DEFAULT_TIMEOUT_MS,
        .methods = methods,
        .nmethods = (int)(sizeof(methods) / sizeof(methods[0])),
        .arg = service,
        .name = "registration",
    };

    return mr_rpc_server_start(out, &cfg);
}

/* Returns the method's short name: "GetMcpServer" of the full name. */
static const char *
short_method(const mr_rpc_call *call)
{
    const char *name = mr_rpc_method_name(call);
    const char *slash = strrchr(name, '/');

    return slash ? slash + 1 : name;
}

/* log_outcome writes the "reg.rpc" line of call: at debug for a read that
 * succeeded (quiet), whose request the gateway's access line records
 * already, at info for other successes, and at warn or error for
 * failures. */
static void
log_outcome(const mr_rpc_call *call, int64_t started_ms, mr_err err,
            bool quiet)
{
    int64_t duration = mr_mono_ms() - started_ms;
    mr_log_level level = quiet ? MR_LOG_DEBUG : MR_LOG_INFO;
    mr_log_field fields[] = {
        MR_FSTR("method", short_method(call)),
        MR_FSTR("error", mr_err_code(err)),
        MR_FINT("duration_ms", duration),
    };

    if (err == MR_EINTERNAL || err == MR_ENOMEM) {
        level = MR_LOG_ERROR;
    } else if (mr_err_retryable(err)) {
        level = MR_LOG_WARN;
    }
    mr_log_fields(level, "reg.rpc", mr_rpc_request_id(call), fields,
                  sizeof(fields) / sizeof(fields[0]), "%s %s in %lld ms",
                  short_method(call), mr_err_code(err), (long long)duration);
}

void
reg_rpc_ok(mr_rpc_call *call, int64_t started_ms,
           const ProtobufCMessage *response)
{
    /* Log first: the call, and its request id, are gone after the reply. */
    log_outcome(call, started_ms, MR_OK, false);
    mr_rpc_reply(call, response);
}

void
reg_rpc_ok_read(mr_rpc_call *call, int64_t started_ms,
                const ProtobufCMessage *response)
{
    log_outcome(call, started_ms, MR_OK, true);
    mr_rpc_reply(call, response);
}

void
reg_rpc_fail(mr_rpc_call *call, int64_t started_ms, mr_err err,
             const char *detail, uint32_t retry_after)
{
    if (detail != NULL && detail[0] == '\0') {
        detail = NULL;
    }
    log_outcome(call, started_ms, err, false);
    mr_rpc_fail(call, err, detail, retry_after);
}

ProtobufCMessage *
reg_msg_copy(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    ProtobufCMessage *copy;

    if (buf == NULL) {
        return NULL;
    }
    protobuf_c_message_pack(msg, buf);
    copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
    free(buf);
    return copy;
}
