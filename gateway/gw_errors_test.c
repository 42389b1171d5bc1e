/* gw_errors_test.c - the shapes of the gateway's error bodies. */
#include <stdlib.h>

#include "gw_errors.h"
#include "mr_test.h"

static void
unauthorized_body_exact(void)
{
    char *body = gw_error_body(MR_EUNAUTHENTICATED, "ignored");

    MR_CHECK_STR(body, "{\"error\":\"Unauthorized\"}");
    free(body);
}

static void
forbidden_body_exact(void)
{
    char *body = gw_error_body(MR_EFORBIDDEN, "the key is revoked");

    MR_CHECK_STR(body, "{\"error\":\"Forbidden\"}");
    free(body);
}

static void
structured_body_default_detail(void)
{
    char *body = gw_error_body(MR_EROUTE, NULL);

    MR_CHECK_STR(body, "{\"type\":\"https://docs.mcpreg.dev/errors/"
                       "route_not_found\",\"code\":\"route_not_found\","
                       "\"detail\":\"Check the path against the API "
                       "reference: no such route\",\"status\":404}");
    free(body);
}

static void
structured_body_given_detail(void)
{
    char *body =
        gw_error_body(MR_EMISSING_FIELD,
                      "Set 'name' to a non-empty string: 'name' is required");

    MR_CHECK_STR(body, "{\"type\":\"https://docs.mcpreg.dev/errors/"
                       "missing_required_field\",\"code\":"
                       "\"missing_required_field\",\"detail\":\"Set 'name' "
                       "to a non-empty string: 'name' is required\","
                       "\"status\":400}");
    free(body);
}

static void
empty_detail_uses_default(void)
{
    char *body = gw_error_body(MR_EUNAVAILABLE, "");

    MR_CHECK(body != NULL);
    MR_CHECK(strstr(body, mr_strerror(MR_EUNAVAILABLE)) != NULL);
    MR_CHECK(strstr(body, "\"status\":503") != NULL);
    free(body);
}

static void
quotes_escaped_in_detail(void)
{
    char *body = gw_error_body(MR_EINVALID_FIELD, "got \"x\"\n");

    MR_CHECK(body != NULL);
    MR_CHECK(strstr(body, "\"detail\":\"got \\\"x\\\"\\n\"") != NULL);
    free(body);
}

static void
invalid_utf8_detail_rejected(void)
{
    char *body = gw_error_body(MR_EINVALID_FIELD, "bad \xff byte");

    MR_CHECK(body == NULL);
}

static void
every_error_has_body(void)
{
    for (int i = 1; i < MR_ERR_COUNT; i++) {
        char *body = gw_error_body((mr_err)i, NULL);

        MR_CHECK(body != NULL);
        free(body);
    }
}

static void
copy_text_fits(void)
{
    char dst[8];

    MR_CHECK_STR(gw_copy_text(dst, sizeof(dst), "abc"), "abc");
}

static void
copy_text_cuts_ascii(void)
{
    char dst[4];

    MR_CHECK_STR(gw_copy_text(dst, sizeof(dst), "abcdef"), "abc");
}

static void
copy_text_keeps_utf8_whole(void)
{
    char dst[5];

    /* "ab" then U+20AC (3 bytes): only 4 bytes fit, so the euro sign is
     * dropped whole. */
    MR_CHECK_STR(gw_copy_text(dst, sizeof(dst), "ab\xe2\x82\xac"), "ab");
}

static const mr_test_case cases[] = {
    {"unauthorized_body_exact", unauthorized_body_exact},
    {"forbidden_body_exact", forbidden_body_exact},
    {"structured_body_default_detail", structured_body_default_detail},
    {"structured_body_given_detail", structured_body_given_detail},
    {"empty_detail_uses_default", empty_detail_uses_default},
    {"quotes_escaped_in_detail", quotes_escaped_in_detail},
    {"invalid_utf8_detail_rejected", invalid_utf8_detail_rejected},
    {"every_error_has_body", every_error_has_body},
    {"copy_text_fits", copy_text_fits},
    {"copy_text_cuts_ascii", copy_text_cuts_ascii},
    {"copy_text_keeps_utf8_whole", copy_text_keeps_utf8_whole},
};

MR_TEST_MAIN(cases)
