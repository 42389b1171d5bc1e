/* mr_api.h - full method names of the RPC services in proto/. */
#ifndef MR_API_H
#define MR_API_H

#define MR_REGISTRATION              "/mcpreg.v1.Registration/"
#define MR_M_CREATE_MCP_SERVER       MR_REGISTRATION "CreateMcpServer"
#define MR_M_LIST_MCP_SERVERS        MR_REGISTRATION "ListMcpServers"
#define MR_M_GET_MCP_SERVER          MR_REGISTRATION "GetMcpServer"
#define MR_M_UPDATE_MCP_SERVER       MR_REGISTRATION "UpdateMcpServer"
#define MR_M_DELETE_MCP_SERVER       MR_REGISTRATION "DeleteMcpServer"
#define MR_M_REGISTER_OAUTH_PROVIDER MR_REGISTRATION "RegisterOAuthProvider"
#define MR_M_CREATE_API_KEY          MR_REGISTRATION "CreateApiKey"
#define MR_M_LIST_API_KEYS           MR_REGISTRATION "ListApiKeys"
#define MR_M_REVOKE_API_KEY          MR_REGISTRATION "RevokeApiKey"
#define MR_M_ADD_OPERATOR_CLIENT     MR_REGISTRATION "AddOperatorClient"
#define MR_M_GET_OAUTH_PROVIDER      MR_REGISTRATION "GetOAuthProvider"
#define MR_M_REPORT_INVALID_CLIENT   MR_REGISTRATION "ReportInvalidClient"
#define MR_M_LIST_OPERATOR_CLIENTS   MR_REGISTRATION "ListOperatorClients"
#define MR_M_REMOVE_OPERATOR_CLIENT  MR_REGISTRATION "RemoveOperatorClient"
#define MR_M_PING                    MR_REGISTRATION "Ping"

#define MR_M_DISCOVER_AND_REGISTER "/mcpreg.v1.Discovery/DiscoverAndRegister"
#define MR_M_DELETE_CLIENT         "/mcpreg.v1.Discovery/DeleteClient"

/* MR_CALLBACK_PATH is appended to the public base URL to form the OAuth
 * redirect URI that authorization sessions will serve. */
#define MR_CALLBACK_PATH "/v1/deepagents/oauth/callback"

/* MR_CLIENT_METADATA_PATH is appended to the public base URL to form
 * mcpreg's client ID metadata document URL, its client_id at servers that
 * support such documents; the gateway serves it. */
#define MR_CLIENT_METADATA_PATH "/v1/deepagents/oauth/client-metadata.json"

#endif
