/* cli_key.c - "mcpreg key": create, list and revoke API keys. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "mcpreg/v1/registration.pb-c.h"
#include "mr_api.h"
#include "mr_opts.h"
#include "mr_util.h"

#define KEY_USAGE                                                             \
    "usage: mcpreg key create [--workspace UUID|new] [--user USER_ID] "       \
    "[--name NAME]\n"                                                         \
    "       mcpreg key list --workspace UUID\n"                               \
    "       mcpreg key revoke KEY_ID"

/* Prints a usage error and returns CLI_EXIT_USAGE. */
static int
usage_error(const char *message)
{
    fprintf(stderr, "mcpreg: %s; see 'mcpreg key --help'\n", message);
    return CLI_EXIT_USAGE;
}

static json_t *
created_json(const Mcpreg__V1__CreateApiKeyResponse *resp)
{
    const Mcpreg__V1__ApiKey *info = resp->info;
    json_t *out = json_object();

    json_object_set_new(out, "key", json_string(resp->key));
    json_object_set_new(out, "key_id", json_string(info->key_id));
    json_object_set_new(out, "workspace_id", json_string(info->workspace_id));
    json_object_set_new(out, "user_id", cli_json_text(info->user_id));
    json_object_set_new(out, "name", cli_json_text(info->name));
    return out;
}

/* call_revoke revokes the key key_id and sets *revoked to whether this
 * call revoked it. It returns what cli_call does. */
static int
call_revoke(const cli_context *ctx, const char *key_id, bool *revoked)
{
    Mcpreg__V1__RevokeApiKeyRequest req =
        MCPREG__V1__REVOKE_API_KEY_REQUEST__INIT;
    Mcpreg__V1__RevokeApiKeyResponse *resp = NULL;
    int rc;

    req.key_id = (char *)key_id;
    rc = cli_call(ctx, MR_M_REVOKE_API_KEY, &req.base,
                  &mcpreg__v1__revoke_api_key_response__descriptor,
                  (ProtobufCMessage **)&resp);
    if (rc == CLI_EXIT_OK) {
        *revoked = resp->revoked;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    return rc;
}

/* revoke_unseen revokes the new key key_id, whose secret could not be
 * printed, so that no working key is left without an owner. */
static void
revoke_unseen(const cli_context *ctx, const char *key_id)
{
    bool revoked = false;

    if (call_revoke(ctx, key_id, &revoked) == CLI_EXIT_OK) {
        fprintf(stderr,
                "mcpreg: revoked the new key %s, whose secret was "
                "not printed; run 'key create' again\n",
                key_id);
        return;
    }
    fprintf(stderr,
            "mcpreg: the new key %s works but its secret was not printed: "
            "revoke it with 'mcpreg key revoke %s'\n",
            key_id, key_id);
}

static int
key_create(const cli_context *ctx, int argc, char **argv)
{
    const char *workspace = "new";
    char workspace_id[MR_UUID_LEN + 1];
    const char *user = NULL;
    const char *name = "";
    const mr_opt opts[] = {
        {"workspace", NULL, MR_OPT_STR, &workspace,
         "workspace UUID, or 'new' for a new workspace"},
        {"user", NULL, MR_OPT_STR, &user,
         "user id of a personal key; omit for a service key"},
        {"name", NULL, MR_OPT_STR, &name, "label shown by 'key list'"},
    };
    Mcpreg__V1__CreateApiKeyRequest req =
        MCPREG__V1__CREATE_API_KEY_REQUEST__INIT;
    Mcpreg__V1__CreateApiKeyResponse *resp = NULL;
    int rc = cli_parse_options(opts, sizeof(opts) / sizeof(opts[0]), argc,
                               argv, KEY_USAGE, "key create");

    if (rc != CLI_PARSED) {
        return rc;
    }
    /* An empty --user, say from an unset variable, must not silently make
     * a service key, which may act for any user. */
    if (user != NULL && user[0] == '\0') {
        return usage_error("--user needs a user id; omit --user to create a "
                           "service key");
    }
    if (strcmp(workspace, "new") != 0 &&
        !mr_uuid_canonical(workspace, workspace_id)) {
        return usage_error("--workspace must be a workspace UUID (8-4-4-4-12 "
                           "hex digits) or 'new'");
    }

    req.workspace_id = strcmp(workspace, "new") == 0 ? "" : workspace_id;
    req.user_id = (char *)(user != NULL ? user : "");
    req.name = (char *)name;
    rc = cli_call(ctx, MR_M_CREATE_API_KEY, &req.base,
                  &mcpreg__v1__create_api_key_response__descriptor,
                  (ProtobufCMessage **)&resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (resp->info == NULL) {
        fprintf(stderr,
                "mcpreg: the reply has no key info (internal_error)\n");
        rc = CLI_EXIT_ERROR;
    } else {
        rc = cli_print_json(created_json(resp));
    }
    if (rc != CLI_EXIT_OK && resp->info != NULL) {
        revoke_unseen(ctx, resp->info->key_id);
    }
    sodium_memzero(resp->key, strlen(resp->key));
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}

static json_t *
key_json(const Mcpreg__V1__ApiKey *key)
{
    json_t *out = json_object();

    json_object_set_new(out, "key_id", json_string(key->key_id));
    json_object_set_new(out, "workspace_id", json_string(key->workspace_id));
    json_object_set_new(out, "user_id", cli_json_text(key->user_id));
    json_object_set_new(out, "name", cli_json_text(key->name));
    json_object_set_new(out, "created_at", cli_json_time(key->created_at_ms));
    json_object_set_new(out, "revoked_at", cli_json_time(key->revoked_at_ms));
    return out;
}

static int
key_list(const cli_context *ctx, int argc, char **argv)
{
    char workspace[MR_UUID_LEN + 1] = "";
    const mr_opt opts[] = {
        {"workspace", NULL, MR_OPT_UUID, workspace, "workspace UUID"},
    };
    Mcpreg__V1__ListApiKeysRequest req =
        MCPREG__V1__LIST_API_KEYS_REQUEST__INIT;
    Mcpreg__V1__ListApiKeysResponse *resp = NULL;
    json_t *list;
    int rc = cli_parse_options(opts, sizeof(opts) / sizeof(opts[0]), argc,
                               argv, KEY_USAGE, "key list");

    if (rc != CLI_PARSED) {
        return rc;
    }
    if (workspace[0] == '\0') {
        return usage_error("'key list' needs --workspace UUID");
    }

    req.workspace_id = workspace;
    rc = cli_call(ctx, MR_M_LIST_API_KEYS, &req.base,
                  &mcpreg__v1__list_api_keys_response__descriptor,
                  (ProtobufCMessage **)&resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    list = json_array();
    for (size_t i = 0; i < resp->n_keys; i++) {
        json_array_append_new(list, key_json(resp->keys[i]));
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return cli_print_json(list);
}

static int
key_revoke(const cli_context *ctx, int argc, char **argv)
{
    char key_id[MR_UUID_LEN + 1];
    bool revoked = false;
    json_t *out;
    int rest = 0;
    int rc;

    if (cli_misplaced_global(argc, argv, "key revoke")) {
        return CLI_EXIT_USAGE;
    }
    rc = mr_opts_parse(NULL, 0, argc, argv, KEY_USAGE, &rest);
    if (rc != 0) {
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    if (argc - rest != 1) {
        return usage_error("'key revoke' needs exactly one KEY_ID");
    }
    /* The argument is not echoed: it may be an API key pasted by mistake. */
    if (!mr_uuid_canonical(argv[rest], key_id)) {
        return usage_error("KEY_ID is not a UUID (8-4-4-4-12 hex "
                           "digits): give the key_id that 'key create' and "
                           "'key list' print, not the API key");
    }

    rc = call_revoke(ctx, key_id, &revoked);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    out = json_object();
    json_object_set_new(out, "key_id", json_string(key_id));
    json_object_set_new(out, "revoked", json_boolean(revoked));
    return cli_print_json(out);
}

int
cli_key_main(const cli_context *ctx, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";

    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        printf("%s\n", KEY_USAGE);
        return CLI_EXIT_OK;
    }
    if (strcmp(sub, "create") == 0) {
        return key_create(ctx, argc - 1, argv + 1);
    }
    if (strcmp(sub, "list") == 0) {
        return key_list(ctx, argc - 1, argv + 1);
    }
    if (strcmp(sub, "revoke") == 0) {
        return key_revoke(ctx, argc - 1, argv + 1);
    }
    if (cli_misplaced_global(argc, argv, argv[0])) {
        return CLI_EXIT_USAGE;
    }
    return usage_error(sub[0] ? "unknown 'key' subcommand"
                              : "missing 'key' subcommand");
}
