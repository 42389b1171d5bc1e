/* disc_allow_test.c - unit tests of the connection decision of the
 * development allow-list. common/mr_allow_test.c tests its parsing and
 * matching. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "disc_allow.h"
#include "mr_test.h"

/* numeric_address converts an IPv4 or IPv6 address text into *out. */
static const struct sockaddr *
numeric_address(const char *text, struct sockaddr_storage *out)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST};
    struct addrinfo *info = NULL;

    *out = (struct sockaddr_storage){0};
    MR_CHECK_INT(getaddrinfo(text, NULL, &hints, &info), ==, 0);
    if (info != NULL) {
        memcpy(out, info->ai_addr, info->ai_addrlen);
        freeaddrinfo(info);
    }
    return (const struct sockaddr *)out;
}

static void
test_connect_verdicts(void)
{
    static const struct {
        const char *list;
        bool https;
        const char *host;
        const char *addr;
        disc_connect_verdict verdict;
    } cases[] = {
        /* A range: http for IP literals in it, https for names. */
        {"127.0.0.0/8", false, "127.0.0.1", "127.0.0.1", DISC_CONNECT_OK},
        {"127.0.0.0/8", false, "localhost", "127.0.0.1", DISC_CONNECT_SCHEME},
        {"127.0.0.0/8", true, "localhost", "127.0.0.1", DISC_CONNECT_OK},
        {"127.0.0.0/8", true, "x.example", "::ffff:127.0.0.1",
         DISC_CONNECT_OK},
        {"127.0.0.0/8", false, "[::ffff:127.0.0.1]", "::ffff:127.0.0.1",
         DISC_CONNECT_OK},
        /* A name that resolves outside every range, as after DNS
         * rebinding, gets the default policy. */
        {"127.0.0.0/8", true, "localhost", "::1", DISC_CONNECT_ADDRESS},
        {"127.0.0.0/8", true, "x.example", "10.0.0.1", DISC_CONNECT_ADDRESS},
        {"127.0.0.0/8", true, "x.example", "169.254.169.254",
         DISC_CONNECT_ADDRESS},
        /* http by range needs the address in a range too. */
        {"127.0.0.0/8", false, "127.0.0.1", "10.0.0.1", DISC_CONNECT_SCHEME},
        /* Another range does not admit loopback. */
        {"10.0.0.0/8", false, "127.0.0.1", "127.0.0.1", DISC_CONNECT_SCHEME},
        {"10.0.0.0/8", true, "127.0.0.1", "127.0.0.1", DISC_CONNECT_ADDRESS},
        /* A listed host: http and any address. */
        {"localhost", false, "localhost", "127.0.0.1", DISC_CONNECT_OK},
        {"localhost", true, "127.0.0.1", "127.0.0.1", DISC_CONNECT_ADDRESS},
        {"127.0.0.1", true, "localhost", "127.0.0.1", DISC_CONNECT_ADDRESS},
        /* Public addresses need https and nothing else. */
        {"", true, "x.example", "8.8.8.8", DISC_CONNECT_OK},
        {"", false, "x.example", "8.8.8.8", DISC_CONNECT_SCHEME},
        {"", true, "x.example", "::1", DISC_CONNECT_ADDRESS},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mr_allow_list list;
        struct sockaddr_storage addr;
        char outcome[160];
        char expected[160];
        disc_connect_verdict verdict;
        const char *bad = NULL;

        MR_CHECK_INT(mr_allow_parse(cases[i].list, &list, &bad), ==, MR_OK);
        verdict = disc_allow_connect(&list, cases[i].https, cases[i].host,
                                     numeric_address(cases[i].addr, &addr));
        /* The case is part of both strings, so a failure names it. */
        snprintf(outcome, sizeof(outcome), "[%s] %s://%s at %s: %d",
                 cases[i].list, cases[i].https ? "https" : "http",
                 cases[i].host, cases[i].addr, (int)verdict);
        snprintf(expected, sizeof(expected), "[%s] %s://%s at %s: %d",
                 cases[i].list, cases[i].https ? "https" : "http",
                 cases[i].host, cases[i].addr, (int)cases[i].verdict);
        MR_CHECK_STR(outcome, expected);
        mr_allow_free(&list);
    }
}

static const mr_test_case cases[] = {
    {"connect_verdicts", test_connect_verdicts},
};

MR_TEST_MAIN(cases)
