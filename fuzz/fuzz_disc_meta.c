/* fuzz_disc_meta.c - libFuzzer target of the protected resource metadata
 * (RFC 9728) and authorization server metadata (RFC 8414) parsers, with
 * the resource check. The first byte picks the document type. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disc_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mr_allow_list allow;
static disc_url mcp_url;

/* setup parses the fixed inputs once; the fuzzer cannot run without them. */
static void
setup(void)
{
    static bool done;
    const char *why;
    const char *bad;

    if (done) {
        return;
    }
    if (mr_allow_parse("127.0.0.1,localhost", &allow, &bad) != MR_OK ||
        disc_url_parse("https://mcp.example.com/mcp", &mcp_url, &why) !=
            MR_OK) {
        abort();
    }
    done = true;
}

static void
parse_prm(const char *body, size_t len)
{
    disc_prm prm;
    char why[DISC_DETAIL_MAX];

    if (disc_prm_parse(body, len, &prm, why, sizeof(why)) != MR_OK) {
        return;
    }
    if (prm.resource == NULL || prm.nauthorization_servers == 0) {
        abort(); /* a parsed document must have what the header promises */
    }
    disc_prm_check_resource(&prm, &mcp_url, why, sizeof(why));
    disc_prm_free(&prm);
}

static void
parse_asm(const char *body, size_t len, bool with_path)
{
    const char *issuer =
        with_path ? "https://as.example.com/tenant" : "https://as.example.com";
    disc_asm meta;
    bool is_document = false;
    char why[DISC_DETAIL_MAX];
    mr_err err = disc_asm_parse(body, len, issuer, &allow, &meta, &is_document,
                                why, sizeof(why));

    if (err != MR_OK) {
        return;
    }
    if (!is_document || meta.authorization_endpoint == NULL ||
        meta.token_endpoint == NULL) {
        abort();
    }
    disc_choose_auth_method(&meta);
    disc_asm_free(&meta);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body;

    if (size < 1) {
        return 0;
    }
    setup();

    /* An exact-size copy, so a read past len is caught. */
    body = malloc(size - 1 > 0 ? size - 1 : 1);
    if (body == NULL) {
        return 0;
    }
    memcpy(body, data + 1, size - 1);

    switch (data[0] % 3) {
    case 0:
        parse_prm(body, size - 1);
        break;
    case 1:
        parse_asm(body, size - 1, false);
        break;
    default:
        parse_asm(body, size - 1, true);
        break;
    }
    free(body);
    return 0;
}
