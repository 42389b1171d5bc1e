/* main.c - mcpreg: the admin command of the registration service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mr_log.h"
#include "mr_opts.h"
#include "mr_rpc.h"
#include "mr_util.h"

#define USAGE                                                                 \
    "usage: mcpreg [options] COMMAND\n"                                       \
    "\n"                                                                      \
    "Commands:\n"                                                             \
    "  key create [--workspace UUID|new] [--user USER_ID] [--name NAME]\n"    \
    "      create an API key and print it once, as JSON; without --user it\n" \
    "      is a service key, and without --workspace (or with 'new') it\n"    \
    "      opens a new workspace\n"                                           \
    "  key list --workspace UUID\n"                                           \
    "      print the workspace's keys as a JSON array, without secrets\n"     \
    "  key revoke KEY_ID\n"                                                   \
    "      revoke a key; calls that present it get 403 from then on\n"        \
    "  client add --workspace UUID --server ID --issuer URL --client-id ID\n" \
    "      [--client-secret-file FILE] [--auth-method METHOD]\n"              \
    "      store a client registered by hand at the authorization server\n"   \
    "      ISSUER; discovery for the server uses it instead of registering\n" \
    "  client list --workspace UUID [--server ID]\n"                          \
    "      print the operator clients as a JSON array; secrets are never\n"   \
    "      printed, only whether one is set\n"                                \
    "  client remove --workspace UUID --server ID --issuer URL\n"             \
    "      remove the operator client of the server for ISSUER; deleting\n"   \
    "      the MCP server removes its operator clients too\n"                 \
    "  provider show --workspace UUID --id UUID\n"                            \
    "      print a per-user OAuth provider and its client, without secrets\n" \
    "  provider invalid-client --workspace UUID --id UUID --client-id ID\n"   \
    "      report that the authorization server answered invalid_client;\n"   \
    "      the next use registers a new client under the same id\n"           \
    "  ping\n"                                                                \
    "      check that the registration service replies within "               \
    "--timeout-ms,\n"                                                         \
    "      as a health probe would; prints {\"ok\":true}\n"                   \
    "\n"                                                                      \
    "Exit status: 0 on success, 1 when the call failed, 2 for a usage error."

/* TIMEOUT_MS_MAX bounds --timeout-ms at a day, which keeps the deadline
 * arithmetic and nng's 32-bit durations from overflowing. */
#define TIMEOUT_MS_MAX 86400000L

/* START_GRACE_MS is how long a service that refuses connections gets to
 * start listening, as one started just before the command would, and
 * START_POLL_MS how often it is tried meanwhile. */
#define START_GRACE_MS 2000
#define START_POLL_MS  50

static void
print_failure(mr_err err, const char *detail)
{
    fprintf(stderr, "mcpreg: %s (%s)\n",
            detail && *detail ? detail : mr_strerror(err), mr_err_code(err));
}

/* SILENT_HINT starts the messages about a peer that took the connection
 * but did not answer in time. Its %s is the option that set the address. */
#define SILENT_HINT                                                           \
    "Check that %s is the address of a running mcpreg-registration that "     \
    "is not stopped or overloaded: "

/* print_call_failure prints the failure of a call. A call that timed out
 * at the CLI's own deadline, not in the service, went to a peer that
 * finished nng's handshake but did not reply. */
static void
print_call_failure(const cli_context *ctx, mr_err err, const char *detail)
{
    char message[512];

    if (err != MR_ETIMEDOUT ||
        (detail != NULL && strcmp(detail, mr_strerror(err)) != 0)) {
        print_failure(err, detail);
        return;
    }
    snprintf(message, sizeof(message),
             SILENT_HINT "nothing answered at '%s' within %ld ms",
             ctx->registration_option, ctx->registration_url, ctx->timeout_ms);
    print_failure(err, message);
}

/* Checks the address of --registration until something listens there,
 * the address turns out invalid or unresolvable, or START_GRACE_MS (or
 * the deadline, if sooner) passes. Only a refusal is retried, since a
 * starting service changes nothing else. The reason for any other
 * outcome than CLI_ADDRESS_USABLE goes into reason. */
static cli_address
wait_listening(const cli_context *ctx, int64_t deadline, char *reason,
               size_t size)
{
    int64_t grace_end = mr_mono_ms() + START_GRACE_MS;
    cli_address address;

    if (grace_end > deadline) {
        grace_end = deadline;
    }
    for (;;) {
        int64_t left = deadline - mr_mono_ms();

        address = cli_check_address(ctx->registration_url,
                                    left > 1 ? (int)left : 1, reason, size);
        if (address != CLI_ADDRESS_NOTHING_LISTENS ||
            mr_mono_ms() >= grace_end) {
            return address;
        }
        usleep(START_POLL_MS * 1000);
    }
}

/* Prints why the address check found address unusable, with detail.
 * Returns the exit status. */
static int
print_unusable(const cli_context *ctx, cli_address address, const char *detail)
{
    char message[768];

    if (address == CLI_ADDRESS_INVALID) {
        fprintf(stderr, "mcpreg: Check %s: %s\n", ctx->registration_option,
                detail);
        return CLI_EXIT_USAGE;
    }
    if (address == CLI_ADDRESS_UNRESOLVED) {
        snprintf(message, sizeof(message), "Check %s: %s",
                 ctx->registration_option, detail);
    } else if (address == CLI_ADDRESS_WRONG_PEER) {
        snprintf(message, sizeof(message),
                 "Check that %s is the --listen address of "
                 "mcpreg-registration, not its --jobs-listen address or "
                 "another program's: %s",
                 ctx->registration_option, detail);
    } else if (address == CLI_ADDRESS_SILENT) {
        snprintf(message, sizeof(message), SILENT_HINT "%s",
                 ctx->registration_option, detail);
        print_failure(MR_ETIMEDOUT, message);
        return CLI_EXIT_ERROR;
    } else {
        snprintf(message, sizeof(message),
                 "Check that mcpreg-registration runs and that %s is its "
                 "--listen address: %s, still after %ld ms",
                 ctx->registration_option, detail,
                 ctx->timeout_ms < START_GRACE_MS ? ctx->timeout_ms
                                                  : (long)START_GRACE_MS);
    }
    print_failure(MR_EUNAVAILABLE, message);
    return CLI_EXIT_ERROR;
}

/* Opens a client connected to the registration service. Returns
 * CLI_EXIT_OK with *client set, which the caller closes, or the exit
 * status after printing why there is no connection. */
static int
connect_service(const cli_context *ctx, int64_t deadline,
                mr_rpc_client **client)
{
    char detail[384];
    char why[128];
    cli_address address;
    sigset_t mask;
    mr_err err;

    *client = NULL;

    /* The check fails at once where nng would dial on quietly: an
     * invalid or unresolvable address, nothing listening, or a peer that
     * is not a registration service. */
    address = wait_listening(ctx, deadline, detail, sizeof(detail));
    if (address != CLI_ADDRESS_USABLE) {
        return print_unusable(ctx, address, detail);
    }

    /* nng's dial returns after its handshake, and its threads start
     * with the signals held, so no signal cuts the handshake short.
     * NOTE: nng 1.5.2 itself gives up a handshake after 10 s, so a
     * service paused that long just after the check still gets a
     * connection closed early, and the CLI overruns --timeout-ms. */
    cli_hold_signals(&mask);
    err =
        mr_rpc_client_connect(client, ctx->registration_url, why, sizeof(why));
    cli_release_signals(&mask);
    if (err == MR_ETIMEDOUT) {
        snprintf(detail, sizeof(detail),
                 SILENT_HINT "'%s' did not finish nng's handshake (%s)",
                 ctx->registration_option, ctx->registration_url, why);
    } else if (err != MR_OK) {
        snprintf(detail, sizeof(detail),
                 "Check that mcpreg-registration runs and that %s is its "
                 "--listen address: dialing '%s' failed (%s)",
                 ctx->registration_option, ctx->registration_url, why);
    }
    if (err != MR_OK) {
        print_failure(err, detail);
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

int
cli_call(const cli_context *ctx, const char *method,
         const ProtobufCMessage *request,
         const ProtobufCMessageDescriptor *response_type,
         ProtobufCMessage **response)
{
    int64_t deadline = mr_mono_ms() + ctx->timeout_ms;
    mr_rpc_client *client = NULL;
    char request_id[MR_UUID_LEN + 1];
    char *detail = NULL;
    int64_t left;
    mr_err err;
    int rc;

    *response = NULL;
    rc = connect_service(ctx, deadline, &client);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    left = deadline - mr_mono_ms();
    mr_uuid_v4(request_id);
    err = mr_rpc_call_sync(client, method, request, response_type, request_id,
                           left > 1 ? (uint32_t)left : 1, response, &detail,
                           NULL);
    if (err != MR_OK) {
        print_call_failure(ctx, err, detail);
    }
    free(detail);
    mr_rpc_client_close(client);
    return err == MR_OK ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

bool
cli_misplaced_global(int argc, char **argv, const char *name)
{
    static const char *const globals[] = {"--registration", "--timeout-ms"};

    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        for (size_t g = 0; g < sizeof(globals) / sizeof(globals[0]); g++) {
            size_t len = strlen(globals[g]);

            if (strncmp(argv[i], globals[g], len) == 0 &&
                (argv[i][len] == '\0' || argv[i][len] == '=')) {
                fprintf(stderr,
                        "mcpreg: %s is an option of mcpreg itself: put it "
                        "before the command, as in 'mcpreg %s VALUE %s'\n",
                        globals[g], globals[g], name);
                return true;
            }
        }
    }
    return false;
}

int
cli_parse_options(const mr_opt *opts, size_t nopts, int argc, char **argv,
                  const char *usage, const char *name)
{
    const char *command = strchr(name, ' ');
    int rest = 0;
    int rc;

    if (cli_misplaced_global(argc, argv, name)) {
        return CLI_EXIT_USAGE;
    }
    rc = mr_opts_parse(opts, nopts, argc, argv, usage, &rest);
    if (rc != 0) {
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    if (rest < argc) {
        fprintf(stderr,
                "mcpreg: '%s' takes no arguments; see 'mcpreg %.*s "
                "--help'\n",
                name, command ? (int)(command - name) : (int)strlen(name),
                name);
        return CLI_EXIT_USAGE;
    }
    return CLI_PARSED;
}

int
cli_print_json(json_t *value)
{
    int rc = json_dumpf(value, stdout, JSON_PRESERVE_ORDER);

    json_decref(value);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "mcpreg: writing the output failed\n");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

json_t *
cli_json_text(const char *text)
{
    json_t *value = text && *text ? json_string(text) : NULL;

    return value ? value : json_null();
}

json_t *
cli_json_time(int64_t ms)
{
    char text[32];

    if (ms == 0) {
        return json_null();
    }
    mr_format_time(ms, text);
    return json_string(text);
}

int
main(int argc, char **argv)
{
    cli_context ctx = {"tcp://127.0.0.1:7401", 10000, "--registration"};
    const mr_opt opts[] = {
        {"registration", "MCPREG_REGISTRATION_DIAL", MR_OPT_STR,
         &ctx.registration_url, "nng URL of the registration service"},
        {"timeout-ms", "MCPREG_TIMEOUT_MS", MR_OPT_INT, &ctx.timeout_ms,
         "maximum time to connect and get the answer, in milliseconds; an "
         "address that refuses connections fails after 2000 ms, and a "
         "service that accepts but never answers 1000 ms after the "
         "maximum"},
    };
    int rest = 0;
    int rc;

    mr_opts_program("mcpreg");

    /* A reader that went away makes writing the output fail with EPIPE,
     * which cli_print_json reports, instead of killing the process:
     * 'key create' must still revoke the key whose secret went nowhere. */
    signal(SIGPIPE, SIG_IGN);
    if (mr_util_init() != MR_OK) {
        fprintf(stderr, "mcpreg: cannot initialise libsodium\n");
        return CLI_EXIT_ERROR;
    }
    /* Every failure is reported once, as the "mcpreg: ..." line. */
    mr_log_init("mcpreg", MR_LOG_NONE, 2);

    rc = mr_opts_parse(opts, sizeof(opts) / sizeof(opts[0]), argc, argv, USAGE,
                       &rest);
    if (rc != 0) {
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    if (mr_opts_source(opts, sizeof(opts) / sizeof(opts[0]), &opts[0], argc,
                       argv) == MR_OPT_FROM_ENV) {
        ctx.registration_option = opts[0].env;
    }
    if (ctx.timeout_ms < 1 || ctx.timeout_ms > TIMEOUT_MS_MAX) {
        fprintf(stderr, "mcpreg: --timeout-ms must be from 1 to %ld\n",
                TIMEOUT_MS_MAX);
        return CLI_EXIT_USAGE;
    }

    if (rest < argc && strcmp(argv[rest], "key") == 0) {
        return cli_key_main(&ctx, argc - rest, argv + rest);
    }
    if (rest < argc && strcmp(argv[rest], "client") == 0) {
        return cli_client_main(&ctx, argc - rest, argv + rest);
    }
    if (rest < argc && strcmp(argv[rest], "provider") == 0) {
        return cli_provider_main(&ctx, argc - rest, argv + rest);
    }
    if (rest < argc && strcmp(argv[rest], "ping") == 0) {
        return cli_ping_main(&ctx, argc - rest, argv + rest);
    }
    fprintf(stderr, "mcpreg: %s; see 'mcpreg --help'\n",
            rest < argc ? "unknown command" : "missing command");
    return CLI_EXIT_USAGE;
}
