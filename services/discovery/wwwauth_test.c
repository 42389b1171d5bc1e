/* wwwauth_test.c - unit tests of the WWW-Authenticate parser. */
#include <stdio.h>
#include <stdlib.h>

#include "mr_test.h"
#include "wwwauth.h"

/* parse_one parses value into a fresh list and checks that it succeeds. */
static disc_challenges
parse_one(const char *value)
{
    disc_challenges list = {0};
    size_t pos = 0;

    MR_CHECK_INT(disc_wwwauth_parse(value, &list, &pos), ==, MR_OK);
    return list;
}

static void
test_bearer_with_params(void)
{
    disc_challenges list = parse_one(
        "Bearer realm=\"mcp\", error=\"invalid_token\", "
        "resource_metadata=\"https://a.example/.well-known/"
        "oauth-protected-resource/mcp\", scope=\"files:read files:write\"");

    MR_CHECK_INT(list.count, ==, 1);
    MR_CHECK_STR(list.items[0].scheme, "Bearer");
    MR_CHECK(list.items[0].token68 == NULL);
    MR_CHECK_INT(list.items[0].nparams, ==, 4);
    MR_CHECK_STR(disc_challenge_param(&list.items[0], "realm", 0), "mcp");
    MR_CHECK_STR(disc_challenge_param(&list.items[0], "resource_metadata", 0),
                 "https://a.example/.well-known/oauth-protected-resource/mcp");
    MR_CHECK_STR(disc_challenge_param(&list.items[0], "scope", 0),
                 "files:read files:write");
    disc_challenges_free(&list);
}

static void
test_several_challenges_one_header(void)
{
    disc_challenges list =
        parse_one("Basic realm=\"simple\", Newauth realm=\"apps\", type=1, "
                  "title=\"Login to \\\"apps\\\"\", Bearer scope=\"a b\"");
    const disc_challenge *bearer;

    MR_CHECK_INT(list.count, ==, 3);
    MR_CHECK_STR(list.items[0].scheme, "Basic");
    MR_CHECK_INT(list.items[0].nparams, ==, 1);
    MR_CHECK_STR(list.items[1].scheme, "Newauth");
    MR_CHECK_INT(list.items[1].nparams, ==, 3);
    MR_CHECK_STR(disc_challenge_param(&list.items[1], "type", 0), "1");
    MR_CHECK_STR(disc_challenge_param(&list.items[1], "title", 0),
                 "Login to \"apps\"");

    bearer = disc_challenges_find(&list, "bearer");
    MR_CHECK(bearer == &list.items[2]);
    MR_CHECK_STR(disc_challenge_param(bearer, "scope", 0), "a b");
    disc_challenges_free(&list);
}

static void
test_several_headers_append(void)
{
    disc_challenges list = {0};
    size_t pos = 0;

    MR_CHECK_INT(disc_wwwauth_parse("Basic realm=x", &list, &pos), ==, MR_OK);
    MR_CHECK_INT(disc_wwwauth_parse("Bearer realm=y", &list, &pos), ==, MR_OK);
    MR_CHECK_INT(list.count, ==, 2);
    MR_CHECK_STR(list.items[0].scheme, "Basic");
    MR_CHECK_STR(list.items[1].scheme, "Bearer");
    MR_CHECK_STR(disc_challenge_param(&list.items[1], "realm", 0), "y");
    disc_challenges_free(&list);
}

static void
test_scheme_and_names_ignore_case(void)
{
    disc_challenges list =
        parse_one("BEARER Resource_Metadata=\"https://a/x\", SCOPE=s");
    const disc_challenge *bearer = disc_challenges_find(&list, "Bearer");

    MR_CHECK(bearer != NULL);
    MR_CHECK_STR(disc_challenge_param(bearer, "resource_metadata", 0),
                 "https://a/x");
    MR_CHECK_STR(disc_challenge_param(bearer, "scope", 0), "s");
    disc_challenges_free(&list);
}

static void
test_names_match_exactly(void)
{
    disc_challenges list = parse_one(
        "Bearer error_scope=\"wrong\", x_resource_metadata=\"https://x/\", "
        "resource_metadata_url=\"https://y/\", scopes=\"no\"");
    const disc_challenge *bearer = disc_challenges_find(&list, "Bearer");

    MR_CHECK(bearer != NULL);
    MR_CHECK(disc_challenge_param(bearer, "scope", 0) == NULL);
    MR_CHECK(disc_challenge_param(bearer, "resource_metadata", 0) == NULL);
    MR_CHECK(disc_challenges_find(&list, "Bear") == NULL);
    MR_CHECK(disc_challenges_find(&list, "Bearerx") == NULL);
    disc_challenges_free(&list);
}

static void
test_repeated_param_in_order(void)
{
    disc_challenges list =
        parse_one("Bearer resource_metadata=\"https://a/1\", "
                  "resource_metadata=\"https://a/2\"");
    const disc_challenge *bearer = &list.items[0];

    MR_CHECK_INT(list.count, ==, 1);
    MR_CHECK_STR(disc_challenge_param(bearer, "resource_metadata", 0),
                 "https://a/1");
    MR_CHECK_STR(disc_challenge_param(bearer, "resource_metadata", 1),
                 "https://a/2");
    MR_CHECK(disc_challenge_param(bearer, "resource_metadata", 2) == NULL);
    disc_challenges_free(&list);
}

static void
test_quoted_commas_and_escapes(void)
{
    disc_challenges list =
        parse_one("Bearer realm=\"a, b=c, Basic d\", "
                  "error_description=\"back\\\\slash \\\"q\\\" \\x\"");

    MR_CHECK_INT(list.count, ==, 1);
    MR_CHECK_INT(list.items[0].nparams, ==, 2);
    MR_CHECK_STR(disc_challenge_param(&list.items[0], "realm", 0),
                 "a, b=c, Basic d");
    MR_CHECK_STR(disc_challenge_param(&list.items[0], "error_description", 0),
                 "back\\slash \"q\" x");
    disc_challenges_free(&list);
}

static void
test_whitespace_around_equals(void)
{
    disc_challenges list =
        parse_one("Bearer realm = \"r\" ,\tscope\t=\tx , error =y");

    MR_CHECK_INT(list.count, ==, 1);
    MR_CHECK_INT(list.items[0].nparams, ==, 3);
    MR_CHECK_STR(disc_challenge_param(&list.items[0], "realm", 0), "r");
    MR_CHECK_STR(disc_challenge_param(&list.items[0], "scope", 0), "x");
    MR_CHECK_STR(disc_challenge_param(&list.items[0], "error", 0), "y");
    disc_challenges_free(&list);
}

static void
test_token68(void)
{
    disc_challenges list =
        parse_one("Negotiate a87421000492aa874209af8bc028==, "
                  "Basic dXNlcjpwYXNz, Bearer realm=x");

    MR_CHECK_INT(list.count, ==, 3);
    MR_CHECK_STR(list.items[0].scheme, "Negotiate");
    MR_CHECK_STR(list.items[0].token68, "a87421000492aa874209af8bc028==");
    MR_CHECK_INT(list.items[0].nparams, ==, 0);
    MR_CHECK_STR(list.items[1].token68, "dXNlcjpwYXNz");
    MR_CHECK(list.items[2].token68 == NULL);
    MR_CHECK_STR(disc_challenge_param(&list.items[2], "realm", 0), "x");
    disc_challenges_free(&list);
}

static void
test_token68_with_slash_and_plus(void)
{
    disc_challenges list = parse_one("Custom ab/c+d.e~f-g_h=");

    MR_CHECK_INT(list.count, ==, 1);
    MR_CHECK_STR(list.items[0].token68, "ab/c+d.e~f-g_h=");
    disc_challenges_free(&list);
}

/* "realm=" fits token68 (a token68 may end in "="), so it is not an
 * auth-param with an empty value, which the grammar does not allow. */
static void
test_token68_ending_in_equals(void)
{
    disc_challenges list = parse_one("Bearer realm=");

    MR_CHECK_INT(list.count, ==, 1);
    MR_CHECK_STR(list.items[0].token68, "realm=");
    MR_CHECK_INT(list.items[0].nparams, ==, 0);
    disc_challenges_free(&list);
}

static void
test_scheme_without_params(void)
{
    disc_challenges list = parse_one("Bearer, Basic realm=x, Foo");

    MR_CHECK_INT(list.count, ==, 3);
    MR_CHECK_STR(list.items[0].scheme, "Bearer");
    MR_CHECK_INT(list.items[0].nparams, ==, 0);
    MR_CHECK(list.items[0].token68 == NULL);
    MR_CHECK_STR(list.items[2].scheme, "Foo");
    disc_challenges_free(&list);
}

static void
test_empty_list_elements(void)
{
    disc_challenges list =
        parse_one(" , ,Bearer realm=x, , scope=y ,, Basic , ");

    MR_CHECK_INT(list.count, ==, 2);
    MR_CHECK_INT(list.items[0].nparams, ==, 2);
    MR_CHECK_STR(disc_challenge_param(&list.items[0], "scope", 0), "y");
    MR_CHECK_STR(list.items[1].scheme, "Basic");
    disc_challenges_free(&list);
}

static void
test_empty_value_has_no_challenge(void)
{
    disc_challenges list = parse_one("");

    MR_CHECK_INT(list.count, ==, 0);
    disc_challenges_free(&list);
}

static void
test_empty_quoted_value(void)
{
    disc_challenges list = parse_one("Bearer realm=\"\"");

    MR_CHECK_STR(disc_challenge_param(&list.items[0], "realm", 0), "");
    disc_challenges_free(&list);
}

static void
test_invalid_values_rejected(void)
{
    static const struct {
        const char *value;
        size_t error_pos;
    } cases[] = {
        {"Bearer realm=\"unterminated", 26},
        {"Bearer realm = ", 15},
        {"Bearer realm=x scope=y", 15},
        {"Bearer =x", 7},
        {"Bearer realm=\"a\"junk", 16},
        {"=Bearer", 0},
        {"Bearer abc==, realm=x", 19},
        {"Bearer realm=\"ctl\x01\"", 17},
        {"Bearer realm=a==", 14},
        {"\"Bearer\"", 0},
        {"Bearer realm=\"trailing backslash\\", 32},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        disc_challenges list = {0};
        size_t pos = 0;

        mr_err err = disc_wwwauth_parse(cases[i].value, &list, &pos);

        if (err != MR_EINVALID_FIELD || pos != cases[i].error_pos) {
            fprintf(stderr, "    value: %s\n", cases[i].value);
        }
        MR_CHECK_INT(err, ==, MR_EINVALID_FIELD);
        MR_CHECK_INT(pos, ==, cases[i].error_pos);
        MR_CHECK_INT(list.count, ==, 0);
        disc_challenges_free(&list);
    }
}

static void
test_invalid_value_appends_nothing(void)
{
    disc_challenges list = parse_one("Basic realm=x");
    size_t pos = 0;

    MR_CHECK_INT(disc_wwwauth_parse("Bearer realm=y, Other \"", &list, &pos),
                 ==, MR_EINVALID_FIELD);
    MR_CHECK_INT(list.count, ==, 1);
    MR_CHECK_STR(list.items[0].scheme, "Basic");
    disc_challenges_free(&list);
}

static void
test_obs_text_kept(void)
{
    disc_challenges list = parse_one("Bearer realm=\"caf\xc3\xa9\"");

    MR_CHECK_STR(disc_challenge_param(&list.items[0], "realm", 0),
                 "caf\xc3\xa9");
    disc_challenges_free(&list);
}

static void
test_ascii_casecmp(void)
{
    MR_CHECK_INT(disc_ascii_casecmp("Bearer", "bEARER"), ==, 0);
    MR_CHECK_INT(disc_ascii_casecmp("Bearer", "Bearers"), <, 0);
    MR_CHECK_INT(disc_ascii_casecmp("b", "a"), >, 0);
    MR_CHECK_INT(disc_ascii_casecmp("", ""), ==, 0);
    MR_CHECK(disc_ascii_casecmp("\xc3\x89", "\xc3\xa9") != 0);
}

static const mr_test_case cases[] = {
    {"bearer_with_params", test_bearer_with_params},
    {"several_challenges_one_header", test_several_challenges_one_header},
    {"several_headers_append", test_several_headers_append},
    {"scheme_and_names_ignore_case", test_scheme_and_names_ignore_case},
    {"names_match_exactly", test_names_match_exactly},
    {"repeated_param_in_order", test_repeated_param_in_order},
    {"quoted_commas_and_escapes", test_quoted_commas_and_escapes},
    {"whitespace_around_equals", test_whitespace_around_equals},
    {"token68", test_token68},
    {"token68_with_slash_and_plus", test_token68_with_slash_and_plus},
    {"token68_ending_in_equals", test_token68_ending_in_equals},
    {"scheme_without_params", test_scheme_without_params},
    {"empty_list_elements", test_empty_list_elements},
    {"empty_value_has_no_challenge", test_empty_value_has_no_challenge},
    {"empty_quoted_value", test_empty_quoted_value},
    {"invalid_values_rejected", test_invalid_values_rejected},
    {"invalid_value_appends_nothing", test_invalid_value_appends_nothing},
    {"obs_text_kept", test_obs_text_kept},
    {"ascii_casecmp", test_ascii_casecmp},
};

MR_TEST_MAIN(cases)
