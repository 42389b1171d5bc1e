/*
 * first_calls.c - measures first-time registrations through the gateway:
 * one call alone (the critical path), then --count calls at once for
 * distinct users of one MCP server. Every call is
 * POST /v1/deepagents/mcp-servers/ID/oauth-provider with the body
 * {"ls_user_id":"PREFIX-N"}, over HTTP/1.1 without pipelining, on one curl
 * multi handle that opens as many connections as there are calls. Prints
 * one JSON line with the timings in milliseconds:
 * {"alone_ms":..,"count":..,"all_ms":..,"ratio":..,"failed":..,
 *  "distinct_ids":..}
 *
 *   first_calls --gateway URL --key SERVICE_KEY --server ID
 *               [--count 1000] [--prefix NAME] [--warm N]
 *
 * --warm runs N calls at once, untimed, between the call alone and the
 * timed ones, so that every discovery worker behind the gateway has the
 * server's metadata cached: the call alone warms only the worker it
 * reached.
 *
 * A call fails on a transport error, a status other than 200, or a body
 * without a string oauth_provider_id. The process exits 1 when the call
 * alone fails, and 0 when it prints its line.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <jansson.h>

/* CALL_TIMEOUT_MS fails a call that has not finished after 300 s, so that
 * a lost response cannot hang the benchmark. */
#define CALL_TIMEOUT_MS 300000L

/* BODY_MAX fails a call whose response body is larger than this. */
#define BODY_MAX (1024 * 1024)

/* EVENTS_MAX is how many ready sockets one epoll_wait returns. */
#define EVENTS_MAX 256

/* WAIT_MAX_MS bounds one epoll_wait when curl has no timer set. */
#define WAIT_MAX_MS 1000

typedef struct {
    const char *gateway;
    const char *key;
    const char *server;
    int count;
    int warm;
    const char *prefix;
} options;

/* One registration call and its outcome. */
typedef struct {
    CURL *easy;
    char *user;
    char *request_body;
    char *response;
    size_t response_len;
    bool done;
    bool ok;
    char *provider_id; /* on success */
    char failure[256]; /* on failure */
} first_call;

/* The multi handle and the epoll set that waits for its sockets. */
typedef struct {
    CURLM *multi;
    int epoll_fd;
    int64_t timer_due_ms; /* -1: curl has no timer set */
    int done;
    char *url;
    struct curl_slist *headers;
} multi_client;

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
now_ms(void)
{
    return now_ns() / 1000000;
}

/* ---- curl's event callbacks on epoll ---- */

/* on_socket is curl's CURLMOPT_SOCKETFUNCTION: it sets the events to wait
 * for on s, or removes s. socketp is non-NULL once s is in the set. */
static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    multi_client *client = userp;
    struct epoll_event ev = {.data.fd = s};
    int op = socketp != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(client->epoll_fd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) |
                (what & CURL_POLL_OUT ? EPOLLOUT : 0);

    rc = epoll_ctl(client->epoll_fd, op, s, &ev);
    if (rc != 0 && (errno == ENOENT || errno == EEXIST)) {
        /* A closed socket leaves the set by itself, and a new socket may
         * get its number, so the other operation is tried. */
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        rc = epoll_ctl(client->epoll_fd, op, s, &ev);
    }
    if (rc != 0) {
        fprintf(stderr, "first_calls: epoll_ctl on socket %d failed: %s\n",
                (int)s, strerror(errno));
        return -1;
    }
    if (socketp == NULL) {
        curl_multi_assign(client->multi, s, client);
    }
    return 0;
}

/* on_timer is curl's CURLMOPT_TIMERFUNCTION. */
static int
on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    multi_client *client = userp;

    (void)multi;
    client->timer_due_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    return 0;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    first_call *call = userp;
    size_t n = size * nmemb;
    char *grown;

    if (call->response_len + n > BODY_MAX) {
        return 0;
    }
    grown = realloc(call->response, call->response_len + n + 1);
    if (grown == NULL) {
        return 0;
    }
    memcpy(grown + call->response_len, data, n);
    call->response = grown;
    call->response_len += n;
    call->response[call->response_len] = '\0';
    return n;
}

/* ---- the calls ---- */

/* finish records the outcome of call from its status and body. */
static void
finish(first_call *call, CURLcode result)
{
    long status = 0;
    json_t *doc;
    const char *id;

    call->done = true;
    if (result != CURLE_OK) {
        snprintf(call->failure, sizeof(call->failure), "user %s: %s",
                 call->user, curl_easy_strerror(result));
        return;
    }
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        snprintf(call->failure, sizeof(call->failure),
                 "user %s: HTTP %ld %.160s", call->user, status,
                 call->response ? call->response : "");
        return;
    }

    doc = json_loadb(call->response ? call->response : "", call->response_len,
                     0, NULL);
    id = json_string_value(json_object_get(doc, "oauth_provider_id"));
    if (id != NULL) {
        call->provider_id = strdup(id);
        call->ok = call->provider_id != NULL;
    }
    if (!call->ok) {
        snprintf(call->failure, sizeof(call->failure),
                 "user %s: HTTP 200 without oauth_provider_id: %.160s",
                 call->user, call->response ? call->response : "");
    }
    json_decref(doc);
}

static void
collect_done(multi_client *client)
{
    CURLMsg *msg;
    int left = 0;
    first_call *call = NULL;

    for (msg = curl_multi_info_read(client->multi, &left); msg != NULL;
         msg = curl_multi_info_read(client->multi, &left)) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
        finish(call, msg->data.result);
        curl_multi_remove_handle(client->multi, msg->easy_handle);
        client->done++;
    }
}

/* prepare creates the easy handle of call; nothing is sent yet. */
static bool
prepare(multi_client *client, first_call *call, const char *prefix,
        const char *suffix)
{
    json_t *body;
    size_t len = strlen(prefix) + strlen(suffix) + 2;

    call->user = malloc(len);
    call->easy = curl_easy_init();
    if (call->user == NULL || call->easy == NULL) {
        return false;
    }
    snprintf(call->user, len, "%s-%s", prefix, suffix);
    body = json_pack("{s:s}", "ls_user_id", call->user);
    call->request_body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (call->request_body == NULL) {
        return false;
    }

    curl_easy_setopt(call->easy, CURLOPT_URL, client->url);
    curl_easy_setopt(call->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(call->easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(call->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, client->headers);
    curl_easy_setopt(call->easy, CURLOPT_POSTFIELDS, call->request_body);
    curl_easy_setopt(call->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, CALL_TIMEOUT_MS);
    curl_easy_setopt(call->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(call->easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(call->easy, CURLOPT_PRIVATE, (char *)call);
    return true;
}

static void
call_free(first_call *call)
{
    if (call->easy != NULL) {
        curl_easy_cleanup(call->easy);
    }
    free(call->user);
    free(call->request_body);
    free(call->response);
    free(call->provider_id);
}

/* socket_events converts epoll's events to curl's CURL_CSELECT_ bits; an
 * error or hang-up counts as both, so that curl meets it and reports its
 * cause. */
static int
socket_events(uint32_t events)
{
    int mask = 0;

    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        mask |= CURL_CSELECT_IN;
    }
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
        mask |= CURL_CSELECT_OUT;
    }
    return mask;
}

static int
wait_ms(const multi_client *client)
{
    int64_t now = now_ms();

    if (client->timer_due_ms < 0 || client->timer_due_ms - now > WAIT_MAX_MS) {
        return WAIT_MAX_MS;
    }
    return client->timer_due_ms > now ? (int)(client->timer_due_ms - now) : 0;
}

static void
run_timer(multi_client *client)
{
    int running = 0;
    long timeout_ms = -1;

    if (client->timer_due_ms < 0 || now_ms() < client->timer_due_ms) {
        return;
    }
    curl_multi_socket_action(client->multi, CURL_SOCKET_TIMEOUT, 0, &running);

    /* curl calls on_timer only when its next timeout changes, so a timer
     * that ran early on this clock is read back here. */
    curl_multi_timeout(client->multi, &timeout_ms);
    client->timer_due_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* run_calls sends the n prepared calls at once and returns when all have
 * finished, or false when the event loop fails. */
static bool
run_calls(multi_client *client, first_call *calls, int n)
{
    struct epoll_event events[EVENTS_MAX];
    int running = 0;
    int ready;

    client->done = 0;
    for (int i = 0; i < n; i++) {
        if (curl_multi_add_handle(client->multi, calls[i].easy) != CURLM_OK) {
            return false;
        }
    }

    while (client->done < n) {
        ready =
            epoll_wait(client->epoll_fd, events, EVENTS_MAX, wait_ms(client));
        if (ready < 0 && errno != EINTR) {
            perror("first_calls: epoll_wait");
            return false;
        }
        for (int i = 0; i < ready; i++) {
            curl_multi_socket_action(client->multi, events[i].data.fd,
                                     socket_events(events[i].events),
                                     &running);
        }
        run_timer(client);
        collect_done(client);
    }
    return true;
}

/* ---- set-up and the report ---- */

static bool
client_open(multi_client *client, const options *opts)
{
    size_t len = strlen(opts->gateway) + strlen(opts->server) + 64;
    size_t header_len = strlen(opts->key) + 16;
    char *key_header = malloc(header_len);
    bool ok = false;

    client->timer_due_ms = -1;
    client->url = malloc(len);
    client->multi = curl_multi_init();
    client->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (key_header == NULL || client->url == NULL || client->multi == NULL ||
        client->epoll_fd < 0) {
        goto out;
    }
    snprintf(client->url, len,
             "%s/v1/deepagents/mcp-servers/%s/oauth-provider", opts->gateway,
             opts->server);
    snprintf(key_header, header_len, "X-Api-Key: %s", opts->key);
    client->headers = curl_slist_append(NULL, key_header);
    client->headers =
        curl_slist_append(client->headers, "Content-Type: application/json");

    /* One connection per call: no limit, no pipelining or multiplexing. */
    curl_multi_setopt(client->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    curl_multi_setopt(client->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(client->multi, CURLMOPT_PIPELINING,
                      (long)CURLPIPE_NOTHING);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client);
    ok = client->headers != NULL;

out:
    free(key_header);
    return ok;
}

static void
client_close(multi_client *client)
{
    if (client->multi != NULL) {
        curl_multi_cleanup(client->multi);
    }
    if (client->epoll_fd >= 0) {
        close(client->epoll_fd);
    }
    curl_slist_free_all(client->headers);
    free(client->url);
}

static int
compare_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* count_distinct returns how many different provider ids the successful
 * calls returned. */
static int
count_distinct(first_call *calls, int n)
{
    char **ids = calloc((size_t)n + 1, sizeof(*ids));
    int found = 0;
    int distinct = 0;

    if (ids == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (calls[i].ok) {
            ids[found++] = calls[i].provider_id;
        }
    }
    qsort(ids, (size_t)found, sizeof(*ids), compare_ids);
    for (int i = 0; i < found; i++) {
        if (i == 0 || strcmp(ids[i], ids[i - 1]) != 0) {
            distinct++;
        }
    }
    free(ids);
    return distinct;
}

/* format_ratio writes value with at most two decimals and no trailing
 * zeros, as JavaScript prints Number(value.toFixed(2)). */
static void
format_ratio(double value, char out[32])
{
    size_t len;

    snprintf(out, 32, "%.2f", value);
    len = strlen(out);
    while (len > 0 && out[len - 1] == '0') {
        out[--len] = '\0';
    }
    if (len > 0 && out[len - 1] == '.') {
        out[--len] = '\0';
    }
}

static void
report(const first_call *calls, int n, int64_t alone_ns, int64_t all_ns,
       int distinct)
{
    int failed = 0;
    const first_call *first = NULL;
    char ratio[32];

    for (int i = 0; i < n; i++) {
        if (!calls[i].ok) {
            failed++;
            first = first != NULL ? first : &calls[i];
        }
    }
    if (first != NULL) {
        fprintf(stderr, "%d calls failed; first: %s\n", failed,
                first->failure);
    }
    format_ratio((double)all_ns / (double)alone_ns, ratio);
    printf("{\"alone_ms\":%lld,\"count\":%d,\"all_ms\":%lld,\"ratio\":%s,"
           "\"failed\":%d,\"distinct_ids\":%d}\n",
           (long long)((alone_ns + 500000) / 1000000), n,
           (long long)((all_ns + 500000) / 1000000), ratio, failed, distinct);
}

static bool
parse_args(int argc, char **argv, options *opts)
{
    char *end = NULL;
    long count;

    for (int i = 1; i + 1 < argc; i += 2) {
        const char *value = argv[i + 1];

        if (strcmp(argv[i], "--gateway") == 0) {
            opts->gateway = value;
        } else if (strcmp(argv[i], "--key") == 0) {
            opts->key = value;
        } else if (strcmp(argv[i], "--server") == 0) {
            opts->server = value;
        } else if (strcmp(argv[i], "--prefix") == 0) {
            opts->prefix = value;
        } else if (strcmp(argv[i], "--count") == 0) {
            count = strtol(value, &end, 10);
            if (end == value || *end != '\0' || count < 1 || count > 1000000) {
                return false;
            }
            opts->count = (int)count;
        } else if (strcmp(argv[i], "--warm") == 0) {
            count = strtol(value, &end, 10);
            if (end == value || *end != '\0' || count < 0 || count > 1000) {
                return false;
            }
            opts->warm = (int)count;
        } else {
            return false;
        }
    }
    return argc % 2 == 1 && opts->gateway != NULL && opts->key != NULL &&
           opts->server != NULL;
}

/* warm_up runs n calls at once for the users PREFIX-warm-I, untimed. It
 * returns false when one of them fails, after printing its failure. */
static bool
warm_up(multi_client *client, const char *prefix, int n)
{
    first_call *calls = calloc((size_t)n + 1, sizeof(*calls));
    char suffix[32];
    bool ok = calls != NULL;

    for (int i = 0; ok && i < n; i++) {
        snprintf(suffix, sizeof(suffix), "warm-%d", i);
        ok = prepare(client, &calls[i], prefix, suffix);
    }
    ok = ok && run_calls(client, calls, n);

    for (int i = 0; ok && i < n; i++) {
        if (!calls[i].ok) {
            fprintf(stderr, "first_calls: warm-up call %d failed: %s\n", i,
                    calls[i].failure);
            ok = false;
        }
    }
    for (int i = 0; calls != NULL && i < n; i++) {
        call_free(&calls[i]);
    }
    free(calls);
    return ok;
}

/* raise_fd_limit lets the process open one socket per call. */
static void
raise_fd_limit(void)
{
    struct rlimit lim;

    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

int
main(int argc, char **argv)
{
    options opts = {.count = 1000};
    char default_prefix[32];
    char suffix[16];
    multi_client client = {.epoll_fd = -1};
    first_call alone = {0};
    first_call *calls = NULL;
    int64_t started;
    int64_t alone_ns;
    int64_t all_ns;
    int status = 1;

    snprintf(default_prefix, sizeof(default_prefix), "bench-%d", getpid());
    opts.prefix = default_prefix;
    if (!parse_args(argc, argv, &opts)) {
        fprintf(stderr,
                "usage: first_calls --gateway URL --key SERVICE_KEY "
                "--server ID [--count N] [--prefix NAME] [--warm N]\n"
                "  --count   calls at once, 1 to 1000000 (default 1000)\n"
                "  --prefix  start of each ls_user_id (default bench-PID)\n"
                "  --warm    untimed calls at once before them, 0 to 1000 "
                "(default 0)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    calls = calloc((size_t)opts.count, sizeof(*calls));
    if (calls == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
        !client_open(&client, &opts) ||
        !prepare(&client, &alone, opts.prefix, "alone")) {
        fprintf(stderr, "first_calls: failed to set up curl\n");
        goto out;
    }

    started = now_ns();
    if (!run_calls(&client, &alone, 1)) {
        goto out;
    }
    alone_ns = now_ns() - started;
    if (!alone.ok) {
        fprintf(stderr, "first_calls: the first_call alone failed: %s\n",
                alone.failure);
        goto out;
    }
    if (!warm_up(&client, opts.prefix, opts.warm)) {
        goto out;
    }

    for (int i = 0; i < opts.count; i++) {
        snprintf(suffix, sizeof(suffix), "%d", i);
        if (!prepare(&client, &calls[i], opts.prefix, suffix)) {
            fprintf(stderr, "first_calls: failed to set up call %d\n", i);
            goto out;
        }
    }
    started = now_ns();
    if (!run_calls(&client, calls, opts.count)) {
        goto out;
    }
    all_ns = now_ns() - started;

    report(calls, opts.count, alone_ns, all_ns,
           count_distinct(calls, opts.count));
    status = 0;

out:
    call_free(&alone);
    for (int i = 0; calls != NULL && i < opts.count; i++) {
        call_free(&calls[i]);
    }
    free(calls);
    client_close(&client);
    curl_global_cleanup();
    return status;
}
