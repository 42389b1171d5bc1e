/* main.c - mcpreg-registration: the service that stores MCP servers, API
 * keys and per-user OAuth provider mappings, and sends discovery jobs. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "mr_log.h"
#include "mr_opts.h"
#include "mr_util.h"
#include "reg_deletions.h"
#include "reg_flights.h"
#include "reg_providers.h"
#include "reg_reseal.h"
#include "reg_service.h"

#define USAGE                                                                 \
    "usage: mcpreg-registration [options]\n"                                  \
    "\n"                                                                      \
    "Serves the Registration RPCs and sends discovery jobs to the workers\n"  \
    "that dial --jobs-listen. The sealing key comes from --secret-key-file\n" \
    "or MCPREG_SECRET_KEY (64 hex characters); --demo makes one instead.\n"   \
    "\n"                                                                      \
    "To rotate the key, give the new key a new --secret-key-id, list the\n"   \
    "old one in --retired-key-files, and run once with --reseal while the\n"  \
    "service is stopped; after that the old key is no longer needed."

/* The largest settings accepted; they guard against typos, not tuning. */
#define CACHE_MB_MAX   (1L << 20)
#define CONTEXTS_MAX   65536L
#define KEY_CACHE_MAX  (1L << 24)
#define MAX_JOBS_MAX   65536L
#define TIMEOUT_MS_MAX 3600000L
#define MAX_AGE_S_MAX  (365L * 24 * 3600)

/* DELETE_TIMEOUT_MS bounds one RFC 7592 deletion call, queueing at the
 * worker included. */
#define DELETE_TIMEOUT_MS 30000

typedef struct {
    const char *data_dir;
    long cache_mb;
    long key_cache_entries;
    const char *secret_key_file;
    long secret_key_id;
    const char *retired_key_files;
    bool demo;
    bool reseal;
    const char *listen;
    long contexts;
    const char *jobs_listen;
    long job_timeout_ms;
    long max_jobs;
    long max_deletions;
    long deletion_max_age_s;
    const char *dev_allow_hosts;
    long shutdown_grace_ms;
    const char *log_level;
} config;

static int
parse_config(config *cfg, int argc, char **argv)
{
    const mr_opt opts[] = {
        {"data", "MCPREG_DATA_DIR", MR_OPT_STR, &cfg->data_dir,
         "folder of the RocksDB store, created when missing"},
        {"cache-mb", "MCPREG_CACHE_MB", MR_OPT_INT, &cfg->cache_mb,
         "memory of the RocksDB caches, in MiB: three quarters for blocks, "
         "a quarter for records read by key"},
        {"key-cache-entries", "MCPREG_KEY_CACHE_ENTRIES", MR_OPT_INT,
         &cfg->key_cache_entries,
         "API keys kept resolved in memory, about 110 bytes each plus the "
         "user id; revoking a key drops it at once. 0: read every key from "
         "the store"},
        {"secret-key-file", "MCPREG_SECRET_KEY_FILE", MR_OPT_STR,
         &cfg->secret_key_file,
         "file with the 32-byte sealing key, raw or as 64 hex characters"},
        {"secret-key-id", "MCPREG_SECRET_KEY_ID", MR_OPT_INT,
         &cfg->secret_key_id, "id stored with every sealed secret, 1 or more"},
        {"retired-key-files", "MCPREG_RETIRED_KEY_FILES", MR_OPT_STR,
         &cfg->retired_key_files,
         "comma-separated ID:PATH items: earlier sealing keys and their ids, "
         "in files like --secret-key-file's, that only open secrets sealed "
         "before a rotation (paths must not contain commas)"},
        {"reseal", NULL, MR_OPT_BOOL, &cfg->reseal,
         "seal every stored secret again under the current key, print a "
         "JSON summary and exit (status 1 when a record failed); the "
         "service must be stopped"},
        {"demo", "MCPREG_DEMO", MR_OPT_BOOL, &cfg->demo,
         "without a key, create and reuse DATA/demo-secret.key (not for "
         "production)"},
        {"listen", "MCPREG_REGISTRATION_LISTEN", MR_OPT_STR, &cfg->listen,
         "nng URL of the Registration RPCs"},
        {"contexts", "MCPREG_REGISTRATION_CONTEXTS", MR_OPT_INT,
         &cfg->contexts, "RPC calls handled at once"},
        {"jobs-listen", "MCPREG_JOBS_LISTEN", MR_OPT_STR, &cfg->jobs_listen,
         "nng URL that discovery workers dial"},
        {"job-timeout-ms", "MCPREG_JOB_TIMEOUT_MS", MR_OPT_INT,
         &cfg->job_timeout_ms,
         "maximum time of one discovery job, in milliseconds"},
        {"max-jobs", "MCPREG_MAX_JOBS", MR_OPT_INT, &cfg->max_jobs,
         "discovery jobs in flight at once; more get too_many_registrations"},
        {"max-deletions", "MCPREG_MAX_DELETIONS", MR_OPT_INT,
         &cfg->max_deletions,
         "RFC 7592 client deletions sent to workers at once; the others "
         "wait"},
        {"deletion-max-age-s", "MCPREG_DELETION_MAX_AGE_S", MR_OPT_INT,
         &cfg->deletion_max_age_s,
         "how long a failing client deletion is retried, in seconds"},
        {"dev-allow-hosts", "MCPREG_DEV_ALLOW_HOSTS", MR_OPT_STR,
         &cfg->dev_allow_hosts,
         "host names, IP addresses and CIDR ranges (127.0.0.0/8, "
         "::1/128), separated by commas or spaces. MCP server URLs and "
         "operator-client "
         "issuers may use plain http when their host is listed or is an IP "
         "address in a listed range, as for the discovery worker. For "
         "development and tests only; empty by default"},
        {"shutdown-grace-ms", "MCPREG_SHUTDOWN_GRACE_MS", MR_OPT_INT,
         &cfg->shutdown_grace_ms,
         "time given to running calls and jobs at shutdown, in milliseconds"},
        {"log-level", "MCPREG_LOG_LEVEL", MR_OPT_STR, &cfg->log_level,
         "debug, info, warn or error"},
    };
    int rest = 0;
    int rc = mr_opts_parse(opts, sizeof(opts) / sizeof(opts[0]), argc, argv,
                           USAGE, &rest);

    if (rc == 0 && rest < argc) {
        mr_opts_fail("unexpected argument '%s'; see --help", argv[rest]);
        rc = -1;
    }
    return rc;
}

static bool
in_range(const char *flag, long value, long min, long max)
{
    if (value >= min && value <= max) {
        return true;
    }
    mr_opts_fail("--%s is %ld; expected %ld to %ld", flag, value, min, max);
    return false;
}

static bool
check_config(const config *cfg, mr_log_level *level)
{
    if (mr_log_parse_level(cfg->log_level, level) != 0) {
        mr_opts_fail(
            "--log-level is '%s'; expected debug, info, warn or error",
            cfg->log_level);
        return false;
    }
    return in_range("cache-mb", cfg->cache_mb, 1, CACHE_MB_MAX) &&
           in_range("key-cache-entries", cfg->key_cache_entries, 0,
                    KEY_CACHE_MAX) &&
           in_range("secret-key-id", cfg->secret_key_id, 1, UINT32_MAX) &&
           in_range("contexts", cfg->contexts, 1, CONTEXTS_MAX) &&
           in_range("job-timeout-ms", cfg->job_timeout_ms, 1,
                    TIMEOUT_MS_MAX) &&
           in_range("max-jobs", cfg->max_jobs, 1, MAX_JOBS_MAX) &&
           in_range("max-deletions", cfg->max_deletions, 1, MAX_JOBS_MAX) &&
           in_range("deletion-max-age-s", cfg->deletion_max_age_s, 1,
                    MAX_AGE_S_MAX) &&
           in_range("shutdown-grace-ms", cfg->shutdown_grace_ms, 0,
                    TIMEOUT_MS_MAX);
}

/* Loads the sealing key from --secret-key-file, MCPREG_SECRET_KEY or, with
 * --demo, the demo key file; the store folder must exist for the last. */
static mr_err
load_seal(const config *cfg, reg_seal *seal)
{
    uint8_t key[REG_SEAL_KEY_LEN];
    const char *hex = getenv("MCPREG_SECRET_KEY");
    char why[512] = "";
    int created = 0;
    mr_err err;

    if (cfg->secret_key_file != NULL && cfg->secret_key_file[0] != '\0') {
        err = reg_seal_key_from_file(cfg->secret_key_file, key, why,
                                     sizeof(why));
    } else if (hex != NULL && hex[0] != '\0') {
        err = reg_seal_key_from_hex(hex, key, why, sizeof(why));
    } else if (cfg->demo) {
        err =
            reg_seal_demo_key(cfg->data_dir, key, &created, why, sizeof(why));
        if (err == MR_OK) {
            MR_WARN("reg.seal.demo", NULL,
                    "%s the demo sealing key %s/%s; secrets sealed with it "
                    "are only as safe as that file, so do not use --demo in "
                    "production",
                    created ? "created" : "using", cfg->data_dir,
                    REG_SEAL_DEMO_FILE);
        }
    } else {
        snprintf(why, sizeof(why),
                 "no sealing key: set --secret-key-file or MCPREG_SECRET_KEY, "
                 "or pass --demo for a local trial");
        err = MR_EINVALID_FIELD;
    }

    if (err != MR_OK) {
        MR_ERROR("reg.seal.key", NULL, "%s", why);
        return err;
    }
    reg_seal_init(seal, key, (uint32_t)cfg->secret_key_id);
    sodium_memzero(key, sizeof(key));

    err = reg_seal_add_retired_files(seal, cfg->retired_key_files, why,
                                     sizeof(why));
    if (err != MR_OK) {
        MR_ERROR("reg.seal.retired", NULL, "--retired-key-files: %s", why);
    }
    return err;
}

/* Returns whether a sealing key is configured, so --demo is not needed. */
static bool
key_configured(const config *cfg)
{
    const char *hex = getenv("MCPREG_SECRET_KEY");

    return (cfg->secret_key_file != NULL && cfg->secret_key_file[0] != '\0') ||
           (hex != NULL && hex[0] != '\0');
}

/* Starts the queue of RFC 7592 deletions, which resumes those that an
 * earlier run left in the store. */
static mr_err
start_deletions(const config *cfg, reg_service *service)
{
    reg_deletion_config deletions = {
        .jobs = reg_providers_jobs(service->providers),
        .max_in_flight = cfg->max_deletions,
        .max_age_ms = (int64_t)cfg->deletion_max_age_s * 1000,
        .first_delay_ms = REG_DELETION_FIRST_DELAY_MS,
        .max_delay_ms = REG_DELETION_MAX_DELAY_MS,
        .timeout_ms = DELETE_TIMEOUT_MS,
    };

    return reg_deletions_start(service, &deletions);
}

/* Opens the store, loads the sealing key and starts both sockets. A missing
 * key fails before the store folder is created, unless --demo needs it. */
static mr_err
start(const config *cfg, reg_service *service, mr_rpc_server **server)
{
    reg_providers_config jobs = {cfg->jobs_listen, cfg->max_jobs,
                                 (uint32_t)cfg->job_timeout_ms};
    bool demo_key = cfg->demo && !key_configured(cfg);
    reg_providers *providers = NULL;
    char why[1024] = "";
    mr_err err = MR_OK;

    if (!demo_key) {
        err = load_seal(cfg, &service->seal);
    }
    if (err != MR_OK) {
        return err;
    }

    err = reg_store_open(&service->store, cfg->data_dir, cfg->cache_mb, why,
                         sizeof(why));
    if (err != MR_OK) {
        MR_ERROR("reg.store.open", NULL, "%s", why);
        return err;
    }
    if (demo_key) {
        err = load_seal(cfg, &service->seal);
    }
    if (err == MR_OK) {
        err = reg_keycache_new((size_t)cfg->key_cache_entries, &service->keys);
    }
    if (err == MR_OK) {
        err = reg_providers_open(&providers, service, &jobs);
    }
    if (err == MR_OK) {
        err = start_deletions(cfg, service);
    }
    if (err == MR_OK) {
        err = reg_service_start(server, service, cfg->listen,
                                (int)cfg->contexts);
    }
    return err;
}

/* Stops in the order that lets every waiting call get a reply: jobs
 * first, while the RPC server can still send their failures, then the
 * server, then the jobs socket, and the store last. */
static void
stop(const config *cfg, reg_service *service, mr_rpc_server *server)
{
    int64_t deadline = mr_mono_ms() + cfg->shutdown_grace_ms;
    int64_t left;

    if (service->providers != NULL) {
        reg_providers_drain(service->providers, (int)cfg->shutdown_grace_ms);
    }

    /* Calls that are not waiting for a job end quickly, so the server gets
     * what is left of the grace time, and at least one second to send the
     * failures of the drain. */
    left = deadline - mr_mono_ms();
    mr_rpc_server_stop(server, left > 1000 ? (int)left : 1000);
    reg_deletions_stop(service);
    reg_providers_close(service->providers);
    reg_deletions_close(service);
    reg_store_close(service->store);
    service->store = NULL;
    reg_keycache_free(service->keys);
    service->keys = NULL;
    reg_url_rules_free(&service->url_rules);
    reg_seal_wipe(&service->seal);
}

/* Returns whether dir contains a RocksDB store, so that --reseal does not
 * create an empty one from a mistyped --data. */
static bool
store_exists(const char *dir)
{
    char path[4096];
    struct stat st;

    if (snprintf(path, sizeof(path), "%s/CURRENT", dir) >= (int)sizeof(path)) {
        return false;
    }
    return stat(path, &st) == 0;
}

/* Runs --reseal: seals every stored secret again under the current key and
 * prints the summary on stdout. RocksDB's LOCK file makes the open fail
 * while the service runs on the same store. Returns the exit status. */
static int
reseal(const config *cfg)
{
    reg_reseal_summary summary;
    reg_store *store = NULL;
    reg_seal seal = {0};
    char why[1024] = "";
    int status = 1;
    mr_err err;

    if (!key_configured(cfg)) {
        MR_ERROR("reg.reseal.key", NULL,
                 "--reseal needs the current key in --secret-key-file or "
                 "MCPREG_SECRET_KEY; --demo is not accepted");
        return 2;
    }
    if (!store_exists(cfg->data_dir)) {
        MR_ERROR("reg.reseal.store", NULL,
                 "no RocksDB store in %s; pass the --data of the service",
                 cfg->data_dir);
        return 2;
    }

    err = load_seal(cfg, &seal);
    if (err == MR_OK) {
        err = reg_store_open(&store, cfg->data_dir, cfg->cache_mb, why,
                             sizeof(why));
        if (err != MR_OK) {
            MR_ERROR("reg.reseal.open", NULL,
                     "%s; stop the registration service before --reseal", why);
        }
    }
    if (err == MR_OK) {
        err = reg_reseal_run(store, &seal, REG_RESEAL_BATCH, &summary);
        reg_reseal_print_json(&summary, stdout);
        fflush(stdout);
    }
    if (err == MR_OK && reg_reseal_failed(&summary) == 0) {
        status = 0;
    }

    reg_store_close(store);
    reg_seal_wipe(&seal);
    return status;
}

int
main(int argc, char **argv)
{
    config cfg = {
        .data_dir = "./data",
        .cache_mb = 64,
        .key_cache_entries = 16384,
        .secret_key_id = 1,
        .retired_key_files = "",
        .listen = "tcp://127.0.0.1:7401",
        .contexts = 256,
        .jobs_listen = "tcp://127.0.0.1:7402",
        .job_timeout_ms = 25000,
        .max_jobs = 128,
        .max_deletions = 4,
        .deletion_max_age_s = 24 * 3600,
        .dev_allow_hosts = "",
        .shutdown_grace_ms = 5000,
        .log_level = "info",
    };
    reg_service service = {0};
    mr_rpc_server *server = NULL;
    mr_log_level level = MR_LOG_INFO;
    char why[512];
    int rc;
    int sig;

    mr_opts_program("mcpreg-registration");
    mr_signals_block();
    if (mr_util_init() != MR_OK) {
        mr_opts_fail("cannot initialise libsodium");
        return 1;
    }
    rc = parse_config(&cfg, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    if (!check_config(&cfg, &level)) {
        return 2;
    }
    if (reg_url_rules_parse(&service.url_rules, cfg.dev_allow_hosts, why,
                            sizeof(why)) != MR_OK) {
        mr_opts_fail("%s", why);
        return 2;
    }
    if (cfg.reseal) {
        /* The log goes to stderr, so that stdout contains the summary only. */
        mr_log_init("registration", level, 2);
        rc = reseal(&cfg);
        reg_url_rules_free(&service.url_rules);
        return rc;
    }
    mr_log_init("registration", level, 1);
    mr_log_buffer(MR_LOG_FLUSH_MS);
    if (mr_allow_ranges_beyond_loopback(&service.url_rules.allow, why,
                                        sizeof(why)) > 0) {
        MR_WARN("reg.allow.beyond_loopback", NULL,
                "--dev-allow-hosts ranges %s contain addresses outside "
                "loopback, and the service accepts http URLs whose host is "
                "an address in them",
                why);
    }

    if (start(&cfg, &service, &server) != MR_OK) {
        stop(&cfg, &service, server);
        return 1;
    }
    MR_INFO("reg.start", NULL,
            "registration service ready on %s; store %s; sealing key id %ld "
            "and %zu retired keys",
            cfg.listen, cfg.data_dir, cfg.secret_key_id,
            service.seal.n_retired);

    sig = mr_signals_wait();
    MR_INFO("reg.stop", NULL, "signal %d: stopping within %ld ms", sig,
            cfg.shutdown_grace_ms);
    stop(&cfg, &service, server);
    MR_INFO("reg.stopped", NULL, "registration service stopped");
    return 0;
}
