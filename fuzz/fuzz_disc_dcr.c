/* fuzz_disc_dcr.c - libFuzzer target of the dynamic client registration
 * response parsers (RFC 7591): the client of a 2xx response and the error
 * of a 4xx one. The first byte picks the requested auth method. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disc_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {
    "client_secret_basic",
    "client_secret_post",
    "none",
};

static void
parse_client(const char *body, size_t len, const char *method)
{
    static mr_allow_list allow; /* empty: the default policy */
    disc_client client;
    char why[DISC_DETAIL_MAX];

    if (disc_dcr_parse_client(body, len, method, &allow, &client, why,
                              sizeof(why)) != MR_OK) {
        return;
    }
    if (client.client_id == NULL || client.client_id[0] == '\0' ||
        client.token_endpoint_auth_method == NULL) {
        abort();
    }
    /* A secret method must come with its secret. */
    if (strcmp(client.token_endpoint_auth_method, "none") != 0 &&
        client.client_secret == NULL) {
        abort();
    }
    disc_client_free(&client);
}

static void
parse_error(const char *body, size_t len)
{
    char out[DISC_DETAIL_MAX];

    disc_dcr_parse_error(body, len, out, sizeof(out));
    for (size_t i = 0; out[i] != '\0'; i++) {
        if (out[i] < 0x20 || out[i] > 0x7e) {
            abort(); /* mr_sanitize must leave printable ASCII only */
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body;

    if (size < 1) {
        return 0;
    }
    body = malloc(size - 1 > 0 ? size - 1 : 1);
    if (body == NULL) {
        return 0;
    }
    memcpy(body, data + 1, size - 1);

    parse_client(body, size - 1, methods[data[0] % 3]);
    parse_error(body, size - 1);
    free(body);
    return 0;
}
