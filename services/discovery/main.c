/* main.c - mcpreg-discovery: the outbound OAuth discovery and dynamic
 * client registration worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "disc_worker.h"
#include "mr_allow.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_opts.h"
#include "mr_util.h"

/* SHUTDOWN_GRACE_MS is how long running jobs may go on after SIGTERM
 * before they fail with MR_ESHUTTING_DOWN. With the RPC server's own
 * second for the last replies, the process exits within about 4 s, before
 * a supervisor that waits 5 s would kill it. */
#define SHUTDOWN_GRACE_MS 3000

/* METADATA_CACHE_MAX_S bounds --metadata-cache-max-s at one day, so that
 * a changed authorization server is noticed within a day at the latest. */
#define METADATA_CACHE_MAX_S 86400

static const char usage[] =
    "Usage: mcpreg-discovery [options]\n"
    "\n"
    "Dials the registration service's job socket and, for each job, runs\n"
    "OAuth discovery for an MCP server and registers a client at its\n"
    "authorization server (RFC 9728, RFC 8414, RFC 7591).";

/* options contains the values of the command-line flags. */
typedef struct {
    const char *jobs_url;
    const char *public_base_url;
    const char *dev_allow_hosts;
    long max_jobs;
    long connect_timeout_ms;
    long fetch_timeout_ms;
    long max_response_bytes;
    long metadata_cache_max_s;
    const char *log_level;
    bool client_metadata_document;
} options;

/* parse_options reads the flags into o. It returns -1 to go on, or the
 * exit status: 0 after --help, 2 after an error it printed. */
static int
parse_options(int argc, char **argv, options *o)
{
    const mr_opt opts[] = {
        {"jobs", "MCPREG_JOBS_DIAL", MR_OPT_STR, &o->jobs_url,
         "nng URL of the registration service's job socket, which this "
         "worker dials"},
        {"public-base-url", "MCPREG_PUBLIC_BASE_URL", MR_OPT_STR,
         &o->public_base_url,
         "public base URL of mcpreg; the redirect URI registered is this "
         "URL followed by " MR_CALLBACK_PATH},
        {"dev-allow-hosts", "MCPREG_DEV_ALLOW_HOSTS", MR_OPT_STR,
         &o->dev_allow_hosts,
         "host names, IP addresses and CIDR ranges (127.0.0.0/8, "
         "::1/128), separated by commas or spaces, that may be fetched at "
         "addresses that "
         "are not public. A listed host may use http and any address. A "
         "range admits the addresses in it, and http only for URLs whose "
         "host is an IP address in it, so a host name that resolves into "
         "a range still needs https. For development and tests only; "
         "empty by default"},
        {"max-jobs", NULL, MR_OPT_INT, &o->max_jobs,
         "jobs queued or running at once; more are rejected with "
         "too_many_registrations"},
        {"connect-timeout-ms", NULL, MR_OPT_INT, &o->connect_timeout_ms,
         "connect timeout of each HTTP request, in milliseconds"},
        {"fetch-timeout-ms", NULL, MR_OPT_INT, &o->fetch_timeout_ms,
         "total timeout of each HTTP request, redirects included, in "
         "milliseconds"},
        {"max-response-bytes", NULL, MR_OPT_INT, &o->max_response_bytes,
         "largest response body accepted, in bytes"},
        {"metadata-cache-max-s", NULL, MR_OPT_INT, &o->metadata_cache_max_s,
         "longest time in seconds that an MCP server's discovered metadata "
         "is reused by later jobs, even when its Cache-Control or Expires "
         "allows longer; 0 makes every job discover again"},
        {"log-level", "MCPREG_LOG_LEVEL", MR_OPT_STR, &o->log_level,
         "lowest level logged: debug, info, warn or error"},
        {"client-metadata-document", NULL, MR_OPT_BOOL,
         &o->client_metadata_document,
         "at authorization servers that support client ID metadata "
         "documents, use --public-base-url followed "
         "by " MR_CLIENT_METADATA_PATH " as the client_id instead of "
         "registering; needs an https --public-base-url and a gateway that "
         "serves that document"},
    };
    int rc = mr_opts_parse(opts, sizeof(opts) / sizeof(opts[0]), argc, argv,
                           usage, NULL);

    if (rc == 1) {
        return 0;
    }
    return rc < 0 ? 2 : -1;
}

/* check_numbers prints an error and returns false when a numeric flag is
 * out of range. */
static bool
check_numbers(const options *o)
{
    const struct {
        const char *flag;
        long value;
        long min;
    } limits[] = {
        {"--max-jobs", o->max_jobs, 1},
        {"--connect-timeout-ms", o->connect_timeout_ms, 1},
        {"--fetch-timeout-ms", o->fetch_timeout_ms, 1},
        {"--max-response-bytes", o->max_response_bytes, 1024},
        {"--metadata-cache-max-s", o->metadata_cache_max_s, 0},
    };

    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        if (limits[i].value < limits[i].min) {
            mr_opts_fail("invalid value %ld for %s: use at least %ld",
                         limits[i].value, limits[i].flag, limits[i].min);
            return false;
        }
    }
    if (o->max_jobs > 4096) {
        mr_opts_fail("invalid value %ld for --max-jobs: use at most 4096",
                     o->max_jobs);
        return false;
    }
    if (o->metadata_cache_max_s > METADATA_CACHE_MAX_S) {
        mr_opts_fail(
            "invalid value %ld for --metadata-cache-max-s: use at most %d",
            o->metadata_cache_max_s, METADATA_CACHE_MAX_S);
        return false;
    }
    return true;
}

/* make_public_url checks --public-base-url and returns it, without a
 * trailing "/", followed by path; NULL after printing why. */
static char *
make_public_url(const char *base, const char *path)
{
    disc_url url;
    const char *why = NULL;
    size_t len = strlen(base);
    char *out;

    if (disc_url_parse(base, &url, &why) != MR_OK) {
        mr_opts_fail("invalid --public-base-url \"%s\": it %s", base, why);
        return NULL;
    }
    if (url.query != NULL) {
        mr_opts_fail("invalid --public-base-url \"%s\": remove its query",
                     base);
        disc_url_free(&url);
        return NULL;
    }
    disc_url_free(&url);

    while (len > 0 && base[len - 1] == '/') {
        len--;
    }
    out = malloc(len + strlen(path) + 1);
    if (out != NULL) {
        memcpy(out, base, len);
        memcpy(out + len, path, strlen(path) + 1);
    }
    return out;
}

/* run starts the worker, waits for SIGINT or SIGTERM and stops it; it
 * returns the exit status. */
static int
run(const options *o, const mr_allow_list *allow, const char *redirect_uri,
    const char *client_metadata_url)
{
    disc_worker_config cfg = {
        .jobs_url = o->jobs_url,
        .engine =
            {
                .allow = allow,
                .redirect_uri = redirect_uri,
                .client_metadata_url = client_metadata_url,
                .max_jobs = o->max_jobs,
                .connect_timeout_ms = o->connect_timeout_ms,
                .fetch_timeout_ms = o->fetch_timeout_ms,
                .max_response_bytes = o->max_response_bytes,
                .metadata_cache_max_ms =
                    (int64_t)o->metadata_cache_max_s * 1000,
            },
    };
    disc_worker *worker = NULL;
    int sig;

    if (disc_worker_start(&cfg, &worker) != MR_OK) {
        return 1;
    }
    MR_INFO("disc.start", NULL,
            "discovery worker started: jobs %s, redirect URI %s, %zu hosts "
            "and %zu CIDR ranges on the development allow-list, at most "
            "%ld jobs",
            o->jobs_url, redirect_uri, allow->count, allow->nranges,
            o->max_jobs);

    sig = mr_signals_wait();
    MR_INFO("disc.stop", NULL, "received signal %d; stopping", sig);
    disc_worker_stop(worker, SHUTDOWN_GRACE_MS);
    MR_INFO("disc.stopped", NULL, "discovery worker stopped");
    return 0;
}

/* make_client_metadata_url sets *out to the client ID metadata document
 * URL when --client-metadata-document is set, else leaves it NULL. It
 * returns false after printing what is wrong. */
static bool
make_client_metadata_url(const options *o, char **out)
{
    if (!o->client_metadata_document) {
        return true;
    }
    if (strncmp(o->public_base_url, "https://", 8) != 0) {
        mr_opts_fail(
            "--client-metadata-document needs an https --public-base-url, "
            "because a client_id URL must use https; \"%s\" does not",
            o->public_base_url);
        return false;
    }
    *out = make_public_url(o->public_base_url, MR_CLIENT_METADATA_PATH);
    return *out != NULL;
}

/* configure checks the flags and builds the allow-list, the redirect URI
 * and the client ID metadata document URL. It returns false after
 * printing what is wrong. */
static bool
configure(const options *o, mr_allow_list *allow, char **redirect_uri,
          char **client_metadata_url)
{
    mr_log_level level = MR_LOG_INFO;
    char why[512];

    if (mr_log_parse_level(o->log_level, &level) != 0) {
        mr_opts_fail(
            "invalid --log-level \"%s\": use debug, info, warn or error",
            o->log_level);
        return false;
    }
    mr_log_init("discovery", level, 1);
    mr_log_buffer(MR_LOG_FLUSH_MS);

    if (!check_numbers(o)) {
        return false;
    }
    if (mr_allow_parse_option(o->dev_allow_hosts, allow, why, sizeof(why)) !=
        MR_OK) {
        mr_opts_fail("%s", why);
        return false;
    }
    if (mr_allow_ranges_beyond_loopback(allow, why, sizeof(why)) > 0) {
        MR_WARN("disc.allow.beyond_loopback", NULL,
                "--dev-allow-hosts ranges %s contain addresses outside "
                "loopback, and the worker connects to any address in them",
                why);
    }
    *redirect_uri = make_public_url(o->public_base_url, MR_CALLBACK_PATH);
    return *redirect_uri != NULL &&
           make_client_metadata_url(o, client_metadata_url);
}

int
main(int argc, char **argv)
{
    options o = {
        .jobs_url = "tcp://127.0.0.1:7402",
        .public_base_url = "http://127.0.0.1:8080",
        .dev_allow_hosts = "",
        .max_jobs = 256,
        .connect_timeout_ms = 5000,
        .fetch_timeout_ms = 10000,
        .max_response_bytes = 256 * 1024,
        .metadata_cache_max_s = 300,
        .log_level = "info",
    };
    mr_allow_list allow = {0};
    char *redirect_uri = NULL;
    char *client_metadata_url = NULL;
    int status;

    mr_opts_program("mcpreg-discovery");
    mr_signals_block();
    status = parse_options(argc, argv, &o);
    if (status >= 0) {
        return status;
    }

    status = 2;
    if (!configure(&o, &allow, &redirect_uri, &client_metadata_url)) {
        goto out;
    }

    status = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        mr_util_init() != MR_OK) {
        mr_opts_fail("failed to initialise libcurl or libsodium");
        goto out;
    }
    status = run(&o, &allow, redirect_uri, client_metadata_url);
    curl_global_cleanup();
out:
    free(redirect_uri);
    free(client_metadata_url);
    mr_allow_free(&allow);
    return status;
}
