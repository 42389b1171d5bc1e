/* probe_listen.c - the probes' listening socket, as the gateway's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "mr_util.h"
#include "probe_listen.h"

gw_acceptor *
probe_listen(const char *prog, int port)
{
    struct sockaddr_storage addr;
    struct sockaddr_in *in = (struct sockaddr_in *)&addr;
    gw_acceptor *acc = NULL;

    memset(&addr, 0, sizeof(addr));
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (gw_acceptor_open(&addr, sizeof(*in), &acc) != MR_OK) {
        fprintf(stderr, "%s: failed to listen on 127.0.0.1:%d\n", prog, port);
        return NULL;
    }
    return acc;
}

int
probe_serve(const char *prog, gw_acceptor *acc, struct MHD_Daemon *daemon)
{
    if (daemon == NULL ||
        gw_acceptor_start(acc, daemon, PROBE_CONNECTION_LIMIT) != MR_OK) {
        fprintf(stderr, "%s: failed to start libmicrohttpd\n", prog);
        if (daemon != NULL) {
            MHD_stop_daemon(daemon);
        }
        gw_acceptor_close(acc);
        return 1;
    }

    mr_signals_wait();
    gw_acceptor_stop(acc);
    MHD_stop_daemon(daemon);
    gw_acceptor_close(acc);
    return 0;
}
