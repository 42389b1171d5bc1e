/* disc_allow_test.c - unit tests of the development allow-list: parsing,
 * host and CIDR matching, and the http and connection decisions. */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "disc_allow.h"
#include "mr_test.h"

/* address is an IPv4 or IPv6 socket address built from text. */
typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} address;

/* make_address converts an IPv4 or IPv6 address text into *out. */
static const struct sockaddr *
make_address(const char *text, address *out)
{
    *out = (address){0};
    if (strchr(text, ':') != NULL) {
        out->in6.sin6_family = AF_INET6;
        MR_CHECK_INT(inet_pton(AF_INET6, text, &out->in6.sin6_addr), ==, 1);
    } else {
        out->in.sin_family = AF_INET;
        MR_CHECK_INT(inet_pton(AF_INET, text, &out->in.sin_addr), ==, 1);
    }
    return &out->sa;
}

/* parse_or_fail parses text, which the test expects to be valid. */
static void
parse_or_fail(const char *text, disc_allow_list *list)
{
    const char *bad = NULL;

    MR_CHECK_INT(disc_allow_list_parse(text, list, &bad), ==, MR_OK);
}

static void
test_allow_list(void)
{
    disc_allow_list list;
    const char *bad = NULL;

    MR_CHECK_INT(
        disc_allow_list_parse(" 127.0.0.1, LocalHost,,[::1] ,", &list, &bad),
        ==, MR_OK);
    MR_CHECK_INT(list.count, ==, 3);
    MR_CHECK_STR(list.hosts[0], "127.0.0.1");
    MR_CHECK_STR(list.hosts[1], "localhost");
    MR_CHECK_STR(list.hosts[2], "::1");
    MR_CHECK(disc_allow_list_contains(&list, "localhost"));
    MR_CHECK(disc_allow_list_contains(&list, "LOCALHOST"));
    MR_CHECK(disc_allow_list_contains(&list, "[::1]"));
    MR_CHECK(disc_allow_list_contains(&list, "::1"));
    MR_CHECK(!disc_allow_list_contains(&list, "127.0.0.2"));
    MR_CHECK(!disc_allow_list_contains(&list, "localhost.example"));
    MR_CHECK(!disc_allow_list_contains(&list, "local"));
    disc_allow_list_free(&list);
}

static void
test_allow_list_empty(void)
{
    disc_allow_list list;
    const char *bad = NULL;

    MR_CHECK_INT(disc_allow_list_parse("", &list, &bad), ==, MR_OK);
    MR_CHECK_INT(list.count, ==, 0);
    MR_CHECK_INT(list.nranges, ==, 0);
    MR_CHECK(!disc_allow_list_contains(&list, "localhost"));
    disc_allow_list_free(&list);
}

/* A host entry that is an IP address matches the same address however
 * the URL writes it, but not the IPv4-mapped form of an IPv4 entry. */
static void
test_address_entry_spellings(void)
{
    disc_allow_list list;

    parse_or_fail("::1,127.0.0.1", &list);
    MR_CHECK(disc_allow_list_contains(&list, "[0:0:0:0:0:0:0:1]"));
    MR_CHECK(disc_allow_list_contains(&list, "[::0001]"));
    MR_CHECK(!disc_allow_list_contains(&list, "[::ffff:127.0.0.1]"));
    MR_CHECK(!disc_allow_list_contains(&list, "[::2]"));
    disc_allow_list_free(&list);
}

static void
test_parse_ranges(void)
{
    disc_allow_list list;
    uint8_t v6[16];

    parse_or_fail("127.0.0.0/8, ::1/128,dev.example,[fd00::]/8,0.0.0.0/0",
                  &list);
    MR_CHECK_INT(list.count, ==, 1);
    MR_CHECK_STR(list.hosts[0], "dev.example");
    MR_CHECK_INT(list.nranges, ==, 4);

    MR_CHECK_INT(list.ranges[0].family, ==, AF_INET);
    MR_CHECK_INT(list.ranges[0].prefix, ==, 8);
    MR_CHECK_INT(list.ranges[0].bytes[0], ==, 127);

    inet_pton(AF_INET6, "::1", v6);
    MR_CHECK_INT(list.ranges[1].family, ==, AF_INET6);
    MR_CHECK_INT(list.ranges[1].prefix, ==, 128);
    MR_CHECK(memcmp(list.ranges[1].bytes, v6, 16) == 0);

    MR_CHECK_INT(list.ranges[2].family, ==, AF_INET6);
    MR_CHECK_INT(list.ranges[2].prefix, ==, 8);
    MR_CHECK_INT(list.ranges[3].prefix, ==, 0);

    /* Ranges are not host entries. */
    MR_CHECK(!disc_allow_list_contains(&list, "127.0.0.1"));
    MR_CHECK(!disc_allow_list_contains(&list, "127.0.0.0"));
    disc_allow_list_free(&list);
}

/* Each invalid text, where its invalid entry starts, and the message of
 * disc_allow_list_error for it. */
static void
test_parse_rejects(void)
{
    static const struct {
        const char *text;
        size_t bad_at;
        const char *message;
    } cases[] = {
        {"10.0.0.0/33", 0,
         "entry \"10.0.0.0/33\" has prefix length 33, over the maximum of 32 "
         "for IPv4"},
        {"::/129", 0,
         "entry \"::/129\" has prefix length 129, over the maximum of 128 "
         "for IPv6"},
        {"10.0.0.0/", 0,
         "entry \"10.0.0.0/\" has no prefix length after "
         "\"/\""},
        {"10.0.0.0/-1", 0,
         "entry \"10.0.0.0/-1\" has a prefix length that is not a number "
         "from 0 to 32"},
        {"10.0.0.0/8a", 0,
         "entry \"10.0.0.0/8a\" has a prefix length that is not a number "
         "from 0 to 32"},
        {"::/0128", 0,
         "entry \"::/0128\" has a prefix length that is not a number from 0 "
         "to 128"},
        {"127.0.0.1/8", 0,
         "entry \"127.0.0.1/8\" has address bits set after its /8 prefix. "
         "Write 127.0.0.0/8"},
        {"::1/64", 0,
         "entry \"::1/64\" has address bits set after its /64 prefix. Write "
         "::/64"},
        {"localhost/8", 0,
         "entry \"localhost/8\" is not an IPv4 or IPv6 address before "
         "\"/\""},
        {"10.0.0/8", 0,
         "entry \"10.0.0/8\" is not an IPv4 or IPv6 address before \"/\""},
        {"10.0.0.0/8/8", 0,
         "entry \"10.0.0.0/8/8\" has a prefix length that is not a number "
         "from 0 to 32"},
        {"[127.0.0.0]/8", 0,
         "entry \"[127.0.0.0]/8\" has brackets but is not an IPv6 address"},
        {"localhost, 127.0.0.1:8080", 11,
         "entry \"127.0.0.1:8080\" contains ':' but is not an IPv6 address. "
         "Leave out the port"},
        {"[a.example]", 0,
         "entry \"[a.example]\" has brackets but is not an IPv6 address"},
        {"a.example;b", 0,
         "entry \"a.example;b\" contains ';', which no host name or IP "
         "address contains"},
        {"[]", 0, "entry \"[]\" is empty inside its brackets"},
        {"[::1", 0,
         "entry \"[::1\" contains '[', which no host name or IP address "
         "contains"},
        {"localhost,http://x", 10,
         "entry \"http://x\" is not an IPv4 or IPv6 address before \"/\""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        disc_allow_list list;
        const char *bad = NULL;
        char message[256] = "";

        MR_CHECK_INT(disc_allow_list_parse(cases[i].text, &list, &bad), ==,
                     MR_EINVALID_FIELD);
        MR_CHECK_INT(list.count, ==, 0);
        MR_CHECK_INT(list.nranges, ==, 0);
        if (bad == NULL) {
            continue;
        }
        MR_CHECK_INT(bad - cases[i].text, ==, cases[i].bad_at);
        disc_allow_list_error(bad, message, sizeof(message));
        MR_CHECK_STR(message, cases[i].message);
    }
}

/* covers returns whether list_text's ranges cover the address text. */
static bool
covers(const char *list_text, const char *address_text)
{
    disc_allow_list list;
    address addr;
    bool covered;

    parse_or_fail(list_text, &list);
    covered = disc_allow_list_covers(&list, make_address(address_text, &addr));
    disc_allow_list_free(&list);
    return covered;
}

static void
test_covers_ipv4(void)
{
    MR_CHECK(covers("127.0.0.0/8", "127.0.0.0"));
    MR_CHECK(covers("127.0.0.0/8", "127.0.0.1"));
    MR_CHECK(covers("127.0.0.0/8", "127.255.255.255"));
    MR_CHECK(!covers("127.0.0.0/8", "126.255.255.255"));
    MR_CHECK(!covers("127.0.0.0/8", "128.0.0.0"));

    MR_CHECK(covers("172.16.0.0/12", "172.31.255.255"));
    MR_CHECK(!covers("172.16.0.0/12", "172.32.0.0"));
    MR_CHECK(!covers("172.16.0.0/12", "172.15.255.255"));

    MR_CHECK(covers("10.1.2.3/32", "10.1.2.3"));
    MR_CHECK(!covers("10.1.2.3/32", "10.1.2.2"));
    MR_CHECK(!covers("10.1.2.3/32", "10.1.2.4"));

    MR_CHECK(covers("0.0.0.0/0", "0.0.0.0"));
    MR_CHECK(covers("0.0.0.0/0", "255.255.255.255"));
    MR_CHECK(!covers("0.0.0.0/0", "::1"));
    MR_CHECK(!covers("", "127.0.0.1"));
}

static void
test_covers_ipv6(void)
{
    MR_CHECK(covers("::1/128", "::1"));
    MR_CHECK(!covers("::1/128", "::2"));
    MR_CHECK(!covers("::1/128", "::"));
    MR_CHECK(!covers("::1/128", "127.0.0.1"));

    MR_CHECK(covers("fe80::/10", "febf:ffff::1"));
    MR_CHECK(!covers("fe80::/10", "fec0::1"));
    MR_CHECK(covers("fd00::/8", "fdff:ffff:ffff::1"));
    MR_CHECK(!covers("fd00::/8", "fc00::1"));

    MR_CHECK(covers("::/0", "::1"));
    MR_CHECK(covers("::/0", "2001:db8::1"));
    MR_CHECK(!covers("::/0", "127.0.0.1"));
}

/* An IPv4-mapped IPv6 address reaches its IPv4 address, so IPv4 ranges
 * cover it; other IPv6 forms that embed an IPv4 address do not count. */
static void
test_covers_ipv4_mapped(void)
{
    MR_CHECK(covers("127.0.0.0/8", "::ffff:127.0.0.1"));
    MR_CHECK(covers("127.0.0.1/32", "::ffff:127.0.0.1"));
    MR_CHECK(!covers("127.0.0.1/32", "::ffff:127.0.0.2"));
    MR_CHECK(!covers("10.0.0.0/8", "::ffff:127.0.0.1"));
    MR_CHECK(!covers("127.0.0.0/8", "::127.0.0.1"));
    MR_CHECK(!covers("127.0.0.0/8", "64:ff9b::7f00:1"));
    MR_CHECK(covers("::ffff:0:0/96", "::ffff:10.0.0.1"));
}

/* http returns whether list_text lets a URL whose host is host use
 * http. */
static bool
http(const char *list_text, const char *host)
{
    disc_allow_list list;
    bool allowed;

    parse_or_fail(list_text, &list);
    allowed = disc_allow_http(&list, host);
    disc_allow_list_free(&list);
    return allowed;
}

static void
test_http_by_host_or_literal(void)
{
    static const char *const list = "127.0.0.0/8,::1/128,dev.example";

    MR_CHECK(http(list, "127.0.0.1"));
    MR_CHECK(http(list, "127.255.0.9"));
    MR_CHECK(http(list, "[::1]"));
    MR_CHECK(http(list, "[::ffff:127.0.0.1]"));
    MR_CHECK(http(list, "dev.example"));
    MR_CHECK(http(list, "DEV.example"));
    MR_CHECK(!http(list, "localhost"));
    MR_CHECK(!http(list, "10.0.0.1"));
    MR_CHECK(!http(list, "[::2]"));
    MR_CHECK(!http(list, "127.0.0.1.nip.io"));
    MR_CHECK(!http("10.0.0.0/8", "127.0.0.1"));
    MR_CHECK(!http("", "127.0.0.1"));
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
        disc_allow_list list;
        address addr;
        char outcome[160];
        char expected[160];
        disc_connect_verdict verdict;

        parse_or_fail(cases[i].list, &list);
        verdict = disc_allow_connect(&list, cases[i].https, cases[i].host,
                                     make_address(cases[i].addr, &addr));
        /* The case is part of both strings, so a failure names it. */
        snprintf(outcome, sizeof(outcome), "[%s] %s://%s at %s: %d",
                 cases[i].list, cases[i].https ? "https" : "http",
                 cases[i].host, cases[i].addr, (int)verdict);
        snprintf(expected, sizeof(expected), "[%s] %s://%s at %s: %d",
                 cases[i].list, cases[i].https ? "https" : "http",
                 cases[i].host, cases[i].addr, (int)cases[i].verdict);
        MR_CHECK_STR(outcome, expected);
        disc_allow_list_free(&list);
    }
}

static const mr_test_case cases[] = {
    {"allow_list", test_allow_list},
    {"allow_list_empty", test_allow_list_empty},
    {"address_entry_spellings", test_address_entry_spellings},
    {"parse_ranges", test_parse_ranges},
    {"parse_rejects", test_parse_rejects},
    {"covers_ipv4", test_covers_ipv4},
    {"covers_ipv6", test_covers_ipv6},
    {"covers_ipv4_mapped", test_covers_ipv4_mapped},
    {"http_by_host_or_literal", test_http_by_host_or_literal},
    {"connect_verdicts", test_connect_verdicts},
};

MR_TEST_MAIN(cases)
