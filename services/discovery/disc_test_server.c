/* disc_test_server.c - the loopback HTTP server of the discovery tests. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "disc_test_server.h"

struct disc_test_server {
    struct MHD_Daemon *daemon;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */

    pthread_mutex_t mutex; /* guards the members below */
    disc_test_mode mode;
    int requests;
    int registrations;
    char content_type[128];
    char body[4096];
};

/* upload collects the body of one request. */
typedef struct {
    char data[4096];
    size_t len;
} upload;

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static disc_test_mode
current_mode(disc_test_server *server)
{
    disc_test_mode mode;

    pthread_mutex_lock(&server->mutex);
    mode = server->mode;
    pthread_mutex_unlock(&server->mutex);
    return mode;
}

static enum MHD_Result
send_text(struct MHD_Connection *conn, unsigned status, const char *type,
          const char *text)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    MHD_add_response_header(resp, "Content-Type", type);
    rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result
send_json(struct MHD_Connection *conn, unsigned status, const char *json)
{
    return send_text(conn, status, "application/json", json);
}

static enum MHD_Result
send_redirect(struct MHD_Connection *conn, const char *location)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    MHD_add_response_header(resp, "Location", location);
    rc = MHD_queue_response(conn, MHD_HTTP_FOUND, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* endless_body produces a server-sent event stream that never ends. */
static ssize_t
endless_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    static const char event[] = ": keep-alive\n\n";

    (void)cls;
    (void)pos;
    sleep_ms(10);
    if (max < sizeof(event) - 1) {
        return 0;
    }
    memcpy(buf, event, sizeof(event) - 1);
    return (ssize_t)(sizeof(event) - 1);
}

/* big_body produces DISC_TEST_BIG_BYTES of spaces in chunks. */
static ssize_t
big_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t n = max < 4096 ? max : 4096;

    (void)cls;
    if (pos >= DISC_TEST_BIG_BYTES) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    memset(buf, ' ', n);
    return (ssize_t)n;
}

static enum MHD_Result
answer_probe(disc_test_server *server, struct MHD_Connection *conn)
{
    char challenge[256];
    struct MHD_Response *resp;
    enum MHD_Result rc;
    disc_test_mode mode = current_mode(server);

    if (mode == DISC_TEST_ENDLESS_PROBE) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64,
                                                 endless_body, NULL, NULL);
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return rc;
    }

    snprintf(challenge, sizeof(challenge),
             "Bearer error=\"invalid_token\", resource_metadata=\"%s%s\", "
             "scope=\"mcp:tools\"",
             server->base,
             mode == DISC_TEST_REDIRECT || mode == DISC_TEST_REDIRECT_LOOP
                 ? "/redirect/1"
                 : "/.well-known/oauth-protected-resource/mcp");
    resp = MHD_create_response_from_buffer(2, "{}", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"old\"");
    MHD_add_response_header(resp, "WWW-Authenticate", challenge);
    rc = MHD_queue_response(conn, MHD_HTTP_UNAUTHORIZED, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result
answer_redirect(disc_test_server *server, struct MHD_Connection *conn,
                const char *url)
{
    char location[128];
    int hop = atoi(url + strlen("/redirect/"));

    if (current_mode(server) == DISC_TEST_REDIRECT && hop >= 2) {
        snprintf(location, sizeof(location),
                 "/.well-known/oauth-protected-resource/mcp");
    } else {
        snprintf(location, sizeof(location), "/redirect/%d", hop + 1);
    }
    return send_redirect(conn, location);
}

static enum MHD_Result
answer_prm(disc_test_server *server, struct MHD_Connection *conn)
{
    char json[512];
    disc_test_mode mode = current_mode(server);

    if (mode == DISC_TEST_BIG_METADATA) {
        char *big = malloc(DISC_TEST_BIG_BYTES + 1);
        enum MHD_Result rc;

        memset(big, ' ', DISC_TEST_BIG_BYTES);
        big[DISC_TEST_BIG_BYTES] = '\0';
        rc = send_json(conn, MHD_HTTP_OK, big);
        free(big);
        return rc;
    }
    if (mode == DISC_TEST_BIG_CHUNKED) {
        struct MHD_Response *resp = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, 4096, big_body, NULL, NULL);
        enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);

        MHD_destroy_response(resp);
        return rc;
    }
    if (mode == DISC_TEST_SLOW_METADATA) {
        sleep_ms(DISC_TEST_SLOW_MS);
    }

    snprintf(json, sizeof(json),
             "{\"resource\":\"%s/mcp\",\"authorization_servers\":[\"%s/as\"],"
             "\"scopes_supported\":[\"mcp:tools\"]}",
             server->base, server->base);
    return send_json(conn, MHD_HTTP_OK, json);
}

static enum MHD_Result
answer_asm(disc_test_server *server, struct MHD_Connection *conn)
{
    char json[1024];
    const char *b = server->base;

    snprintf(json, sizeof(json),
             "{\"issuer\":\"%s/as\",\"authorization_endpoint\":\"%s/as/auth\","
             "\"token_endpoint\":\"%s/as/token\","
             "\"registration_endpoint\":\"%s/as/register\","
             "\"code_challenge_methods_supported\":[\"S256\"],"
             "\"token_endpoint_auth_methods_supported\":"
             "[\"client_secret_basic\",\"none\"]}",
             b, b, b, b);
    return send_json(conn, MHD_HTTP_OK, json);
}

static enum MHD_Result
answer_registration(disc_test_server *server, struct MHD_Connection *conn,
                    const upload *up)
{
    const char *type =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");

    pthread_mutex_lock(&server->mutex);
    server->registrations++;
    snprintf(server->content_type, sizeof(server->content_type), "%s",
             type != NULL ? type : "");
    snprintf(server->body, sizeof(server->body), "%.*s", (int)up->len,
             up->data);
    pthread_mutex_unlock(&server->mutex);

    return send_json(conn, MHD_HTTP_CREATED,
                     "{\"client_id\":\"test-client\","
                     "\"client_secret\":\"test-secret\","
                     "\"token_endpoint_auth_method\":\"client_secret_basic\","
                     "\"client_id_issued_at\":1700000000,"
                     "\"client_secret_expires_at\":0}");
}

static enum MHD_Result
route(disc_test_server *server, struct MHD_Connection *conn, const char *url,
      const char *method, const upload *up)
{
    bool post = strcmp(method, "POST") == 0;

    pthread_mutex_lock(&server->mutex);
    server->requests++;
    pthread_mutex_unlock(&server->mutex);

    if (post && strcmp(url, "/mcp") == 0) {
        return answer_probe(server, conn);
    }
    if (!post && strncmp(url, "/redirect/", 10) == 0) {
        return answer_redirect(server, conn, url);
    }
    if (!post &&
        strcmp(url, "/.well-known/oauth-protected-resource/mcp") == 0) {
        return answer_prm(server, conn);
    }
    if (!post &&
        strcmp(url, "/.well-known/oauth-authorization-server/as") == 0) {
        return answer_asm(server, conn);
    }
    if (post && strcmp(url, "/as/register") == 0) {
        return answer_registration(server, conn, up);
    }
    return send_text(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found");
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *data,
       size_t *data_size, void **state)
{
    upload *up = *state;

    (void)version;
    if (up == NULL) {
        up = calloc(1, sizeof(*up));
        *state = up;
        return up != NULL ? MHD_YES : MHD_NO;
    }
    if (*data_size > 0) {
        size_t room = sizeof(up->data) - up->len;
        size_t n = *data_size < room ? *data_size : room;

        memcpy(up->data + up->len, data, n);
        up->len += n;
        *data_size = 0;
        return MHD_YES;
    }
    return route(cls, conn, url, method, up);
}

static void
request_done(void *cls, struct MHD_Connection *conn, void **state,
             enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    free(*state);
    *state = NULL;
}

disc_test_server *
disc_test_server_start(void)
{
    disc_test_server *server = calloc(1, sizeof(*server));
    struct sockaddr_in addr = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;

    if (server == NULL) {
        return NULL;
    }
    pthread_mutex_init(&server->mutex, NULL);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    server->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
        NULL, NULL, handle, server, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_END);
    if (server->daemon == NULL) {
        pthread_mutex_destroy(&server->mutex);
        free(server);
        return NULL;
    }

    info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info->port;
    snprintf(server->base, sizeof(server->base), "http://127.0.0.1:%d",
             server->port);
    return server;
}

int
disc_test_server_port(const disc_test_server *server)
{
    return server->port;
}

void
disc_test_server_set_mode(disc_test_server *server, disc_test_mode mode)
{
    pthread_mutex_lock(&server->mutex);
    server->mode = mode;
    pthread_mutex_unlock(&server->mutex);
}

int
disc_test_server_registration(disc_test_server *server, char *content_type,
                              size_t type_len, char *body, size_t body_len)
{
    int count;

    pthread_mutex_lock(&server->mutex);
    count = server->registrations;
    snprintf(content_type, type_len, "%s", server->content_type);
    snprintf(body, body_len, "%s", server->body);
    pthread_mutex_unlock(&server->mutex);
    return count;
}

void
disc_test_server_stop(disc_test_server *server)
{
    if (server == NULL) {
        return;
    }
    MHD_stop_daemon(server->daemon);
    pthread_mutex_destroy(&server->mutex);
    free(server);
}

int
disc_test_server_requests(disc_test_server *server)
{
    int count;

    pthread_mutex_lock(&server->mutex);
    count = server->requests;
    pthread_mutex_unlock(&server->mutex);
    return count;
}
