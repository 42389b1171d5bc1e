/* gw_query_test.c - counting query parameters as libmicrohttpd stores them. */
#include "gw_query.h"
#include "mr_test.h"

static void
test_params_counted(void)
{
    const struct {
        const char *uri;
        size_t params;
    } cases[] = {
        {"/v1/deepagents/mcp-servers", 0},
        {"/v1/deepagents/mcp-servers?", 0},
        {"/x?a", 1},
        {"/x?a=1&b=2", 2},
        {"/x?a&&b", 3},
        {"/x?a&", 1},
        {"/x?&", 1},
        {"/x?a=1&b=2&", 2},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        MR_CHECK_INT(gw_query_params(cases[i].uri), ==, cases[i].params);
    }
}

static const mr_test_case cases[] = {
    {"params_counted", test_params_counted},
};

MR_TEST_MAIN(cases)
