/* reg_url_test.c - unit tests of the MCP server URL rules. */
#include <stdio.h>
#include <string.h>

#include "mr_test.h"
#include "reg_url.h"

/* url_case is one URL and the detail fragment expected, NULL for valid. */
typedef struct {
    const char *url;
    const char *fragment;
} url_case;

static void
check_cases(const reg_url_rules *rules, const url_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char detail[512] = "";
        mr_err err =
            reg_url_check(rules, cases[i].url, detail, sizeof(detail));

        if (cases[i].fragment == NULL) {
            MR_CHECK_INT(err, ==, MR_OK);
            if (err != MR_OK) {
                fprintf(stderr, "    url %s: %s\n", cases[i].url, detail);
            }
            continue;
        }
        MR_CHECK_INT(err, ==, MR_EINVALID_URL);
        MR_CHECK(strstr(detail, cases[i].fragment) != NULL);
        if (strstr(detail, cases[i].fragment) == NULL) {
            fprintf(stderr, "    url %s: detail '%s'\n", cases[i].url, detail);
        }
    }
}

static void
url_accepts_https(void)
{
    static const url_case cases[] = {
        {"https://mcp.example.com/mcp", NULL},
        {"https://mcp.example.com", NULL},
        {"HTTPS://MCP.example.com:8443/a/b?x=1", NULL},
        {"https://mcp.example.com/a%20b?q=%2F%2f", NULL},
        {"https://[2001:db8::1]/mcp", NULL},
    };
    reg_url_rules rules;

    reg_url_rules_parse(&rules, "", NULL, 0);
    check_cases(&rules, cases, sizeof(cases) / sizeof(cases[0]));
    reg_url_rules_free(&rules);
}

static void
url_rejects_bad_shapes(void)
{
    static const url_case cases[] = {
        {"mcp.example.com/mcp", "absolute"},
        {"/mcp", "absolute"},
        {"https:/mcp.example.com", "absolute"},
        {"https:///mcp.example.com", "absolute"},
        {"https:mcp.example.com", "absolute"},
        {"https://", "host"},
        {"https://user:pw@mcp.example.com/", "user info"},
        {"https://@mcp.example.com/", "user info"},
        {"https://mcp.example.com/#frag", "fragment"},
        {"https://mcp.example.com/#", "fragment"},
        {"https://mcp.example.com/a b", "white space"},
        {"https://mcp.example.com/\n", "control"},
        {"https://%6dcp.example.com/", "percent-encoding"},
        {"https://mcp.example.com:0/", "port 0"},
        {"https://mcp.example.com:70000/", "between 1 and 65535"},
        {"https://mcp.example.com/%zz", "at offset 24 is not followed"},
        {"https://mcp.example.com/a%2", "two hex digits"},
        {"https://mcp.example.com/?q=%", "Write '%' as %25"},
        {"ftp://mcp.example.com/", "scheme 'ftp'"},
        {"http://mcp.example.com/", "--dev-allow-hosts"},
    };
    reg_url_rules rules;

    reg_url_rules_parse(&rules, "", NULL, 0);
    check_cases(&rules, cases, sizeof(cases) / sizeof(cases[0]));
    reg_url_rules_free(&rules);
}

static void
url_detail_hides_credentials(void)
{
    reg_url_rules rules;
    char detail[512] = "";

    reg_url_rules_parse(&rules, "", NULL, 0);
    MR_CHECK_INT(reg_url_check(&rules, "https://me:hunter2@x.example/", detail,
                               sizeof(detail)),
                 ==, MR_EINVALID_URL);
    MR_CHECK(strstr(detail, "hunter2") == NULL);
    reg_url_rules_free(&rules);
}

static void
url_rejects_too_long(void)
{
    static char url[REG_URL_MAX + 2];
    reg_url_rules rules;
    char detail[512] = "";
    size_t prefix = strlen("https://x.example/");

    memcpy(url, "https://x.example/", prefix);
    memset(url + prefix, 'a', REG_URL_MAX + 1 - prefix);
    url[REG_URL_MAX + 1] = '\0';

    reg_url_rules_parse(&rules, "", NULL, 0);
    MR_CHECK_INT(reg_url_check(&rules, url, detail, sizeof(detail)), ==,
                 MR_EINVALID_URL);
    MR_CHECK(strstr(detail, "longer than") != NULL);

    url[REG_URL_MAX] = '\0';
    MR_CHECK_INT(reg_url_check(&rules, url, detail, sizeof(detail)), ==,
                 MR_OK);
    reg_url_rules_free(&rules);
}

static void
url_http_for_dev_hosts(void)
{
    static const url_case cases[] = {
        {"http://localhost:3000/mcp", NULL},
        {"http://LOCALHOST/mcp", NULL},
        {"http://127.0.0.1:9000/mcp", NULL},
        {"http://[::1]:9000/mcp", NULL},
        {"http://[0:0:0:0:0:0:0:1]/mcp", NULL},
        {"http://127.0.0.2/mcp", "'127.0.0.2' is not one of them"},
        {"http://localhost.example.com/", "--dev-allow-hosts"},
    };
    reg_url_rules rules;

    MR_CHECK_INT(
        reg_url_rules_parse(&rules, " localhost, 127.0.0.1,,[::1] ", NULL, 0),
        ==, MR_OK);
    MR_CHECK_INT(rules.allow.count, ==, 3);
    MR_CHECK_STR(rules.allow.hosts[2], "::1");
    check_cases(&rules, cases, sizeof(cases) / sizeof(cases[0]));
    reg_url_rules_free(&rules);
    MR_CHECK_INT(rules.allow.count, ==, 0);
}

/* A range admits http for IP literals inside it, as the discovery worker
 * does, while a host name still needs https. */
static void
url_http_for_range_only(void)
{
    static const url_case cases[] = {
        {"http://127.0.0.1:8080/mcp", NULL},
        {"http://127.255.0.9/mcp", NULL},
        {"http://[::ffff:127.0.0.1]/mcp", NULL},
        {"https://localhost/mcp", NULL},
        {"http://localhost/mcp", "'localhost' is not one of them"},
        {"http://10.0.0.1/mcp", "'10.0.0.1' is not one of them"},
        {"http://[::1]/mcp", "--dev-allow-hosts"},
        {"http://127.0.0.1.nip.io/mcp", "--dev-allow-hosts"},
    };
    reg_url_rules rules;

    MR_CHECK_INT(reg_url_rules_parse(&rules, "127.0.0.0/8", NULL, 0), ==,
                 MR_OK);
    MR_CHECK_INT(rules.allow.count, ==, 0);
    MR_CHECK_INT(rules.allow.nranges, ==, 1);
    check_cases(&rules, cases, sizeof(cases) / sizeof(cases[0]));
    reg_url_rules_free(&rules);
}

/* An invalid entry fails with a message that names the flag and the
 * entry, so the service can print it and exit. */
static void
rules_reject_invalid_entry(void)
{
    static const char *const lists[] = {"10.0.0.0/33", "localhost:8080",
                                        "127.0.0.1/8", "a.example;b"};
    static const char prefix[] = "invalid --dev-allow-hosts: ";

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        reg_url_rules rules;
        char message[512] = "";
        char entry[64];

        snprintf(entry, sizeof(entry), "entry \"%s\"", lists[i]);
        MR_CHECK_INT(
            reg_url_rules_parse(&rules, lists[i], message, sizeof(message)),
            ==, MR_EINVALID_FIELD);
        MR_CHECK(strncmp(message, prefix, sizeof(prefix) - 1) == 0);
        MR_CHECK(strstr(message, entry) != NULL);
        MR_CHECK_INT(rules.allow.count, ==, 0);
        MR_CHECK_INT(rules.allow.nranges, ==, 0);
        if (strstr(message, entry) == NULL) {
            fprintf(stderr, "    list %s: message '%s'\n", lists[i], message);
        }
    }
}

/* URLs that differ only in the case of their scheme or authority are the
 * same; any other difference, the path's case included, is not. */
static void
url_same_folds_scheme_and_host(void)
{
    static const struct {
        const char *a;
        const char *b;
        bool same;
    } cases[] = {
        {"https://mcp.example.com/mcp", "https://mcp.example.com/mcp", true},
        {"HTTP://127.0.0.1:9100/mcp", "http://127.0.0.1:9100/mcp", true},
        {"https://MCP.Example.COM/mcp", "hTTps://mcp.example.com/mcp", true},
        {"https://[::1]:8443/x?q=A", "HTTPS://[::1]:8443/x?q=A", true},
        {"https://MCP.example.com", "https://mcp.example.com", true},
        {"https://mcp.example.com/MCP", "https://mcp.example.com/mcp", false},
        {"https://mcp.example.com/mcp?A", "https://mcp.example.com/mcp?a",
         false},
        {"https://mcp.example.com/mcp", "https://mcp.example.com:443/mcp",
         false},
        {"https://mcp.example.com/mcp", "http://mcp.example.com/mcp", false},
        {"https://mcp.example.com/mcp", "https://mcp.example.org/mcp", false},
        {"https://a.example/mcp", "https://a.example?mcp", false},
        {"https://a.example/mcp", "https://a.example/mcp/", false},
        {"no-scheme", "NO-SCHEME", false},
        {"no-scheme", "no-scheme", true},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool same = reg_url_same(cases[i].a, cases[i].b);
        bool reverse = reg_url_same(cases[i].b, cases[i].a);

        MR_CHECK(same == cases[i].same);
        MR_CHECK(reverse == cases[i].same);
        if (same != cases[i].same || reverse != cases[i].same) {
            fprintf(stderr, "    %s vs %s: expected %s\n", cases[i].a,
                    cases[i].b, cases[i].same ? "same" : "different");
        }
    }
}

/* Host names follow DNS's limits: 253 characters without a final dot,
 * and labels of 1 to 63. A name outside ASCII must come in punycode. */
static void
url_host_name_lengths(void)
{
    static char longest[400];
    static char too_long[400];
    static char long_label[200];
    static char max_label[200];
    static char cjk_label[200];
    const url_case cases[] = {
        {longest, NULL},
        {too_long, "at most 253 characters"},
        {max_label, NULL},
        {long_label, "labels of 1 to 63"},
        {"https://a..example.com/mcp", "labels of 1 to 63"},
        {"https://mcp.example.com./mcp", NULL},
        /* 32 times u-umlaut, 38 characters in punycode. */
        {"https://\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
         "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
         "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
         "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
         "\xc3\xbc.de/mcp",
         "punycode"},
        {"https://xn--tdaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.de/mcp", NULL},
        {cjk_label, "punycode"},
    };
    reg_url_rules rules;
    char name[300];

    /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters. */
    memset(name, 'a', 253);
    name[63] = '.';
    name[127] = '.';
    name[191] = '.';
    snprintf(longest, sizeof(longest), "https://%.253s/mcp", name);
    snprintf(too_long, sizeof(too_long), "https://b%.253s/mcp", name);
    snprintf(max_label, sizeof(max_label), "https://%.63s.example.com/", name);
    snprintf(long_label, sizeof(long_label), "https://b%.63s.example.com/",
             name);

    /* 21 CJK characters: 63 bytes. */
    memcpy(cjk_label, "https://", 8);
    for (int i = 0; i < 21; i++) {
        unsigned cp = 0x4e00 + (unsigned)i * 997;

        cjk_label[8 + 3 * i] = (char)(0xe0 | (cp >> 12));
        cjk_label[9 + 3 * i] = (char)(0x80 | ((cp >> 6) & 0x3f));
        cjk_label[10 + 3 * i] = (char)(0x80 | (cp & 0x3f));
    }
    memcpy(cjk_label + 8 + 63, ".cn/", 5);

    reg_url_rules_parse(&rules, "", NULL, 0);
    check_cases(&rules, cases, sizeof(cases) / sizeof(cases[0]));
    reg_url_rules_free(&rules);
}

static const mr_test_case test_cases[] = {
    {"url_accepts_https", url_accepts_https},
    {"url_rejects_bad_shapes", url_rejects_bad_shapes},
    {"url_detail_hides_credentials", url_detail_hides_credentials},
    {"url_rejects_too_long", url_rejects_too_long},
    {"url_host_name_lengths", url_host_name_lengths},
    {"url_http_for_dev_hosts", url_http_for_dev_hosts},
    {"url_http_for_range_only", url_http_for_range_only},
    {"rules_reject_invalid_entry", rules_reject_invalid_entry},
    {"url_same_folds_scheme_and_host", url_same_folds_scheme_and_host},
};

MR_TEST_MAIN(test_cases)
