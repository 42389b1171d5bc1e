/* cli_provider.c - "mcpreg provider show|invalid-client": read a per-user
 * OAuth provider, and report that its client was rejected. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mcpreg/v1/registration.pb-c.h"
#include "mr_api.h"
#include "mr_opts.h"

#define PROVIDER_USAGE                                                        \
    "usage: mcpreg provider show --workspace UUID --id UUID\n"                \
    "       mcpreg provider invalid-client --workspace UUID --id UUID "       \
    "--client-id ID"

static int
usage_error(const char *message)
{
    fprintf(stderr, "mcpreg: %s; see 'mcpreg provider --help'\n", message);
    return CLI_EXIT_USAGE;
}

/* provider_json returns the JSON form of p, which contains no secret. */
static json_t *
provider_json(const Mcpreg__V1__OAuthProvider *p)
{
    json_t *out = json_object();

    json_object_set_new(out, "oauth_provider_id",
                        json_string(p->oauth_provider_id));
    json_object_set_new(out, "workspace_id", json_string(p->workspace_id));
    json_object_set_new(out, "mcp_server_id", json_string(p->mcp_server_id));
    json_object_set_new(out, "user_id", cli_json_text(p->user_id));
    json_object_set_new(out, "resource", cli_json_text(p->resource));
    json_object_set_new(out, "issuer", cli_json_text(p->issuer));
    json_object_set_new(out, "authorization_endpoint",
                        cli_json_text(p->authorization_endpoint));
    json_object_set_new(out, "token_endpoint",
                        cli_json_text(p->token_endpoint));
    json_object_set_new(out, "revocation_endpoint",
                        cli_json_text(p->revocation_endpoint));
    json_object_set_new(out, "scope", cli_json_text(p->scope));
    json_object_set_new(out, "redirect_uri", cli_json_text(p->redirect_uri));
    json_object_set_new(out, "client_id", cli_json_text(p->client_id));
    json_object_set_new(out, "token_endpoint_auth_method",
                        cli_json_text(p->token_endpoint_auth_method));
    json_object_set_new(out, "client_source", cli_json_text(p->client_source));
    json_object_set_new(out, "has_client_secret",
                        json_boolean(p->has_client_secret));
    json_object_set_new(out, "client_secret_expires_at",
                        json_integer(p->client_secret_expires_at));
    json_object_set_new(out, "created_at", cli_json_time(p->created_at_ms));
    json_object_set_new(out, "invalid_client_at",
                        cli_json_time(p->invalid_client_at_ms));
    return out;
}

/* parse_ids parses the options of a provider subcommand; client_id is NULL
 * for subcommands without --client-id. It returns what cli_parse_options
 * does, and CLI_EXIT_USAGE when a required option is missing. */
static int
parse_ids(int argc, char **argv, char workspace[MR_UUID_LEN + 1],
          char id[MR_UUID_LEN + 1], const char **client_id)
{
    const mr_opt opts[] = {
        {"workspace", NULL, MR_OPT_UUID, workspace, "workspace UUID"},
        {"id", NULL, MR_OPT_UUID, id, "oauth_provider_id"},
        {"client-id", NULL, MR_OPT_STR, client_id,
         "client_id that the authorization server rejected"},
    };
    size_t nopts = client_id != NULL ? 3 : 2;
    int rc = cli_parse_options(opts, nopts, argc, argv, PROVIDER_USAGE,
                               client_id != NULL ? "provider invalid-client"
                                                 : "provider show");

    if (rc != CLI_PARSED) {
        return rc;
    }
    if (workspace[0] == '\0' || id[0] == '\0' ||
        (client_id != NULL && (*client_id)[0] == '\0')) {
        return usage_error(client_id != NULL
                               ? "'provider invalid-client' needs "
                                 "--workspace, --id and --client-id"
                               : "'provider show' needs --workspace and --id");
    }
    return CLI_PARSED;
}

static int
provider_show(const cli_context *ctx, int argc, char **argv)
{
    Mcpreg__V1__GetOAuthProviderRequest req =
        MCPREG__V1__GET_OAUTH_PROVIDER_REQUEST__INIT;
    Mcpreg__V1__OAuthProvider *resp = NULL;
    char workspace[MR_UUID_LEN + 1] = "";
    char id[MR_UUID_LEN + 1] = "";
    json_t *out;
    int rc = parse_ids(argc, argv, workspace, id, NULL);

    if (rc != CLI_PARSED) {
        return rc;
    }

    req.workspace_id = workspace;
    req.oauth_provider_id = id;
    rc = cli_call(ctx, MR_M_GET_OAUTH_PROVIDER, &req.base,
                  &mcpreg__v1__oauth_provider__descriptor,
                  (ProtobufCMessage **)&resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    out = provider_json(resp);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return cli_print_json(out);
}

static int
provider_invalid_client(const cli_context *ctx, int argc, char **argv)
{
    Mcpreg__V1__ReportInvalidClientRequest req =
        MCPREG__V1__REPORT_INVALID_CLIENT_REQUEST__INIT;
    Mcpreg__V1__ReportInvalidClientResponse *resp = NULL;
    char workspace[MR_UUID_LEN + 1] = "";
    char id[MR_UUID_LEN + 1] = "";
    const char *client_id = "";
    json_t *out;
    int rc = parse_ids(argc, argv, workspace, id, &client_id);

    if (rc != CLI_PARSED) {
        return rc;
    }

    req.workspace_id = workspace;
    req.oauth_provider_id = id;
    req.client_id = (char *)client_id;
    rc = cli_call(ctx, MR_M_REPORT_INVALID_CLIENT, &req.base,
                  &mcpreg__v1__report_invalid_client_response__descriptor,
                  (ProtobufCMessage **)&resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    /* Stderr explains why nothing changed, since a mistyped --client-id
     * looks the same to the service as the report of an older client. */
    if (!resp->marked) {
        fprintf(stderr,
                "mcpreg: nothing marked: the provider's current client is "
                "not --client-id, or it is marked already\n");
    }
    out = json_object();
    json_object_set_new(out, "oauth_provider_id", json_string(id));
    json_object_set_new(out, "marked", json_boolean(resp->marked));
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return cli_print_json(out);
}

int
cli_provider_main(const cli_context *ctx, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";

    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        printf("%s\n", PROVIDER_USAGE);
        return CLI_EXIT_OK;
    }
    if (strcmp(sub, "show") == 0) {
        return provider_show(ctx, argc - 1, argv + 1);
    }
    if (strcmp(sub, "invalid-client") == 0) {
        return provider_invalid_client(ctx, argc - 1, argv + 1);
    }
    if (cli_misplaced_global(argc, argv, argv[0])) {
        return CLI_EXIT_USAGE;
    }
    return usage_error(sub[0] ? "unknown 'provider' subcommand"
                              : "missing 'provider' subcommand");
}
