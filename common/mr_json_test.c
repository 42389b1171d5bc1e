/* mr_json_test.c - strict parsing of untrusted JSON. */
#include <string.h>

#include "mr_json.h"
#include "mr_test.h"

static mr_err
parse(const char *text, json_t **out, char *why, size_t whylen)
{
    return mr_json_parse(text, strlen(text), MR_JSON_DEPTH_MAX, out, why,
                         whylen);
}

static void
test_accepts_object(void)
{
    json_t *v = NULL;
    char why[128];

    MR_CHECK_INT(parse("{\"a\": [1, \"x\"]}", &v, why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK(json_is_object(v));
    json_decref(v);
}

static void
test_rejects_duplicate_keys(void)
{
    json_t *v = NULL;
    char why[128];

    MR_CHECK_INT(parse("{\"a\":1,\"a\":2}", &v, why, sizeof(why)), ==,
                 MR_EINVALID_BODY);
    MR_CHECK(v == NULL);
    MR_CHECK(strstr(why, "duplicate") != NULL);
}

static void
test_rejects_bad_utf8_and_nul(void)
{
    json_t *v = NULL;
    char why[128];
    const char bad_utf8[] = "{\"a\":\"\xc3\x28\"}";

    MR_CHECK_INT(parse(bad_utf8, &v, why, sizeof(why)), ==, MR_EINVALID_BODY);
    MR_CHECK_INT(parse("{\"a\":\"x\\u0000y\"}", &v, why, sizeof(why)), ==,
                 MR_EINVALID_BODY);
    MR_CHECK(strstr(why, "JSON_ALLOW_NUL") == NULL);
    MR_CHECK(strstr(why, "\\u0000") != NULL);
}

static void
test_rejects_deep_nesting(void)
{
    char deep[200];
    json_t *v = NULL;
    char why[128];

    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = '\0';
    MR_CHECK_INT(parse(deep, &v, why, sizeof(why)), ==, MR_EINVALID_BODY);
    MR_CHECK(strstr(why, "nesting") != NULL);
}

static void
test_brackets_in_strings_ignored(void)
{
    json_t *v = NULL;
    char why[128];
    char text[256] = "{\"a\":\"";

    memset(text + 6, '[', 100);
    memcpy(text + 106, "\"}", 3);
    MR_CHECK_INT(parse(text, &v, why, sizeof(why)), ==, MR_OK);
    json_decref(v);
}

static void
test_error_omits_input(void)
{
    json_t *v = NULL;
    char why[128];

    MR_CHECK_INT(parse("{\"a\": secretvalue}", &v, why, sizeof(why)), ==,
                 MR_EINVALID_BODY);
    MR_CHECK(strstr(why, "secretvalue") == NULL);
}

static const mr_test_case cases[] = {
    {"accepts_object", test_accepts_object},
    {"rejects_duplicate_keys", test_rejects_duplicate_keys},
    {"rejects_bad_utf8_and_nul", test_rejects_bad_utf8_and_nul},
    {"rejects_deep_nesting", test_rejects_deep_nesting},
    {"brackets_in_strings_ignored", test_brackets_in_strings_ignored},
    {"error_omits_input", test_error_omits_input},
};

MR_TEST_MAIN(cases)
