/* mr_allow_test.c - unit tests of the development allow-list: parsing,
 * host and CIDR matching, and the http decision. */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "mr_allow.h"
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
parse_or_fail(const char *text, mr_allow_list *list)
{
    const char *bad = NULL;

    MR_CHECK_INT(mr_allow_parse(text, list, &bad), ==, MR_OK);
}

static void
test_allow_list(void)
{
    mr_allow_list list;
    const char *bad = NULL;

    MR_CHECK_INT(mr_allow_parse(" 127.0.0.1, LocalHost,,[::1] ,", &list, &bad),
                 ==, MR_OK);
    MR_CHECK_INT(list.count, ==, 3);
    MR_CHECK_STR(list.hosts[0], "127.0.0.1");
    MR_CHECK_STR(list.hosts[1], "localhost");
    MR_CHECK_STR(list.hosts[2], "::1");
    MR_CHECK(mr_allow_contains(&list, "localhost"));
    MR_CHECK(mr_allow_contains(&list, "LOCALHOST"));
    MR_CHECK(mr_allow_contains(&list, "[::1]"));
    MR_CHECK(mr_allow_contains(&list, "::1"));
    MR_CHECK(!mr_allow_contains(&list, "127.0.0.2"));
    MR_CHECK(!mr_allow_contains(&list, "localhost.example"));
    MR_CHECK(!mr_allow_contains(&list, "local"));
    mr_allow_free(&list);
}

static void
test_allow_list_empty(void)
{
    mr_allow_list list;
    const char *bad = NULL;

    MR_CHECK_INT(mr_allow_parse("", &list, &bad), ==, MR_OK);
    MR_CHECK_INT(list.count, ==, 0);
    MR_CHECK_INT(list.nranges, ==, 0);
    MR_CHECK(!mr_allow_contains(&list, "localhost"));
    mr_allow_free(&list);
}

/* A host entry that is an IP address matches the same address however
 * the URL writes it, but not the IPv4-mapped form of an IPv4 entry. */
static void
test_address_entry_spellings(void)
{
    mr_allow_list list;

    parse_or_fail("::1,127.0.0.1", &list);
    MR_CHECK(mr_allow_contains(&list, "[0:0:0:0:0:0:0:1]"));
    MR_CHECK(mr_allow_contains(&list, "[::0001]"));
    MR_CHECK(!mr_allow_contains(&list, "[::ffff:127.0.0.1]"));
    MR_CHECK(!mr_allow_contains(&list, "[::2]"));
    mr_allow_free(&list);
}

static void
test_parse_ranges(void)
{
    mr_allow_list list;
    uint8_t v6[16];

    parse_or_fail("127.0.0.0/8, ::1/128,dev.example,[fd00::]/8,0.0.0.0/1",
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
    MR_CHECK_INT(list.ranges[3].prefix, ==, 1);

    /* Ranges are not host entries. */
    MR_CHECK(!mr_allow_contains(&list, "127.0.0.1"));
    MR_CHECK(!mr_allow_contains(&list, "127.0.0.0"));
    mr_allow_free(&list);
}

/* Each invalid text, where its invalid entry starts, and the message of
 * mr_allow_error for it. */
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
        {"0.0.0.0/0", 0,
         "entry \"0.0.0.0/0\" has prefix length 0, which covers every IPv4 "
         "address, the cloud metadata address and private ranges included"},
        {"127.0.0.0/8, ::/0", 13,
         "entry \"::/0\" has prefix length 0, which covers every IPv6 "
         "address, the cloud metadata address and private ranges included"},
        {"[::]/0", 0,
         "entry \"[::]/0\" has prefix length 0, which covers every IPv6 "
         "address, the cloud metadata address and private ranges included"},
        {"10.0.0.0/", 0,
         "entry \"10.0.0.0/\" has no prefix length after "
         "\"/\""},
        {"10.0.0.0/-1", 0,
         "entry \"10.0.0.0/-1\" has a prefix length that is not a number "
         "from 1 to 32"},
        {"10.0.0.0/8a", 0,
         "entry \"10.0.0.0/8a\" has a prefix length that is not a number "
         "from 1 to 32"},
        {"::/0128", 0,
         "entry \"::/0128\" has a prefix length that is not a number from 1 "
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
         "from 1 to 32"},
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
        mr_allow_list list;
        const char *bad = NULL;
        char message[256] = "";

        MR_CHECK_INT(mr_allow_parse(cases[i].text, &list, &bad), ==,
                     MR_EINVALID_FIELD);
        MR_CHECK_INT(list.count, ==, 0);
        MR_CHECK_INT(list.nranges, ==, 0);
        if (bad == NULL) {
            continue;
        }
        MR_CHECK_INT(bad - cases[i].text, ==, cases[i].bad_at);
        mr_allow_error(bad, message, sizeof(message));
        MR_CHECK_STR(message, cases[i].message);
    }
}

/* The option message names the flag, the entry and the entry forms, and
 * a valid value leaves the message as it was. */
static void
test_parse_option(void)
{
    mr_allow_list list;
    char message[256] = "unchanged";

    MR_CHECK_INT(mr_allow_parse_option("localhost, 10.0.0.0/33", &list,
                                       message, sizeof(message)),
                 ==, MR_EINVALID_FIELD);
    MR_CHECK_STR(message,
                 "invalid --dev-allow-hosts: entry \"10.0.0.0/33\" has "
                 "prefix length 33, over the maximum of 32 for IPv4. Entries "
                 "are host names, IP addresses or CIDR ranges such as "
                 "127.0.0.0/8");
    MR_CHECK_INT(list.count, ==, 0);

    MR_CHECK_INT(mr_allow_parse_option("a.example;b", &list, NULL, 0), ==,
                 MR_EINVALID_FIELD);

    snprintf(message, sizeof(message), "unchanged");
    MR_CHECK_INT(
        mr_allow_parse_option("127.0.0.0/8", &list, message, sizeof(message)),
        ==, MR_OK);
    MR_CHECK_STR(message, "unchanged");
    MR_CHECK_INT(list.nranges, ==, 1);
    mr_allow_free(&list);
}

/* covers returns whether list_text's ranges cover the address text. */
static bool
covers(const char *list_text, const char *address_text)
{
    mr_allow_list list;
    address addr;
    bool covered;

    parse_or_fail(list_text, &list);
    covered = mr_allow_covers(&list, make_address(address_text, &addr));
    mr_allow_free(&list);
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

    MR_CHECK(covers("0.0.0.0/1", "0.0.0.0"));
    MR_CHECK(covers("0.0.0.0/1", "127.255.255.255"));
    MR_CHECK(!covers("0.0.0.0/1", "128.0.0.0"));
    MR_CHECK(!covers("0.0.0.0/1", "::1"));
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

    MR_CHECK(covers("::/1", "::1"));
    MR_CHECK(covers("::/1", "2001:db8::1"));
    MR_CHECK(!covers("::/1", "8000::1"));
    MR_CHECK(!covers("::/1", "127.0.0.1"));
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
    mr_allow_list list;
    bool allowed;

    parse_or_fail(list_text, &list);
    allowed = mr_allow_http(&list, host);
    mr_allow_free(&list);
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

/* Each list, the ranges of it that reach beyond loopback, and how many. */
static void
test_ranges_beyond_loopback(void)
{
    static const struct {
        const char *text;
        size_t count;
        const char *ranges;
    } cases[] = {
        {"", 0, ""},
        {"localhost, 10.0.0.1, 127.0.0.0/8, 127.1.0.0/16, ::1/128", 0, ""},
        {"10.0.0.0/8", 1, "10.0.0.0/8"},
        {"127.0.0.0/8, 10.0.0.0/8, ::1/128, fd00::/8", 2,
         "10.0.0.0/8, fd00::/8"},
        {"126.0.0.0/7", 1, "126.0.0.0/7"},
        {"::/127", 1, "::/127"},
        {"::ffff:127.0.0.0/104", 1, "::ffff:127.0.0.0/104"},
        {"169.254.169.254/32", 1, "169.254.169.254/32"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mr_allow_list list;
        char ranges[128] = "unchanged";

        parse_or_fail(cases[i].text, &list);
        MR_CHECK_INT(
            mr_allow_ranges_beyond_loopback(&list, ranges, sizeof(ranges)), ==,
            cases[i].count);
        MR_CHECK_STR(ranges, cases[i].ranges);
        mr_allow_free(&list);
    }
}

/* A message buffer too small for every range is cut, and the count still
 * includes every range. */
static void
test_ranges_beyond_loopback_cut(void)
{
    mr_allow_list list;
    char ranges[12] = "";

    parse_or_fail("10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16", &list);
    MR_CHECK_INT(
        mr_allow_ranges_beyond_loopback(&list, ranges, sizeof(ranges)), ==, 3);
    MR_CHECK_STR(ranges, "10.0.0.0/8,");
    MR_CHECK_INT(mr_allow_ranges_beyond_loopback(&list, NULL, 0), ==, 3);
    mr_allow_free(&list);
}

static const mr_test_case cases[] = {
    {"allow_list", test_allow_list},
    {"allow_list_empty", test_allow_list_empty},
    {"address_entry_spellings", test_address_entry_spellings},
    {"parse_ranges", test_parse_ranges},
    {"parse_rejects", test_parse_rejects},
    {"parse_option", test_parse_option},
    {"covers_ipv4", test_covers_ipv4},
    {"covers_ipv6", test_covers_ipv6},
    {"covers_ipv4_mapped", test_covers_ipv4_mapped},
    {"http_by_host_or_literal", test_http_by_host_or_literal},
    {"ranges_beyond_loopback", test_ranges_beyond_loopback},
    {"ranges_beyond_loopback_cut", test_ranges_beyond_loopback_cut},
};

MR_TEST_MAIN(cases)
