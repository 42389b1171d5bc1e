/* gw_target_test.c - request targets in absolute form route by their
 * path. */
#include <string.h>

#include "gw_target.h"
#include "mr_test.h"

#define PATH "/v1/deepagents/mcp-servers"

/* An absolute-form target routes by its path. Other targets stay as they
 * are, and so does one whose authority is empty, has userinfo or is not a
 * valid host and port. */
static void
origin_path_of_targets(void)
{
    static const struct {
        const char *target;
        const char *path;
    } cases[] = {
        {"http://h:1" PATH, PATH},
        {"HTTPS://h.example" PATH "/x", PATH "/x"},
        {"http://[::1]:8080" PATH, PATH},
        {"http://[2001:db8::192.0.2.1]" PATH, PATH},
        {"http://h%41:" PATH, PATH},
        {"http://h", "/"},
    };
    static const char *const kept[] = {
        PATH,
        "http:///v1/x",
        "http://:/v1/x",
        "http://@/v1/x",
        "http://u:p@h/v1/x",
        "http://h#/v1/x",
        "http://h y/v1/x",
        "http://[::1/v1/x",
        "http://[]/v1/x",
        "http://[:]/v1/x",
        "http://[1.2.3.4]/v1/x",
        "http://[v1.x]/v1/x",
        "http://h\\/v1/x",
        "http://h:8a/v1/x",
        "http://h%4/v1/x",
        "%68ttp://h/v1/x",
        "ftp://h/v1/x",
        "http:/v1/x",
        "*",
        "",
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        MR_CHECK_STR(gw_target_origin_path(cases[i].target), cases[i].path);
    }
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        MR_CHECK(gw_target_origin_path(kept[i]) == kept[i]);
    }
}

static const mr_test_case cases[] = {
    {"origin_path_of_targets", origin_path_of_targets},
};

MR_TEST_MAIN(cases)
