/* disc_fetch.c - one outbound HTTP request as a curl easy handle: the
 * protocol and address policy, timeouts, size limits and the capture of
 * status, Content-Type, WWW-Authenticate values and body. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sys/socket.h>

#include "disc_allow.h"
#include "disc_fetch.h"
#include "wwwauth.h"

struct disc_fetch {
    const disc_fetch_config *cfg;
    CURL *easy;
    struct curl_slist *headers;
    bool want_body;
    bool want_error_body;
    bool blocked;        /* the address policy rejected a socket */
    bool blocked_scheme; /* ... because a hop used http to another host */
    bool stopped_early;  /* cut after the headers, as want_body asked */
    bool too_large;
    bool out_of_memory;
    char *body;
    size_t body_len;
    size_t header_bytes;
    char *challenges[DISC_FETCH_MAX_CHALLENGES];
    size_t nchallenges;
    bool last_was_challenge; /* for obsolete line folding */
    disc_cache_headers cache_headers;
    char errbuf[CURL_ERROR_SIZE];
};

/* Returns the status of the response being read, 0 before its status
 * line. */
static long
current_status(const disc_fetch *fetch)
{
    long status = 0;

    curl_easy_getinfo(fetch->easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* Returns whether status is an error (4xx or 5xx): only its status and
 * headers matter, so its body need not come whole. */
static bool
is_final_failure(long status)
{
    return status >= 400;
}

/* Returns whether status is a final response other than a redirect. */
static bool
is_final_not_redirect(long status)
{
    return status >= 200 && (status < 300 || status >= 400);
}

/* Returns whether the header line data of n bytes is the blank line that
 * ends a response's headers. */
static bool
is_headers_end(const char *data, size_t n)
{
    return (n == 2 && data[0] == '\r' && data[1] == '\n') ||
           (n == 1 && data[0] == '\n');
}

/* Returns the URL of the response being read, after any redirects. */
static const char *
final_url(const disc_fetch *fetch)
{
    char *url = NULL;

    curl_easy_getinfo(fetch->easy, CURLINFO_EFFECTIVE_URL, &url);
    return url != NULL ? url : "";
}

/* Returns whether url uses http or https, in any case. */
static bool
is_http_url(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 ||
           strncasecmp(url, "https://", 8) == 0;
}

/* Returns whether the body of the response whose headers just ended is
 * to be read. */
static bool
body_wanted(const disc_fetch *fetch)
{
    long status = current_status(fetch);

    if (!is_final_not_redirect(status)) {
        return true;
    }
    return is_final_failure(status) ? fetch->want_error_body
                                    : fetch->want_body;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    disc_fetch *fetch = arg;
    size_t n = size * nmemb;
    char *grown;

    if (!fetch->want_body) {
        fetch->stopped_early = true;
        return 0; /* ends the transfer with CURLE_WRITE_ERROR */
    }
    if (fetch->body_len + n > (size_t)fetch->cfg->max_response_bytes &&
        is_final_failure(current_status(fetch))) {
        fetch->stopped_early = true; /* the body read so far is kept */
        return 0;
    }
    if (fetch->body_len + n > (size_t)fetch->cfg->max_response_bytes) {
        fetch->too_large = true;
        return 0;
    }

    grown = realloc(fetch->body, fetch->body_len + n + 1);
    if (grown == NULL) {
        fetch->out_of_memory = true;
        return 0;
    }
    fetch->body = grown;
    memcpy(fetch->body + fetch->body_len, data, n);
    fetch->body_len += n;
    fetch->body[fetch->body_len] = '\0';
    return n;
}

static void
clear_challenges(disc_fetch *fetch)
{
    for (size_t i = 0; i < fetch->nchallenges; i++) {
        free(fetch->challenges[i]);
    }
    fetch->nchallenges = 0;
    fetch->last_was_challenge = false;
}

/* trimmed_length returns the length of a header line's value without the
 * CRLF and the whitespace around it, and moves *value past the leading
 * whitespace. */
static size_t
trimmed_length(const char **value, size_t len)
{
    while (len > 0 && (**value == ' ' || **value == '\t')) {
        (*value)++;
        len--;
    }
    while (len > 0 && strchr(" \t\r\n", (*value)[len - 1]) != NULL) {
        len--;
    }
    return len;
}

/* add_challenge stores the value of a WWW-Authenticate field, or appends a
 * folded continuation line to the last one. */
static bool
add_challenge(disc_fetch *fetch, const char *value, size_t len, bool folded)
{
    char *text;

    len = trimmed_length(&value, len);
    if (!folded && fetch->nchallenges == DISC_FETCH_MAX_CHALLENGES) {
        return true; /* more values than kept: the rest are dropped */
    }

    if (folded) {
        char *last = fetch->challenges[fetch->nchallenges - 1];
        size_t last_len = strlen(last);

        text = realloc(last, last_len + len + 2);
        if (text != NULL) {
            text[last_len] = ' ';
            memcpy(text + last_len + 1, value, len);
            text[last_len + 1 + len] = '\0';
            fetch->challenges[fetch->nchallenges - 1] = text;
        }
        return text != NULL;
    }

    text = strndup(value, len);
    if (text != NULL) {
        fetch->challenges[fetch->nchallenges++] = text;
    }
    return text != NULL;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    static const char name[] = "www-authenticate:";
    disc_fetch *fetch = arg;
    size_t n = size * nmemb;
    bool stored = true;

    /* A status line starts the headers of the next response, after a
     * redirect or an interim 1xx response. */
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        clear_challenges(fetch);
        fetch->header_bytes = 0;
    }
    fetch->header_bytes += n;
    if (fetch->header_bytes > (size_t)fetch->cfg->max_response_bytes) {
        fetch->too_large = true;
        return 0;
    }
    /* The blank line that ends a final response's headers ends the
     * transfer when its body is not wanted, so a body that never comes
     * costs no time. A redirect's headers are left to curl, which may
     * follow it. */
    if (is_headers_end(data, n) && !body_wanted(fetch)) {
        fetch->stopped_early = true;
        return 0;
    }
    if (!disc_cache_headers_add(&fetch->cache_headers, data, n)) {
        fetch->out_of_memory = true;
        return 0;
    }

    if (n > 0 && (data[0] == ' ' || data[0] == '\t') &&
        fetch->last_was_challenge) {
        stored = add_challenge(fetch, data, n, true);
    } else if (n > sizeof(name) - 1) {
        char start[sizeof(name)];

        memcpy(start, data, sizeof(name) - 1);
        start[sizeof(name) - 1] = '\0';
        fetch->last_was_challenge = disc_ascii_casecmp(start, name) == 0;
        if (fetch->last_was_challenge) {
            stored = add_challenge(fetch, data + sizeof(name) - 1,
                                   n - (sizeof(name) - 1), false);
        }
    } else {
        fetch->last_was_challenge = false;
    }

    if (!stored) {
        fetch->out_of_memory = true;
        return 0;
    }
    return n;
}

/*
 * hop_may_connect applies the fetch policy (disc_allow_connect) to one
 * connection. The URL that curl connects for is the latest redirect's
 * target, so a redirect from an allowed host to another host gets that
 * host's policy. A URL that cannot be read fails closed.
 */
static bool
hop_may_connect(disc_fetch *fetch, const struct sockaddr *addr)
{
    char *url = NULL;
    char *scheme = NULL;
    char *host = NULL;
    CURLU *parts = curl_url();
    disc_connect_verdict verdict = DISC_CONNECT_ADDRESS;

    if (parts == NULL ||
        curl_easy_getinfo(fetch->easy, CURLINFO_EFFECTIVE_URL, &url) !=
            CURLE_OK ||
        url == NULL ||
        curl_url_set(parts, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(parts, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(parts, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        goto out;
    }

    verdict = disc_allow_connect(fetch->cfg->allow,
                                 disc_ascii_casecmp(scheme, "https") == 0,
                                 host, addr);
    if (verdict == DISC_CONNECT_SCHEME) {
        fetch->blocked_scheme = true;
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(parts);
    return verdict == DISC_CONNECT_OK;
}

/* open_socket applies the address policy to every connection curl opens,
 * redirects included, before the socket exists, so neither a host name nor
 * a redirect can lead to a private address. */
static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    disc_fetch *fetch = arg;

    if (purpose != CURLSOCKTYPE_IPCXN ||
        !hop_may_connect(fetch, &address->addr)) {
        fetch->blocked = true;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC,
                  address->protocol);
}

static mr_err
build_headers(disc_fetch *fetch, const disc_request *req)
{
    struct curl_slist *grown;

    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        grown = curl_slist_append(fetch->headers, req->headers[i]);
        if (grown == NULL) {
            return MR_ENOMEM;
        }
        fetch->headers = grown;
    }

    /* Without this, curl 7.88 sends "Expect: 100-continue" for large POST
     * bodies and waits for an interim response. */
    grown = curl_slist_append(fetch->headers, "Expect:");
    if (grown == NULL) {
        return MR_ENOMEM;
    }
    fetch->headers = grown;
    return MR_OK;
}

#define SET_OPTION(option, value)                                             \
    do {                                                                      \
        if (rc == CURLE_OK) {                                                 \
            rc = curl_easy_setopt(fetch->easy, option, value);                \
        }                                                                     \
    } while (0)

static CURLcode
set_transport_options(disc_fetch *fetch, long timeout_ms)
{
    const disc_fetch_config *cfg = fetch->cfg;
    CURLcode rc = CURLE_OK;

    SET_OPTION(CURLOPT_PROTOCOLS_STR, "http,https");
    /* open_socket rejects http that the allow-list does not allow on
     * every hop; curl only needs to keep other schemes out. */
    SET_OPTION(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET_OPTION(CURLOPT_MAXREDIRS, (long)DISC_MAX_REDIRECTS);
    SET_OPTION(CURLOPT_NOSIGNAL, 1L);
    /* NOTE: no outbound proxy is supported; http_proxy and the like are
     * ignored, and a proxy would be a private address anyway. */
    SET_OPTION(CURLOPT_PROXY, "");
    SET_OPTION(CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    SET_OPTION(CURLOPT_TIMEOUT_MS, timeout_ms);
    SET_OPTION(CURLOPT_USERAGENT, cfg->user_agent);
    SET_OPTION(CURLOPT_ERRORBUFFER, fetch->errbuf);
    SET_OPTION(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET_OPTION(CURLOPT_OPENSOCKETDATA, fetch);
    SET_OPTION(CURLOPT_WRITEFUNCTION, on_body);
    SET_OPTION(CURLOPT_WRITEDATA, fetch);
    SET_OPTION(CURLOPT_HEADERFUNCTION, on_header);
    SET_OPTION(CURLOPT_HEADERDATA, fetch);
    return rc;
}

static CURLcode
set_request_options(disc_fetch *fetch, const disc_request *req, void *owner)
{
    CURLcode rc = CURLE_OK;

    SET_OPTION(CURLOPT_URL, req->url);
    SET_OPTION(CURLOPT_PRIVATE, owner);
    SET_OPTION(CURLOPT_HTTPHEADER, fetch->headers);
    SET_OPTION(CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
    if (req->method == DISC_DELETE) {
        SET_OPTION(CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    if (req->method == DISC_POST) {
        SET_OPTION(CURLOPT_POST, 1L);
        SET_OPTION(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET_OPTION(CURLOPT_POSTFIELDS, req->body);
    }
    return rc;
}

#undef SET_OPTION

mr_err
disc_fetch_new(const disc_fetch_config *cfg, const disc_request *req,
               long timeout_ms, void *owner, disc_fetch **out)
{
    const char *why = NULL;
    disc_fetch *fetch = NULL;
    mr_err err = disc_url_check(req->url, cfg->allow, NULL, &why);

    *out = NULL;
    if (err != MR_OK) {
        return err == MR_ENOMEM ? err : MR_EBLOCKED_ADDRESS;
    }

    fetch = calloc(1, sizeof(*fetch));
    err = MR_ENOMEM;
    if (fetch == NULL) {
        goto out;
    }
    fetch->cfg = cfg;
    fetch->want_body = req->want_body;
    fetch->want_error_body = req->want_body && req->want_error_body;
    fetch->easy = curl_easy_init();
    if (fetch->easy == NULL || build_headers(fetch, req) != MR_OK) {
        goto out;
    }

    if (set_transport_options(fetch, timeout_ms) != CURLE_OK ||
        set_request_options(fetch, req, owner) != CURLE_OK) {
        err = MR_EINTERNAL;
        goto out;
    }

    err = MR_OK;
    *out = fetch;
    fetch = NULL;
out:
    disc_fetch_free(fetch);
    return err;
}

CURL *
disc_fetch_handle(const disc_fetch *fetch)
{
    return fetch->easy;
}

static disc_net
classify(const disc_fetch *fetch, CURLcode result)
{
    if (result == CURLE_OK ||
        (result == CURLE_WRITE_ERROR && fetch->stopped_early)) {
        return DISC_NET_OK;
    }
    if (fetch->too_large) {
        return DISC_NET_TOO_LARGE;
    }
    if (fetch->blocked && result == CURLE_COULDNT_CONNECT) {
        return DISC_NET_BLOCKED;
    }

    switch (result) {
    case CURLE_OPERATION_TIMEDOUT:
        return DISC_NET_TIMEOUT;
    /* A redirect to a scheme not allowed, or a reply from an http(s) URL
     * that is not HTTP/1.x or later (curl refuses HTTP/0.9). */
    case CURLE_UNSUPPORTED_PROTOCOL:
        return is_http_url(final_url(fetch)) ? DISC_NET_CONNECT
                                             : DISC_NET_BLOCKED;
    case CURLE_TOO_MANY_REDIRECTS:
        return DISC_NET_REDIRECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return DISC_NET_CONNECT;
    default:
        return DISC_NET_OTHER;
    }
}

void
disc_fetch_response(disc_fetch *fetch, CURLcode result, disc_response *out)
{
    long status = 0;
    char *content_type = NULL;

    /* Not CURLINFO_RETRY_AFTER: curl 7.88 keeps the value of a redirect
     * hop when the final response has none, and reads "5x" as 5. */
    int64_t retry_after =
        disc_retry_after_s(&fetch->cache_headers, (int64_t)time(NULL));

    curl_easy_getinfo(fetch->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(fetch->easy, CURLINFO_CONTENT_TYPE, &content_type);
    *out = (disc_response){
        .net = classify(fetch, result),
        .status = status,
        .content_type = content_type,
        .www_authenticate = (const char *const *)fetch->challenges,
        .nwww_authenticate = fetch->nchallenges,
        .cache_headers = &fetch->cache_headers,
        .body = fetch->body != NULL ? fetch->body : "",
        .body_len = fetch->body_len,
        .final_url = final_url(fetch),
        .retry_after_s = retry_after <= 0           ? 0
                         : retry_after > UINT32_MAX ? UINT32_MAX
                                                    : (uint32_t)retry_after,
    };

    if (out->net == DISC_NET_OK) {
        return;
    }
    if (fetch->out_of_memory) {
        out->net_detail = "memory ran out";
    } else if (out->net == DISC_NET_BLOCKED && fetch->blocked_scheme) {
        out->net_detail = "a redirect led to a URL that is not https, and "
                          "--dev-allow-hosts lists neither its host nor a "
                          "CIDR range with its IP address";
    } else if (out->net == DISC_NET_BLOCKED && fetch->blocked) {
        out->net_detail = "the host resolved to an address that is not "
                          "public, and --dev-allow-hosts lists neither the "
                          "host nor a CIDR range with that address";
    } else if (out->net == DISC_NET_BLOCKED) {
        out->net_detail = "a redirect led to a URL that is not https, and "
                          "--dev-allow-hosts lists neither its host nor a "
                          "CIDR range with its IP address";
    } else if (fetch->errbuf[0] != '\0') {
        out->net_detail = fetch->errbuf;
    } else {
        out->net_detail = curl_easy_strerror(result);
    }
}

void
disc_fetch_free(disc_fetch *fetch)
{
    if (fetch == NULL) {
        return;
    }
    if (fetch->easy != NULL) {
        curl_easy_cleanup(fetch->easy);
    }
    curl_slist_free_all(fetch->headers);
    clear_challenges(fetch);
    disc_cache_headers_free(&fetch->cache_headers);
    free(fetch->body);
    free(fetch);
}
