/* main.c - mcpreg-gateway: the REST API in front of the registration
 * service. */
#include <stdio.h>
#include <stdlib.h>

#include "gw_server.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_opts.h"
#include "mr_util.h"

static const char usage[] =
    "Usage: mcpreg-gateway [OPTIONS]\n"
    "Serves the REST API under /v1/deepagents and forwards each call to the\n"
    "registration service.";

/* The command-line settings, with their defaults. */
typedef struct {
    const char *listen;
    const char *registration;
    const char *log_level;
    const char *public_base_url;
    long threads;
    long max_connections;
    long max_connections_per_ip;
    long connection_timeout_s;
    long read_timeout_s;
    long request_timeout_ms;
    long register_timeout_ms;
    long shutdown_grace_ms;
    long rpc_batches;
} settings;

/* Prints an error unless value is in [min, max]. */
static bool
in_range(const char *name, long value, long min, long max)
{
    if (value >= min && value <= max) {
        return true;
    }
    mr_opts_fail("invalid --%s %ld: use a value from %ld to %ld", name, value,
                 min, max);
    return false;
}

static bool
check_settings(const settings *s)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    bool ok = true;

    ok &= in_range("threads", s->threads, 1, 256);
    ok &= in_range("max-connections", s->max_connections, 1, 1000000);
    ok &= in_range("max-connections-per-ip", s->max_connections_per_ip, 0,
                   1000000);
    ok &= in_range("connection-timeout-s", s->connection_timeout_s, 1, 86400);
    ok &= in_range("read-timeout-s", s->read_timeout_s, 1, 86400);
    ok &= in_range("request-timeout-ms", s->request_timeout_ms, 1, 600000);
    ok &= in_range("register-timeout-ms", s->register_timeout_ms, 1, 600000);
    ok &= in_range("shutdown-grace-ms", s->shutdown_grace_ms, 0, 600000);
    ok &= in_range("rpc-batches", s->rpc_batches, 0, 64);

    if (gw_parse_listen(s->listen, &addr, &addr_len) != MR_OK) {
        mr_opts_fail(
            "invalid --listen '%s': use IPV4:PORT or [IPV6]:PORT with numeric "
            "addresses, such as 127.0.0.1:8080 or [::1]:8080",
            s->listen);
        ok = false;
    }
    return ok;
}

/* Parses argv into s. Returns -1 to exit 2, 1 to exit 0, 0 to go on. */
static int
parse_settings(settings *s, int argc, char **argv)
{
    const mr_opt opts[] = {
        {"listen", "MCPREG_GATEWAY_LISTEN", MR_OPT_STR, &s->listen,
         "HTTP address to listen on, IPV4:PORT or [IPV6]:PORT"},
        {"registration", "MCPREG_REGISTRATION_DIAL", MR_OPT_STR,
         &s->registration, "nng URL of the registration service to dial"},
        {"threads", NULL, MR_OPT_INT, &s->threads, "HTTP worker threads"},
        {"max-connections", NULL, MR_OPT_INT, &s->max_connections,
         "maximum number of open HTTP connections"},
        {"max-connections-per-ip", NULL, MR_OPT_INT,
         &s->max_connections_per_ip,
         "maximum number of open HTTP connections from one client IP "
         "address; a further connection from it is closed without a "
         "response. 0: no limit. Behind a reverse proxy every connection "
         "comes from the proxy's address, so raise it or set 0"},
        {"connection-timeout-s", NULL, MR_OPT_INT, &s->connection_timeout_s,
         "seconds an idle HTTP connection stays open"},
        {"read-timeout-s", NULL, MR_OPT_INT, &s->read_timeout_s,
         "seconds a client gets to send a whole request, headers and body, "
         "from the accept or the end of the previous response; then the "
         "connection is closed"},
        {"request-timeout-ms", NULL, MR_OPT_INT, &s->request_timeout_ms,
         "deadline in ms of calls that read or change MCP servers"},
        {"register-timeout-ms", NULL, MR_OPT_INT, &s->register_timeout_ms,
         "deadline in ms of POST .../oauth-provider calls"},
        {"shutdown-grace-ms", NULL, MR_OPT_INT, &s->shutdown_grace_ms,
         "ms that requests in progress get to finish at shutdown"},
        {"rpc-batches", NULL, MR_OPT_INT, &s->rpc_batches,
         "batches of repeat oauth-provider calls in flight to the "
         "registration service at once; further calls wait and go out "
         "together in one message. More batches make each smaller: 1 "
         "was fastest on 2 cores. 0: every call alone"},
        {"public-base-url", "MCPREG_PUBLIC_BASE_URL", MR_OPT_STR,
         &s->public_base_url,
         "mcpreg's public base URL; when set, GET " MR_CLIENT_METADATA_PATH
         " serves the client ID metadata document"},
        {"log-level", "MCPREG_LOG_LEVEL", MR_OPT_STR, &s->log_level,
         "minimum log level: debug, info, warn or error"},
    };
    int rest = 0;
    int rc = mr_opts_parse(opts, sizeof(opts) / sizeof(opts[0]), argc, argv,
                           usage, &rest);

    if (rc != 0) {
        return rc;
    }
    if (rest < argc) {
        mr_opts_fail("unexpected argument '%s'; see --help", argv[rest]);
        return -1;
    }
    return check_settings(s) ? 0 : -1;
}

/* Serves until SIGINT or SIGTERM; returns the exit status. */
static int
run(const settings *s)
{
    gw_config cfg = {
        .listen = s->listen,
        .registration_url = s->registration,
        .threads = (int)s->threads,
        .max_connections = (int)s->max_connections,
        .max_connections_per_ip = (int)s->max_connections_per_ip,
        .connection_timeout_s = (int)s->connection_timeout_s,
        .read_timeout_ms = (uint32_t)s->read_timeout_s * 1000,
        .request_timeout_ms = (uint32_t)s->request_timeout_ms,
        .register_timeout_ms = (uint32_t)s->register_timeout_ms,
        .rpc_batches = (int)s->rpc_batches,
        .public_base_url = s->public_base_url,
    };
    gw_server *server = NULL;
    int sig;

    if (gw_server_start(&cfg, &server) != MR_OK) {
        return 1;
    }

    sig = mr_signals_wait();
    MR_INFO("gw.signal", NULL, "received signal %d; shutting down", sig);
    gw_server_stop(server, (int)s->shutdown_grace_ms);
    return 0;
}

int
main(int argc, char **argv)
{
    settings s = {
        .listen = "127.0.0.1:8080",
        .registration = "tcp://127.0.0.1:7401",
        .log_level = "info",
        .threads = 2,
        .max_connections = 1024,
        .max_connections_per_ip = 64,
        .connection_timeout_s = 30,
        .read_timeout_s = 10,
        .request_timeout_ms = 5000,
        .register_timeout_ms = 30000,
        .shutdown_grace_ms = 5000,
        .rpc_batches = 1,
    };
    mr_log_level level;
    int rc;

    mr_opts_program("mcpreg-gateway");
    mr_signals_block();
    if (mr_util_init() != MR_OK) {
        mr_opts_fail("initialising libsodium failed");
        return 1;
    }

    rc = parse_settings(&s, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    if (mr_log_parse_level(s.log_level, &level) != 0) {
        mr_opts_fail(
            "invalid --log-level '%s': use debug, info, warn or error",
            s.log_level);
        return 2;
    }
    mr_log_init("gateway", level, 1);
    mr_log_buffer(MR_LOG_FLUSH_MS);

    return run(&s);
}
