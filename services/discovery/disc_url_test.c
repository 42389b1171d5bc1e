/* disc_url_test.c - unit tests of URL parsing and the fetch policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "disc_url.h"
#include "mr_test.h"

static void
test_parse_parts(void)
{
    disc_url url;
    const char *why = NULL;

    MR_CHECK_INT(
        disc_url_parse("HTTPS://MCP.Example.COM:8443/a/b?x=1", &url, &why), ==,
        MR_OK);
    MR_CHECK_STR(url.scheme, "https");
    MR_CHECK_STR(url.host, "mcp.example.com");
    MR_CHECK_INT(url.port, ==, 8443);
    MR_CHECK_STR(url.path, "/a/b");
    MR_CHECK_STR(url.query, "x=1");
    disc_url_free(&url);
}

static void
test_parse_defaults(void)
{
    disc_url url;
    const char *why = NULL;

    MR_CHECK_INT(disc_url_parse("https://a.example", &url, &why), ==, MR_OK);
    MR_CHECK_INT(url.port, ==, 443);
    MR_CHECK_STR(url.path, "/");
    MR_CHECK(url.query == NULL);
    disc_url_free(&url);

    MR_CHECK_INT(disc_url_parse("http://127.0.0.1/mcp", &url, &why), ==,
                 MR_OK);
    MR_CHECK_INT(url.port, ==, 80);
    MR_CHECK_STR(url.host, "127.0.0.1");
    disc_url_free(&url);

    MR_CHECK_INT(disc_url_parse("http://[::1]:9/x", &url, &why), ==, MR_OK);
    MR_CHECK_STR(url.host, "[::1]");
    MR_CHECK_INT(url.port, ==, 9);
    disc_url_free(&url);
}

static void
test_parse_rejects(void)
{
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"", "is not an absolute http or https URL"},
        {"/relative/path", "is not an absolute http or https URL"},
        {"mcp.example.com/mcp", "is not an absolute http or https URL"},
        {"https://", "is not an absolute http or https URL"},
        {"https://exa mple.com/", "is not an absolute http or https URL"},
        {"ftp://a.example/x", "does not use http or https"},
        {"file:///etc/passwd", "does not use http or https"},
        {"https://user:pw@a.example/", "contains user information"},
        {"https://user@a.example/", "contains user information"},
        {"https://a.example/#frag", "contains a fragment"},
        {"https://a%25b.example/", "has a percent sign in its host name"},
        {"https://%%%61.example/", "has a percent sign in its host name"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        disc_url url;
        const char *why = NULL;
        mr_err err = disc_url_parse(cases[i].text, &url, &why);

        if (err != MR_EINVALID_FIELD) {
            fprintf(stderr, "    text: %s\n", cases[i].text);
        }
        MR_CHECK_INT(err, ==, MR_EINVALID_FIELD);
        MR_CHECK_STR(why, cases[i].why);
        MR_CHECK(url.host == NULL);
    }
}

static void
test_parse_rejects_long_url(void)
{
    char *text = malloc(DISC_URL_MAX + 32);
    disc_url url;
    const char *why = NULL;

    snprintf(text, DISC_URL_MAX + 32, "https://a.example/");
    memset(text + strlen(text), 'a', DISC_URL_MAX);
    text[DISC_URL_MAX + 1] = '\0';
    MR_CHECK_INT(disc_url_parse(text, &url, &why), ==, MR_EINVALID_FIELD);
    MR_CHECK_STR(why, "is longer than 4096 bytes");
    free(text);
}

/* check_origin parses text and compares its origin with expected. */
static void
check_origin(const char *text, const char *expected)
{
    disc_url url;
    const char *why = NULL;
    char *origin;

    MR_CHECK_INT(disc_url_parse(text, &url, &why), ==, MR_OK);
    origin = disc_url_origin(&url);
    MR_CHECK_STR(origin, expected);
    free(origin);
    disc_url_free(&url);
}

static void
test_origin(void)
{
    check_origin("https://a.example/mcp", "https://a.example");
    check_origin("https://a.example:443/mcp", "https://a.example");
    check_origin("https://a.example:8443/mcp", "https://a.example:8443");
    check_origin("http://a.example:80/", "http://a.example");
    check_origin("http://a.example:443/", "http://a.example:443");
    check_origin("http://[::1]:8080/x", "http://[::1]:8080");
}

/* same_origin parses both URLs and returns disc_url_same_origin. */
static bool
same_origin(const char *a_text, const char *b_text)
{
    disc_url a;
    disc_url b;
    const char *why = NULL;
    bool same;

    MR_CHECK_INT(disc_url_parse(a_text, &a, &why), ==, MR_OK);
    MR_CHECK_INT(disc_url_parse(b_text, &b, &why), ==, MR_OK);
    same = disc_url_same_origin(&a, &b);
    disc_url_free(&a);
    disc_url_free(&b);
    return same;
}

static void
test_same_origin(void)
{
    MR_CHECK(same_origin("https://a.example/x", "https://A.EXAMPLE:443/y"));
    MR_CHECK(!same_origin("https://a.example/", "http://a.example/"));
    MR_CHECK(!same_origin("https://a.example/", "https://a.example:444/"));
    MR_CHECK(!same_origin("https://a.example/", "https://b.example/"));
    MR_CHECK(!same_origin("https://a.example/", "https://sub.a.example/"));
}

/* path_within parses both URLs and returns disc_url_path_within. */
static bool
path_within(const char *outer_text, const char *inner_text)
{
    disc_url outer;
    disc_url inner;
    const char *why = NULL;
    bool within;

    MR_CHECK_INT(disc_url_parse(outer_text, &outer, &why), ==, MR_OK);
    MR_CHECK_INT(disc_url_parse(inner_text, &inner, &why), ==, MR_OK);
    within = disc_url_path_within(&outer, &inner);
    disc_url_free(&outer);
    disc_url_free(&inner);
    return within;
}

static void
test_path_within(void)
{
    MR_CHECK(path_within("https://a/mcp", "https://a/mcp"));
    MR_CHECK(path_within("https://a/mcp/", "https://a/mcp"));
    MR_CHECK(path_within("https://a/mcp", "https://a/mcp/"));
    MR_CHECK(path_within("https://a/mcp", "https://a/mcp/sub"));
    MR_CHECK(path_within("https://a", "https://a/mcp"));
    MR_CHECK(path_within("https://a/", "https://a/mcp"));
    MR_CHECK(path_within("https://a/", "https://a/"));
    MR_CHECK(!path_within("https://a/mc", "https://a/mcp"));
    MR_CHECK(!path_within("https://a/mcpx", "https://a/mcp"));
    MR_CHECK(!path_within("https://a/mcp/sub", "https://a/mcp"));
    MR_CHECK(!path_within("https://a/other", "https://a/mcp"));
    MR_CHECK(!path_within("https://a/MCP", "https://a/mcp"));
}

/* check_well_known builds the well-known URL of text for suffix and mode
 * and compares it with expected. */
static void
check_well_known(const char *text, const char *suffix, disc_well_known mode,
                 const char *expected)
{
    disc_url url;
    const char *why = NULL;
    char *built;

    MR_CHECK_INT(disc_url_parse(text, &url, &why), ==, MR_OK);
    built = disc_url_well_known(&url, suffix, mode);
    MR_CHECK_STR(built, expected);
    free(built);
    disc_url_free(&url);
}

static void
test_well_known(void)
{
    const char *prm = "oauth-protected-resource";
    const char *oas = "oauth-authorization-server";
    const char *oidc = "openid-configuration";

    check_well_known("https://a.example/mcp", prm, DISC_WK_INSERT,
                     "https://a.example/.well-known/"
                     "oauth-protected-resource/mcp");
    check_well_known("https://a.example/mcp", prm, DISC_WK_ROOT,
                     "https://a.example/.well-known/oauth-protected-resource");
    check_well_known("https://a.example:8443/x/mcp/?t=1", prm, DISC_WK_INSERT,
                     "https://a.example:8443/.well-known/"
                     "oauth-protected-resource/x/mcp?t=1");
    check_well_known("https://a.example/", prm, DISC_WK_INSERT,
                     "https://a.example/.well-known/oauth-protected-resource");
    check_well_known("https://as.example/tenant1", oas, DISC_WK_INSERT,
                     "https://as.example/.well-known/"
                     "oauth-authorization-server/tenant1");
    check_well_known("https://as.example/tenant1/", oidc, DISC_WK_INSERT,
                     "https://as.example/.well-known/"
                     "openid-configuration/tenant1");
    check_well_known("https://as.example/tenant1/", oidc, DISC_WK_APPEND,
                     "https://as.example/tenant1/.well-known/"
                     "openid-configuration");
    check_well_known("https://as.example", oidc, DISC_WK_APPEND,
                     "https://as.example/.well-known/openid-configuration");
}

static void
test_has_path(void)
{
    disc_url url;
    const char *why = NULL;

    MR_CHECK_INT(disc_url_parse("https://a.example/", &url, &why), ==, MR_OK);
    MR_CHECK(!disc_url_has_path(&url));
    disc_url_free(&url);

    MR_CHECK_INT(disc_url_parse("https://a.example/t", &url, &why), ==, MR_OK);
    MR_CHECK(disc_url_has_path(&url));
    disc_url_free(&url);
}

static void
test_redact(void)
{
    char *text = disc_url_redact("https://a.example:8443/mcp?api_key=SECRET");

    MR_CHECK_STR(text, "https://a.example:8443/mcp");
    free(text);

    text = disc_url_redact("not a url SECRET");
    MR_CHECK_STR(text, "(invalid URL)");
    free(text);
}

static void
test_check_scheme_policy(void)
{
    mr_allow_list allow;
    const char *bad = NULL;
    const char *why = NULL;
    disc_url url;

    MR_CHECK_INT(mr_allow_parse("127.0.0.1", &allow, &bad), ==, MR_OK);
    MR_CHECK_INT(disc_url_check("https://a.example/", &allow, NULL, &why), ==,
                 MR_OK);
    MR_CHECK_INT(disc_url_check("http://127.0.0.1:9/", &allow, &url, &why), ==,
                 MR_OK);
    MR_CHECK_INT(url.port, ==, 9);
    disc_url_free(&url);

    MR_CHECK_INT(disc_url_check("http://a.example/", &allow, NULL, &why), ==,
                 MR_EBLOCKED_ADDRESS);
    MR_CHECK_STR(why, "uses http, which only hosts listed on "
                      "--dev-allow-hosts and IP addresses in its CIDR "
                      "ranges may use");
    MR_CHECK_INT(disc_url_check("http://localhost/", &allow, NULL, &why), ==,
                 MR_EBLOCKED_ADDRESS);
    MR_CHECK_INT(disc_url_check("gopher://a/", &allow, NULL, &why), ==,
                 MR_EINVALID_FIELD);
    mr_allow_free(&allow);
}

/* With only CIDR ranges, http is allowed for URLs whose host is an IP
 * literal in a range, and never for host names. */
static void
test_check_http_by_range(void)
{
    static const struct {
        const char *url;
        mr_err expected;
    } cases[] = {
        {"http://127.0.0.1:9/", MR_OK},
        {"http://127.0.0.7/", MR_OK},
        {"http://[::1]:9/", MR_OK},
        {"http://[::ffff:127.0.0.1]/", MR_OK},
        {"http://localhost:9/", MR_EBLOCKED_ADDRESS},
        {"http://127.0.0.1.nip.io/", MR_EBLOCKED_ADDRESS},
        {"http://10.0.0.1/", MR_EBLOCKED_ADDRESS},
        {"http://[::2]/", MR_EBLOCKED_ADDRESS},
        {"https://localhost/", MR_OK},
    };
    mr_allow_list allow;
    const char *bad = NULL;

    MR_CHECK_INT(mr_allow_parse("127.0.0.0/8,::1/128", &allow, &bad), ==,
                 MR_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = NULL;
        mr_err err = disc_url_check(cases[i].url, &allow, NULL, &why);

        if (err != cases[i].expected) {
            fprintf(stderr, "    URL: %s\n", cases[i].url);
        }
        MR_CHECK_INT(err, ==, cases[i].expected);
    }
    mr_allow_free(&allow);
}

/* ipv4_public converts text to a sockaddr_in and checks it. */
static bool
ipv4_public(const char *text)
{
    struct sockaddr_in in = {.sin_family = AF_INET};

    MR_CHECK_INT(inet_pton(AF_INET, text, &in.sin_addr), ==, 1);
    return disc_addr_is_public((const struct sockaddr *)&in);
}

/* ipv6_public converts text to a sockaddr_in6 and checks it. */
static bool
ipv6_public(const char *text)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

    MR_CHECK_INT(inet_pton(AF_INET6, text, &in6.sin6_addr), ==, 1);
    return disc_addr_is_public((const struct sockaddr *)&in6);
}

static void
test_ipv4_policy(void)
{
    static const char *const blocked[] = {
        "0.0.0.0",         "10.1.2.3",        "100.64.0.1",
        "100.127.255.255", "127.0.0.1",       "127.255.0.1",
        "169.254.169.254", "172.16.0.1",      "172.31.255.1",
        "192.0.0.8",       "192.0.2.1",       "192.168.1.1",
        "198.18.0.1",      "198.19.255.255",  "198.51.100.7",
        "203.0.113.9",     "224.0.0.1",       "239.255.255.250",
        "240.0.0.1",       "255.255.255.255",
    };
    static const char *const allowed[] = {
        "1.1.1.1",    "8.8.8.8",         "100.63.255.255", "100.128.0.1",
        "172.15.0.1", "172.32.0.1",      "169.253.0.1",    "192.169.0.1",
        "198.20.0.1", "223.255.255.255",
    };

    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
        if (ipv4_public(blocked[i])) {
            fprintf(stderr, "    address: %s\n", blocked[i]);
        }
        MR_CHECK(!ipv4_public(blocked[i]));
    }
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (!ipv4_public(allowed[i])) {
            fprintf(stderr, "    address: %s\n", allowed[i]);
        }
        MR_CHECK(ipv4_public(allowed[i]));
    }
}

static void
test_ipv6_policy(void)
{
    static const char *const blocked[] = {
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::a00:1",
        "64:ff9b:1::1",
        "2002:a00:1::1",
        "2001:db8::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "ff02::1",
        "100::1",
    };
    static const char *const allowed[] = {
        "2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8",
        "64:ff9b::808:808",     "2002:808:808::1",
    };

    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
        if (ipv6_public(blocked[i])) {
            fprintf(stderr, "    address: %s\n", blocked[i]);
        }
        MR_CHECK(!ipv6_public(blocked[i]));
    }
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (!ipv6_public(allowed[i])) {
            fprintf(stderr, "    address: %s\n", allowed[i]);
        }
        MR_CHECK(ipv6_public(allowed[i]));
    }
}

static void
test_other_family_not_public(void)
{
    struct sockaddr addr = {.sa_family = AF_UNIX};

    MR_CHECK(!disc_addr_is_public(&addr));
}

static const mr_test_case cases[] = {
    {"parse_parts", test_parse_parts},
    {"parse_defaults", test_parse_defaults},
    {"parse_rejects", test_parse_rejects},
    {"parse_rejects_long_url", test_parse_rejects_long_url},
    {"origin", test_origin},
    {"same_origin", test_same_origin},
    {"path_within", test_path_within},
    {"well_known", test_well_known},
    {"has_path", test_has_path},
    {"redact", test_redact},
    {"check_scheme_policy", test_check_scheme_policy},
    {"check_http_by_range", test_check_http_by_range},
    {"ipv4_policy", test_ipv4_policy},
    {"ipv6_policy", test_ipv6_policy},
    {"other_family_not_public", test_other_family_not_public},
};

MR_TEST_MAIN(cases)
