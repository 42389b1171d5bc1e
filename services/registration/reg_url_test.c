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
        {"https://[2001:db8::1]/mcp", NULL},
    };
    reg_url_rules rules;

    reg_url_rules_parse(&rules, "");
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
        {"https://mcp.example.com:70000/", "could not be parsed"},
        {"ftp://mcp.example.com/", "scheme 'ftp'"},
        {"http://mcp.example.com/", "--dev-allow-hosts"},
    };
    reg_url_rules rules;

    reg_url_rules_parse(&rules, "");
    check_cases(&rules, cases, sizeof(cases) / sizeof(cases[0]));
    reg_url_rules_free(&rules);
}

static void
url_detail_hides_credentials(void)
{
    reg_url_rules rules;
    char detail[512] = "";

    reg_url_rules_parse(&rules, "");
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

    reg_url_rules_parse(&rules, "");
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
        {"http://127.0.0.2/mcp", "'127.0.0.2' is not one"},
        {"http://localhost.example.com/", "--dev-allow-hosts"},
    };
    reg_url_rules rules;

    MR_CHECK_INT(reg_url_rules_parse(&rules, " localhost, 127.0.0.1,,[::1] "),
                 ==, MR_OK);
    MR_CHECK_INT(rules.nhosts, ==, 3);
    MR_CHECK_STR(rules.hosts[2], "::1");
    check_cases(&rules, cases, sizeof(cases) / sizeof(cases[0]));
    reg_url_rules_free(&rules);
    MR_CHECK_INT(rules.nhosts, ==, 0);
}

static const mr_test_case test_cases[] = {
    {"url_accepts_https", url_accepts_https},
    {"url_rejects_bad_shapes", url_rejects_bad_shapes},
    {"url_detail_hides_credentials", url_detail_hides_credentials},
    {"url_rejects_too_long", url_rejects_too_long},
    {"url_http_for_dev_hosts", url_http_for_dev_hosts},
};

MR_TEST_MAIN(test_cases)
