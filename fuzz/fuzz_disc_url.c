/* fuzz_disc_url.c - libFuzzer target of URL parsing, origins, the
 * well-known URL builders, redaction, the allow-list parser and the
 * address policy. The input is one text; its bytes also serve as a raw
 * IPv4 and IPv6 address. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "disc_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_well_known builds every well-known URL of url and requires that
 * each parses again with url's origin, so that a crafted path can never
 * move a fetch to another host. */
static void
check_well_known(const disc_url *url)
{
    static const disc_well_known modes[] = {DISC_WK_ROOT, DISC_WK_INSERT,
                                            DISC_WK_APPEND};
    static const char *const suffixes[] = {"oauth-protected-resource",
                                           "oauth-authorization-server",
                                           "openid-configuration"};

    for (size_t m = 0; m < 3; m++) {
        for (size_t s = 0; s < 3; s++) {
            char *built = disc_url_well_known(url, suffixes[s], modes[m]);
            disc_url again;
            const char *why;

            if (built == NULL) {
                continue;
            }
            if (strlen(built) <= DISC_URL_MAX &&
                disc_url_parse(built, &again, &why) == MR_OK) {
                if (!disc_url_same_origin(url, &again)) {
                    abort();
                }
                disc_url_free(&again);
            } else if (strlen(built) <= DISC_URL_MAX) {
                abort(); /* a built URL that does not parse */
            }
            free(built);
        }
    }
}

static void
check_url(const char *text)
{
    static mr_allow_list empty;
    disc_url url;
    const char *why;
    char *origin;
    char *redacted;

    redacted = disc_url_redact(text);
    if (redacted != NULL && strchr(redacted, '?') != NULL) {
        abort(); /* a query could carry a credential */
    }
    free(redacted);

    disc_url_check(text, &empty, NULL, &why);
    if (disc_url_parse(text, &url, &why) != MR_OK) {
        return;
    }
    origin = disc_url_origin(&url);
    free(origin);
    if (!disc_url_path_within(&url, &url)) {
        abort();
    }
    disc_url_has_path(&url);
    check_well_known(&url);
    disc_url_free(&url);
}

/* check_range requires that list covers the network address of range,
 * one of its own ranges. */
static void
check_range(const mr_allow_list *list, const mr_allow_range *range)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    const struct sockaddr *addr = (const struct sockaddr *)&in6;

    if (range->family == AF_INET) {
        memcpy(&in.sin_addr, range->bytes, 4);
        addr = (const struct sockaddr *)&in;
    } else {
        memcpy(&in6.sin6_addr, range->bytes, 16);
    }
    if (!mr_allow_covers(list, addr)) {
        abort();
    }
}

/* check_allow_list parses text as a --dev-allow-hosts value. A valid list
 * must contain its own hosts and cover its own ranges. An invalid one
 * must get a printable error message. */
static void
check_allow_list(const char *text)
{
    mr_allow_list list;
    const char *bad = NULL;
    char message[256];
    mr_err err = mr_allow_parse(text, &list, &bad);

    if (err == MR_EINVALID_FIELD) {
        mr_allow_error(bad, message, sizeof(message));
        for (size_t i = 0; message[i] != '\0'; i++) {
            if (message[i] < 0x20 || message[i] > 0x7e) {
                abort();
            }
        }
    }
    if (err != MR_OK) {
        return;
    }

    for (size_t i = 0; i < list.count; i++) {
        if (!mr_allow_contains(&list, list.hosts[i]) ||
            !mr_allow_http(&list, list.hosts[i])) {
            abort();
        }
    }
    for (size_t i = 0; i < list.nranges; i++) {
        check_range(&list, &list.ranges[i]);
    }
    mr_allow_free(&list);
}

static void
check_addresses(const uint8_t *data, size_t size)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

    if (size >= 4) {
        memcpy(&in.sin_addr, data, 4);
        disc_addr_is_public((const struct sockaddr *)&in);
    }
    if (size >= 16) {
        memcpy(&in6.sin6_addr, data, 16);
        disc_addr_is_public((const struct sockaddr *)&in6);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    check_url(text);
    check_allow_list(text);
    check_addresses(data, size);
    free(text);
    return 0;
}
