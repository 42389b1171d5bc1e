/* mr_err.h - the one error enum of mcpreg, shared by every process. */
#ifndef MR_ERR_H
#define MR_ERR_H

#include "mcpreg/v1/rpc.pb-c.h"

/*
 * MR_ERRORS lists every project error once: the enum name, the stable code
 * that REST bodies and RPC replies carry, the HTTP status, the RPC status
 * class, and a default detail written as "<what to do>: <what was wrong>".
 * Append new errors at the end so that the numeric values stay stable.
 */
#define MR_ERRORS(X)                                                          \
    X(OK, "ok", 200, OK, "No action needed: the call succeeded")              \
    X(ENOMEM, "internal_error", 500, INTERNAL,                                \
      "Retry later: the service ran out of memory")                           \
    X(EINTERNAL, "internal_error", 500, INTERNAL,                             \
      "Retry later or report the request id: an internal error occurred")     \
    X(EINVALID_BODY, "invalid_request_body", 400, INVALID_ARGUMENT,           \
      "Provide a valid JSON request body matching the documented schema")     \
    X(EMISSING_FIELD, "missing_required_field", 400, INVALID_ARGUMENT,        \
      "Set the required field: it is missing")                                \
    X(EINVALID_FIELD, "invalid_field", 400, INVALID_ARGUMENT,                 \
      "Correct the field: its value is invalid")                              \
    X(EUNKNOWN_FIELD, "unknown_field", 400, INVALID_ARGUMENT,                 \
      "Remove the field: it is not part of the schema")                       \
    X(EINVALID_ID, "invalid_mcp_server_id", 400, INVALID_ARGUMENT,            \
      "Use the id returned at creation: the MCP server id is not a UUID "     \
      "in 8-4-4-4-12 hex form")                                               \
    X(EBODY_TOO_LARGE, "request_body_too_large", 413, INVALID_ARGUMENT,       \
      "Send a smaller body: the request body is too large")                   \
    X(EROUTE, "route_not_found", 404, NOT_FOUND,                              \
      "Check the path against the API reference: no such route")              \
    X(EMETHOD, "method_not_allowed", 405, INVALID_ARGUMENT,                   \
      "Use a method listed in the Allow header: method not allowed")          \
    X(EUNAUTHENTICATED, "unauthorized", 401, UNAUTHENTICATED,                 \
      "Send an API key in X-Api-Key: none was given")                         \
    X(EFORBIDDEN, "forbidden", 403, PERMISSION_DENIED,                        \
      "Use a valid API key with access: access denied")                       \
    X(ESERVER_NOT_FOUND, "mcp_server_not_found", 404, NOT_FOUND,              \
      "Verify the MCP server ID and that the calling identity has access: "   \
      "MCP server not found")                                                 \
    X(ENAME_CONFLICT, "mcp_server_name_conflict", 409, ALREADY_EXISTS,        \
      "Choose another name: an MCP server with this name exists in the "      \
      "workspace")                                                            \
    X(EINVALID_URL, "invalid_mcp_server_url", 422, INVALID_ARGUMENT,          \
      "Use an absolute https URL: the MCP server URL is invalid")             \
    X(EAUTH_CONFIG, "invalid_auth_config", 422, INVALID_ARGUMENT,             \
      "Make auth_type, oauth_mode and oauth_provider_id consistent: the "     \
      "auth configuration is invalid")                                        \
    X(ENOT_PER_USER, "mcp_server_not_per_user_oauth", 400,                    \
      FAILED_PRECONDITION,                                                    \
      "Set auth_type=oauth and oauth_mode=per_user_dynamic_client on the "    \
      "MCP server: it does not use per-user OAuth")                           \
    X(EUNAVAILABLE, "service_unavailable", 503, UNAVAILABLE,                  \
      "Retry after the delay in Retry-After: a dependent service is "         \
      "unavailable")                                                          \
    X(ETIMEDOUT, "timed_out", 503, DEADLINE_EXCEEDED,                         \
      "Retry after the delay in Retry-After: the request timed out")          \
    X(EBUSY, "too_many_registrations", 503, RESOURCE_EXHAUSTED,               \
      "Retry after the delay in Retry-After: too many registrations are in "  \
      "progress")                                                             \
    X(EKEY_NOT_FOUND, "api_key_not_found", 404, NOT_FOUND,                    \
      "Check the key id with 'mcpreg key list': API key not found")           \
    X(EPROVIDER_NOT_FOUND, "oauth_provider_not_found", 404, NOT_FOUND,        \
      "Check the OAuth provider id and its workspace: provider not found")    \
    X(EMCP_UNREACHABLE, "mcp_server_unreachable", 503, UNAVAILABLE,           \
      "Check that the MCP server is running and reachable: the connection "   \
      "failed")                                                               \
    X(ENO_RESOURCE_METADATA, "protected_resource_metadata_invalid", 400,      \
      FAILED_PRECONDITION,                                                    \
      "Fix the MCP server's protected resource metadata: none usable was "    \
      "found")                                                                \
    X(ERESOURCE_MISMATCH, "resource_mismatch", 400, FAILED_PRECONDITION,      \
      "Fix the metadata's resource: it does not match the MCP server URL")    \
    X(EAS_METADATA, "authorization_server_metadata_unavailable", 400,         \
      FAILED_PRECONDITION,                                                    \
      "Fix the authorization server metadata: none usable was found")         \
    X(EISSUER_MISMATCH, "issuer_mismatch", 400, FAILED_PRECONDITION,          \
      "Fix the authorization server metadata: its issuer does not match")     \
    X(EPKCE, "pkce_not_supported", 400, FAILED_PRECONDITION,                  \
      "Enable PKCE S256 at the authorization server: it is not listed in "    \
      "code_challenge_methods_supported")                                     \
    X(EREGISTRATION_UNSUPPORTED, "registration_not_supported", 400,           \
      FAILED_PRECONDITION,                                                    \
      "Pre-register a client for this server: the authorization server has "  \
      "no registration endpoint")                                             \
    X(EREGISTRATION_REJECTED, "registration_rejected", 400,                   \
      FAILED_PRECONDITION,                                                    \
      "Check the authorization server's registration policy: it rejected "    \
      "the client")                                                           \
    X(EREGISTRATION_INVALID, "registration_response_invalid", 400,            \
      FAILED_PRECONDITION,                                                    \
      "Check the authorization server: its registration response is invalid") \
    X(EREMOTE_TIMEDOUT, "remote_timed_out", 503, UNAVAILABLE,                 \
      "Retry after the delay in Retry-After: a remote server did not answer " \
      "in time")                                                              \
    X(EREMOTE_TOO_LARGE, "remote_response_too_large", 400,                    \
      FAILED_PRECONDITION,                                                    \
      "Check the remote server: its response exceeds the size limit")         \
    X(EBLOCKED_ADDRESS, "remote_address_blocked", 400, FAILED_PRECONDITION,   \
      "Add the host to the development allow-list or use a public https "     \
      "URL: the address is not allowed")                                      \
    X(ESHUTTING_DOWN, "shutting_down", 503, UNAVAILABLE,                      \
      "Retry after the delay in Retry-After: the service is shutting down")   \
    X(EUNIMPLEMENTED, "method_not_implemented", 500, UNIMPLEMENTED,           \
      "Upgrade the called service: it does not implement the RPC method")     \
    X(EREMOTE_UNAVAILABLE, "remote_unavailable", 503, UNAVAILABLE,            \
      "Retry after the delay in Retry-After: an authorization or metadata "   \
      "server was unreachable or failed")                                     \
    X(EREGISTRATION_NO_SECRET, "registration_secret_missing", 400,            \
      FAILED_PRECONDITION,                                                    \
      "Check the authorization server: it registered a client whose auth "    \
      "method needs a client_secret but returned none")                       \
    X(EQUERY_TOO_LONG, "query_too_long", 414, INVALID_ARGUMENT,               \
      "Send fewer query parameters: the query has too many")                  \
    X(EMEDIA_TYPE, "unsupported_media_type", 415, INVALID_ARGUMENT,           \
      "Send the body as application/json in UTF-8: other media types and "    \
      "charsets are not supported")                                           \
    X(EBATCH_DECLINED, "batch_declined", 503, UNAVAILABLE,                    \
      "Send the call alone: the service does not run it in a batch")

#define MR__ERR_ENUM(name, code, http, class, detail) MR_##name,
/* mr_err is the result of every fallible function; MR_OK is 0. */
typedef enum { MR_ERRORS(MR__ERR_ENUM) MR_ERR_COUNT } mr_err;
#undef MR__ERR_ENUM

/* mr_strerror returns the default detail of err; never NULL. */
const char *mr_strerror(mr_err err);

/* mr_err_code returns the stable code of err, as in REST bodies; never NULL.
 */
const char *mr_err_code(mr_err err);

/* mr_err_http returns the HTTP status of err. */
int mr_err_http(mr_err err);

/* mr_err_class returns the RPC status class of err. */
Mcpreg__V1__Code mr_err_class(mr_err err);

/*
 * mr_err_from_code returns the error whose stable code is code, or
 * MR_EINTERNAL when the code is unknown (a newer peer, for example).
 */
mr_err mr_err_from_code(const char *code);

/* mr_err_retryable returns 1 when err is transient (HTTP 503), else 0. */
int mr_err_retryable(mr_err err);

#endif
