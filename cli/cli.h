/* cli.h - shared parts of the mcpreg admin command. */
#ifndef CLI_H
#define CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "mr_err.h"
#include "mr_opts.h"
#include "mr_util.h"

/* Exit statuses: CLI_EXIT_ERROR when the call failed, CLI_EXIT_USAGE for a
 * command line that cannot be run. */
#define CLI_EXIT_OK    0
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2

/* CLI_PARSED is what cli_parse_options returns when the command runs. */
#define CLI_PARSED (-1)

/* cli_context is the connection settings of every command. */
typedef struct {
    const char *registration_url;
    long timeout_ms;
    /* The option that set registration_url, for errors to name:
     * "--registration" or the environment variable. */
    const char *registration_option;
} cli_context;

/* cli_address is the outcome of cli_check_address. */
typedef enum {
    CLI_ADDRESS_USABLE,          /* nng may dial it */
    CLI_ADDRESS_INVALID,         /* malformed: a usage error */
    CLI_ADDRESS_NOTHING_LISTENS, /* well formed, but no service is there */
    CLI_ADDRESS_UNRESOLVED,      /* the host name does not resolve */
    CLI_ADDRESS_WRONG_PEER,      /* the peer is not a REP socket of nng */
    CLI_ADDRESS_SILENT,          /* connected, but no handshake in time */
} cli_address;

/*
 * cli_hold_signals blocks the signals that end a process, such as SIGINT,
 * SIGTERM and SIGPIPE, in the calling thread and the threads it creates,
 * and stores the previous mask in old. Signals of a fault and of job
 * control stay open. While a connection waits for nng's handshake over
 * ipc://, a signal that ended the process would close it early, which
 * can break nng 1.5.2's listener. cli_release_signals restores old, and a
 * signal that came meanwhile is then delivered.
 */
void cli_hold_signals(sigset_t *old);

/* cli_release_signals restores the mask that cli_hold_signals stored. */
void cli_release_signals(const sigset_t *old);

/*
 * cli_check_address checks the address of url, an nng URL, before nng
 * dials it, and writes the reason for any outcome but CLI_ADDRESS_USABLE
 * into reason. It rejects what mr_rpc_check_url rejects. For tcp://
 * (tcp4://, tcp6://, the scheme in any case) it checks the form
 * "host:port" and resolves the host. For ipc:// and unix:// it checks that
 * the socket file exists and is a socket. Then it connects, and exchanges
 * nng's headers with the first address that accepts, waiting up to
 * timeout_ms in all: the peer must be a REP socket. Every address
 * refusing means that nothing listens. Other schemes are usable, so that
 * nng's own dial decides.
 */
cli_address cli_check_address(const char *url, int timeout_ms, char *reason,
                              size_t size);

/*
 * cli_call connects to the registration service and calls method with
 * request, waiting up to ctx->timeout_ms in all. On success it returns
 * CLI_EXIT_OK and *response, which the caller frees with
 * protobuf_c_message_free_unpacked. On failure it prints
 * "mcpreg: <detail> (<code>)" on stderr and returns CLI_EXIT_ERROR.
 */
int cli_call(const cli_context *ctx, const char *method,
             const ProtobufCMessage *request,
             const ProtobufCMessageDescriptor *response_type,
             ProtobufCMessage **response);

/*
 * cli_misplaced_global returns whether argv, the arguments of the command
 * name such as "key list", contains an option of mcpreg itself, such as
 * --timeout-ms. When it does, it prints where that option belongs.
 */
bool cli_misplaced_global(int argc, char **argv, const char *name);

/*
 * cli_parse_options parses the options of the subcommand named name (such
 * as "client list"), which takes no other arguments; usage is its help
 * text. It returns CLI_PARSED when the command should run, CLI_EXIT_OK
 * after printing --help, or CLI_EXIT_USAGE after printing what is wrong.
 */
int cli_parse_options(const mr_opt *opts, size_t nopts, int argc, char **argv,
                      const char *usage, const char *name);

/* cli_print_json writes value as one line on stdout and releases it. It
 * returns CLI_EXIT_OK, or CLI_EXIT_ERROR when stdout fails. */
int cli_print_json(json_t *value);

/* cli_json_text returns a JSON string of text, or JSON null when text is
 * empty or not valid UTF-8, which JSON cannot carry. */
json_t *cli_json_text(const char *text);

/* cli_json_time returns ms (Unix milliseconds) as an RFC 3339 string, or
 * JSON null when ms is 0. */
json_t *cli_json_time(int64_t ms);

/* cli_key_main runs "mcpreg key SUBCOMMAND ..." with argv[0] = "key" and
 * returns the exit status. */
int cli_key_main(const cli_context *ctx, int argc, char **argv);

/* cli_client_main runs "mcpreg client SUBCOMMAND ..." with argv[0] =
 * "client" and returns the exit status. */
int cli_client_main(const cli_context *ctx, int argc, char **argv);

/* cli_provider_main runs "mcpreg provider SUBCOMMAND ..." with argv[0] =
 * "provider" and returns the exit status. */
int cli_provider_main(const cli_context *ctx, int argc, char **argv);

/* cli_ping_main runs "mcpreg ping" with argv[0] = "ping": it calls Ping
 * and returns CLI_EXIT_OK once the registration service replies. */
int cli_ping_main(const cli_context *ctx, int argc, char **argv);

#endif
