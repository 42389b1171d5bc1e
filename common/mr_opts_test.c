/* mr_opts_test.c - flags, environment fall-backs and errors. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mr_opts.h"
#include "mr_test.h"
#include "mr_util.h"

static const char *url;
static long count;
static bool demo;

static const mr_opt opts[] = {
    {"url", "MR_TEST_URL", MR_OPT_STR, &url, "where to listen"},
    {"count", "MR_TEST_COUNT", MR_OPT_INT, &count, "how many"},
    {"demo", NULL, MR_OPT_BOOL, &demo, "demo mode"},
};

static int
parse(int argc, char **argv, int *rest)
{
    url = "default";
    count = 7;
    demo = false;
    return mr_opts_parse(opts, 3, argc, argv, "usage: test", rest);
}

static void
test_defaults_kept(void)
{
    char *argv[] = {"prog"};

    unsetenv("MR_TEST_URL");
    unsetenv("MR_TEST_COUNT");
    MR_CHECK_INT(parse(1, argv, NULL), ==, 0);
    MR_CHECK_STR(url, "default");
    MR_CHECK_INT(count, ==, 7);
    MR_CHECK(!demo);
}

static void
test_flags_override_env(void)
{
    char *argv[] = {"prog", "--url", "tcp://x", "--count=3", "--demo"};

    setenv("MR_TEST_URL", "from-env", 1);
    setenv("MR_TEST_COUNT", "9", 1);
    MR_CHECK_INT(parse(5, argv, NULL), ==, 0);
    MR_CHECK_STR(url, "tcp://x");
    MR_CHECK_INT(count, ==, 3);
    MR_CHECK(demo);
    unsetenv("MR_TEST_URL");
    unsetenv("MR_TEST_COUNT");
}

static void
test_env_used_without_flag(void)
{
    char *argv[] = {"prog"};

    setenv("MR_TEST_COUNT", "12", 1);
    MR_CHECK_INT(parse(1, argv, NULL), ==, 0);
    MR_CHECK_INT(count, ==, 12);
    unsetenv("MR_TEST_COUNT");
}

static void
test_errors_reported(void)
{
    char *unknown[] = {"prog", "--nope"};
    char *bad_int[] = {"prog", "--count", "x1"};
    char *missing[] = {"prog", "--url"};
    char *stray[] = {"prog", "stray"};

    MR_CHECK_INT(parse(2, unknown, NULL), ==, -1);
    MR_CHECK_INT(parse(3, bad_int, NULL), ==, -1);
    MR_CHECK_INT(parse(2, missing, NULL), ==, -1);
    MR_CHECK_INT(parse(2, stray, NULL), ==, -1);
}

/* An integer is decimal digits only: strtol's leading spaces and signs
 * are rejected, and so is a value that overflows a long. */
static void
test_integers_strict(void)
{
    const char *bad[] = {" 5", "+5", "-1", "5 ", "", "99999999999999999999"};
    char good[] = "--count=0";
    char *argv[] = {"prog", "--count", NULL};
    char *zero[] = {"prog", good};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        argv[2] = (char *)bad[i];
        MR_CHECK_INT(parse(3, argv, NULL), ==, -1);
    }
    MR_CHECK_INT(parse(2, zero, NULL), ==, 0);
    MR_CHECK_INT(count, ==, 0);
}

/* Returns what mr_opts_parse prints to stderr for argv and the options
 * with_opts, or for the file's own options when with_opts is NULL. */
static char *
stderr_of_parse(const mr_opt *with_opts, int argc, char **argv, char *out,
                size_t len)
{
    FILE *capture = tmpfile();
    int saved = dup(STDERR_FILENO);
    size_t length;

    MR_CHECK(capture != NULL && saved >= 0);
    fflush(stderr);
    MR_CHECK_INT(dup2(fileno(capture), STDERR_FILENO), ==, STDERR_FILENO);
    if (with_opts != NULL) {
        mr_opts_parse(with_opts, 1, argc, argv, "usage: test", NULL);
    } else {
        parse(argc, argv, NULL);
    }
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    rewind(capture);
    length = fread(out, 1, len - 1, capture);
    out[length] = '\0';
    fclose(capture);
    return out;
}

/* Every message starts with the program's name once it is set. */
static void
test_program_named(void)
{
    char *unknown[] = {"prog", "--nope"};
    char text[256];

    mr_opts_program("mcpreg-test");
    MR_CHECK_STR(stderr_of_parse(NULL, 2, unknown, text, sizeof(text)),
                 "mcpreg-test: unknown option '--nope'; see --help\n");
}

static void
test_rest_and_help(void)
{
    char *cmd[] = {"prog", "--demo", "key", "create"};
    char *help[] = {"prog", "--help"};
    char *short_help[] = {"prog", "-h"};
    int rest = 0;

    MR_CHECK_INT(parse(4, cmd, &rest), ==, 0);
    MR_CHECK_INT(rest, ==, 2);
    MR_CHECK_INT(parse(2, help, NULL), ==, 1);
    MR_CHECK_INT(parse(2, short_help, NULL), ==, 1);
}

/* A UUID option takes the 8-4-4-4-12 form in any case and keeps it in
 * lower case. Its error does not echo the value, which may be a secret
 * pasted by mistake. */
static void
test_uuid_checked(void)
{
    static char id[MR_UUID_LEN + 1];
    const mr_opt uuid_opts[] = {{"id", NULL, MR_OPT_UUID, id, "an id"}};
    char good[] = "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9";
    char *valid[] = {"prog", "--id", good};
    char *invalid[] = {"prog", "--id", "secret-not-a-uuid"};
    char text[256];

    MR_CHECK_INT(mr_opts_parse(uuid_opts, 1, 3, valid, "usage", NULL), ==, 0);
    MR_CHECK_STR(id, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");

    MR_CHECK_INT(mr_opts_parse(uuid_opts, 1, 3, invalid, "usage", NULL), ==,
                 -1);
    stderr_of_parse(uuid_opts, 3, invalid, text, sizeof(text));
    MR_CHECK(strstr(text, "expected a UUID") != NULL);
    MR_CHECK(strstr(text, "secret") == NULL);
}

/* The source names what set the value, the flag over the environment,
 * in every spelling that mr_opts_parse takes. */
static void
test_source_named(void)
{
    char *spaced[] = {"prog", "--demo", "--url", "tcp://x", "key"};
    char *joined[] = {"prog", "--url=tcp://x", "--", "--count"};
    char *valued[] = {"prog", "--count", "--url", "list"};
    const mr_opt *url_opt = &opts[0];

    unsetenv("MR_TEST_URL");
    MR_CHECK_INT(mr_opts_source(opts, 3, url_opt, 1, spaced), ==,
                 MR_OPT_FROM_DEFAULT);
    MR_CHECK_INT(mr_opts_source(opts, 3, url_opt, 5, spaced), ==,
                 MR_OPT_FROM_ARGV);
    MR_CHECK_INT(mr_opts_source(opts, 3, url_opt, 4, joined), ==,
                 MR_OPT_FROM_ARGV);
    MR_CHECK_INT(mr_opts_source(opts, 3, &opts[1], 4, joined), ==,
                 MR_OPT_FROM_DEFAULT);

    /* "--url" there is the value of --count, not a flag. */
    setenv("MR_TEST_URL", "from-env", 1);
    MR_CHECK_INT(mr_opts_source(opts, 3, url_opt, 4, valued), ==,
                 MR_OPT_FROM_ENV);
    MR_CHECK_INT(mr_opts_source(opts, 3, url_opt, 5, spaced), ==,
                 MR_OPT_FROM_ARGV);
    unsetenv("MR_TEST_URL");
}

static const mr_test_case cases[] = {
    {"defaults_kept", test_defaults_kept},
    {"flags_override_env", test_flags_override_env},
    {"env_used_without_flag", test_env_used_without_flag},
    {"errors_reported", test_errors_reported},
    {"integers_strict", test_integers_strict},
    {"program_named", test_program_named},
    {"rest_and_help", test_rest_and_help},
    {"uuid_checked", test_uuid_checked},
    {"source_named", test_source_named},
};

MR_TEST_MAIN(cases)
