/* probe_http.c - the HTTP ceiling: libmicrohttpd serving fixed JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "mr_util.h"
#include "probe_listen.h"

static const char body[] =
    "{\"oauth_provider_id\":\"2f1b5a3c-7c0e-4d8e-9a57-3f1d2c4b5a6e\"}";

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload,
       size_t *upload_size, void **state)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    if (*state == NULL) {
        *state = conn;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }

    resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                           MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

int
main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 18090;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    gw_acceptor *acc;
    struct MHD_Daemon *daemon;

    mr_signals_block();
    acc = probe_listen("probe_http", port);
    if (acc == NULL) {
        return 1;
    }
    daemon = MHD_start_daemon(PROBE_DAEMON_FLAGS, 0, NULL, NULL, answer, NULL,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                              MHD_OPTION_CONNECTION_LIMIT,
                              PROBE_CONNECTION_LIMIT * (unsigned)threads,
                              MHD_OPTION_NOTIFY_CONNECTION, gw_acceptor_notify,
                              acc, MHD_OPTION_END);
    return probe_serve("probe_http", acc, daemon);
}
