/* cli_ping.c - "mcpreg ping": checks that the registration service replies
 * to calls, for health probes and scripts. */
#include "cli.h"
#include "mcpreg/v1/registration.pb-c.h"
#include "mr_api.h"

#define PING_USAGE                                                            \
    "usage: mcpreg [--registration URL] [--timeout-ms MS] ping\n"             \
    "\n"                                                                      \
    "Calls the registration service's Ping, which reads nothing from the\n"   \
    "store, and prints {\"ok\":true} once it replies within --timeout-ms.\n"  \
    "Exit status 0 then, and 1 with the reason on stderr otherwise, as a\n"   \
    "Kubernetes exec probe expects."

int
cli_ping_main(const cli_context *ctx, int argc, char **argv)
{
    Mcpreg__V1__PingRequest req = MCPREG__V1__PING_REQUEST__INIT;
    Mcpreg__V1__PingResponse *resp = NULL;
    int rc = cli_parse_options(NULL, 0, argc, argv, PING_USAGE, "ping");

    if (rc != CLI_PARSED) {
        return rc;
    }

    rc = cli_call(ctx, MR_M_PING, &req.base,
                  &mcpreg__v1__ping_response__descriptor,
                  (ProtobufCMessage **)&resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return cli_print_json(json_pack("{s:b}", "ok", 1));
}
