/* cli_client.c - "mcpreg client": add, list and remove the clients that
 * the operator registered by hand at an authorization server, for MCP
 * servers whose authorization server offers no dynamic client
 * registration. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cli.h"
#include "mcpreg/v1/registration.pb-c.h"
#include "mr_api.h"
#include "mr_opts.h"

#define CLIENT_USAGE                                                          \
    "usage: mcpreg client add --workspace UUID --server ID --issuer URL "     \
    "--client-id ID\n"                                                        \
    "                         [--client-secret-file FILE] "                   \
    "[--auth-method METHOD]\n"                                                \
    "       mcpreg client list --workspace UUID [--server ID]\n"              \
    "       mcpreg client remove --workspace UUID --server ID --issuer URL"

/* SECRET_MAX is the longest client secret read from a file, in bytes. */
#define SECRET_MAX 4096

static int
usage_error(const char *message)
{
    fprintf(stderr, "mcpreg: %s; see 'mcpreg client --help'\n", message);
    return CLI_EXIT_USAGE;
}

/* open_secret_file opens path, or prints why and returns NULL. fopen opens
 * a directory for reading on Linux, where only the read then fails, so a
 * directory is rejected here. A pipe such as <(command) is allowed. */
static FILE *
open_secret_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    struct stat info;

    if (file == NULL) {
        fprintf(stderr, "mcpreg: cannot open --client-secret-file %s: %s\n",
                path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(file), &info) == 0 && S_ISDIR(info.st_mode)) {
        fclose(file);
        fprintf(stderr,
                "mcpreg: --client-secret-file %s is a directory; give the "
                "file that contains the client secret\n",
                path);
        return NULL;
    }
    return file;
}

/* read_secret reads the secret from path into out, without one trailing
 * newline, so that `echo secret > file` works. It returns CLI_EXIT_OK, or
 * CLI_EXIT_USAGE after printing why. */
static int
read_secret(const char *path, char out[SECRET_MAX + 1])
{
    FILE *file = open_secret_file(path);
    size_t len;
    bool read_failed;
    int read_errno;

    if (file == NULL) {
        return CLI_EXIT_USAGE;
    }
    len = fread(out, 1, SECRET_MAX + 1, file);
    read_failed = ferror(file) != 0;
    read_errno = errno;
    fclose(file);
    if (read_failed || len > SECRET_MAX) {
        sodium_memzero(out, SECRET_MAX + 1);
        if (read_failed) {
            fprintf(stderr,
                    "mcpreg: cannot read --client-secret-file %s: %s\n", path,
                    strerror(read_errno));
        } else {
            fprintf(stderr,
                    "mcpreg: --client-secret-file %s is longer than %d "
                    "bytes\n",
                    path, SECRET_MAX);
        }
        return CLI_EXIT_USAGE;
    }

    out[len] = '\0';
    if (len > 0 && out[len - 1] == '\n') {
        out[--len] = '\0';
    }
    if (len > 0 && out[len - 1] == '\r') {
        out[--len] = '\0';
    }
    if (len == 0 || strlen(out) != len) {
        fprintf(stderr, "mcpreg: --client-secret-file %s %s\n", path,
                len == 0 ? "is empty" : "contains a NUL byte");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int
client_add(const cli_context *ctx, int argc, char **argv)
{
    char workspace[MR_UUID_LEN + 1] = "";
    char server[MR_UUID_LEN + 1] = "";
    const char *issuer = "";
    const char *client_id = "";
    const char *secret_file = "";
    const char *method = "";
    const mr_opt opts[] = {
        {"workspace", NULL, MR_OPT_UUID, workspace, "workspace UUID"},
        {"server", NULL, MR_OPT_UUID, server, "MCP server id"},
        {"issuer", NULL, MR_OPT_STR, &issuer,
         "issuer URL of the authorization server, as its metadata states it"},
        {"client-id", NULL, MR_OPT_STR, &client_id,
         "client_id that the authorization server issued"},
        {"client-secret-file", NULL, MR_OPT_STR, &secret_file,
         "file that contains the client secret; omit for a public client"},
        {"auth-method", NULL, MR_OPT_STR, &method,
         "client_secret_basic, client_secret_post or none (default: "
         "client_secret_basic with a secret, none without)"},
    };
    Mcpreg__V1__AddOperatorClientRequest req =
        MCPREG__V1__ADD_OPERATOR_CLIENT_REQUEST__INIT;
    Mcpreg__V1__AddOperatorClientResponse *resp = NULL;
    char secret[SECRET_MAX + 1] = "";
    json_t *out;
    int rc = cli_parse_options(opts, sizeof(opts) / sizeof(opts[0]), argc,
                               argv, CLIENT_USAGE, "client add");

    if (rc != CLI_PARSED) {
        return rc;
    }
    if (workspace[0] == '\0' || server[0] == '\0' || issuer[0] == '\0' ||
        client_id[0] == '\0') {
        return usage_error("'client add' needs --workspace, --server, "
                           "--issuer and --client-id");
    }
    if (secret_file[0] != '\0') {
        rc = read_secret(secret_file, secret);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }

    req.workspace_id = workspace;
    req.mcp_server_id = server;
    req.issuer = (char *)issuer;
    req.client_id = (char *)client_id;
    req.client_secret = secret;
    req.token_endpoint_auth_method = (char *)method;
    rc = cli_call(ctx, MR_M_ADD_OPERATOR_CLIENT, &req.base,
                  &mcpreg__v1__add_operator_client_response__descriptor,
                  (ProtobufCMessage **)&resp);
    sodium_memzero(secret, sizeof(secret));
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    out = json_object();
    json_object_set_new(out, "mcp_server_id", json_string(server));
    json_object_set_new(
        out, "issuer", cli_json_text(resp->issuer[0] ? resp->issuer : issuer));
    json_object_set_new(out, "client_id", cli_json_text(client_id));
    json_object_set_new(out, "replaced", json_boolean(resp->replaced));
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return cli_print_json(out);
}

static json_t *
client_json(const Mcpreg__V1__StoredOperatorClient *client)
{
    json_t *out = json_object();
    const char *method = client->token_endpoint_auth_method;

    /* A client stored without a method uses the default that
     * --auth-method documents, so the list shows that one. */
    if (method == NULL || method[0] == '\0') {
        method = client->client_secret_set ? "client_secret_basic" : "none";
    }

    json_object_set_new(out, "workspace_id",
                        cli_json_text(client->workspace_id));
    json_object_set_new(out, "mcp_server_id",
                        cli_json_text(client->mcp_server_id));
    json_object_set_new(out, "issuer", cli_json_text(client->issuer));
    json_object_set_new(out, "client_id", cli_json_text(client->client_id));
    json_object_set_new(out, "auth_method", cli_json_text(method));
    json_object_set_new(out, "client_secret_set",
                        json_boolean(client->client_secret_set));
    json_object_set_new(out, "created_at",
                        cli_json_time(client->created_at_ms));
    return out;
}

static int
client_list(const cli_context *ctx, int argc, char **argv)
{
    char workspace[MR_UUID_LEN + 1] = "";
    char server[MR_UUID_LEN + 1] = "";
    const mr_opt opts[] = {
        {"workspace", NULL, MR_OPT_UUID, workspace, "workspace UUID"},
        {"server", NULL, MR_OPT_UUID, server,
         "MCP server id; omit for every server of the workspace"},
    };
    Mcpreg__V1__ListOperatorClientsRequest req =
        MCPREG__V1__LIST_OPERATOR_CLIENTS_REQUEST__INIT;
    Mcpreg__V1__ListOperatorClientsResponse *resp = NULL;
    json_t *list;
    int rc = cli_parse_options(opts, sizeof(opts) / sizeof(opts[0]), argc,
                               argv, CLIENT_USAGE, "client list");

    if (rc != CLI_PARSED) {
        return rc;
    }
    if (workspace[0] == '\0') {
        return usage_error("'client list' needs --workspace UUID");
    }

    req.workspace_id = workspace;
    req.mcp_server_id = server;
    rc = cli_call(ctx, MR_M_LIST_OPERATOR_CLIENTS, &req.base,
                  &mcpreg__v1__list_operator_clients_response__descriptor,
                  (ProtobufCMessage **)&resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    list = json_array();
    for (size_t i = 0; i < resp->n_clients; i++) {
        json_array_append_new(list, client_json(resp->clients[i]));
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return cli_print_json(list);
}

static int
client_remove(const cli_context *ctx, int argc, char **argv)
{
    char workspace[MR_UUID_LEN + 1] = "";
    char server[MR_UUID_LEN + 1] = "";
    const char *issuer = "";
    const mr_opt opts[] = {
        {"workspace", NULL, MR_OPT_UUID, workspace, "workspace UUID"},
        {"server", NULL, MR_OPT_UUID, server, "MCP server id"},
        {"issuer", NULL, MR_OPT_STR, &issuer,
         "issuer URL of the client, as 'client list' prints it"},
    };
    Mcpreg__V1__RemoveOperatorClientRequest req =
        MCPREG__V1__REMOVE_OPERATOR_CLIENT_REQUEST__INIT;
    Mcpreg__V1__RemoveOperatorClientResponse *resp = NULL;
    json_t *out;
    int rc = cli_parse_options(opts, sizeof(opts) / sizeof(opts[0]), argc,
                               argv, CLIENT_USAGE, "client remove");

    if (rc != CLI_PARSED) {
        return rc;
    }
    if (workspace[0] == '\0' || server[0] == '\0' || issuer[0] == '\0') {
        return usage_error("'client remove' needs --workspace, --server and "
                           "--issuer");
    }

    req.workspace_id = workspace;
    req.mcp_server_id = server;
    req.issuer = (char *)issuer;
    rc = cli_call(ctx, MR_M_REMOVE_OPERATOR_CLIENT, &req.base,
                  &mcpreg__v1__remove_operator_client_response__descriptor,
                  (ProtobufCMessage **)&resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    out = json_object();
    json_object_set_new(out, "mcp_server_id", cli_json_text(server));
    json_object_set_new(out, "issuer", cli_json_text(issuer));
    json_object_set_new(out, "removed", json_boolean(resp->removed));
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return cli_print_json(out);
}

int
cli_client_main(const cli_context *ctx, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";

    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        printf("%s\n", CLIENT_USAGE);
        return CLI_EXIT_OK;
    }
    if (strcmp(sub, "add") == 0) {
        return client_add(ctx, argc - 1, argv + 1);
    }
    if (strcmp(sub, "list") == 0) {
        return client_list(ctx, argc - 1, argv + 1);
    }
    if (strcmp(sub, "remove") == 0) {
        return client_remove(ctx, argc - 1, argv + 1);
    }
    if (cli_misplaced_global(argc, argv, argv[0])) {
        return CLI_EXIT_USAGE;
    }
    return usage_error(sub[0] ? "unknown 'client' subcommand"
                              : "missing 'client' subcommand");
}
