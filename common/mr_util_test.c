/* mr_util_test.c - UUIDs, tokens, hashing, time formatting and printable
 * copies of text. */
#include <string.h>

#include "mr_test.h"
#include "mr_util.h"

static void
test_uuid_v4_is_canonical(void)
{
    char id[MR_UUID_LEN + 1];
    char canon[MR_UUID_LEN + 1];

    mr_util_init();
    mr_uuid_v4(id);
    MR_CHECK_INT(strlen(id), ==, MR_UUID_LEN);
    MR_CHECK(mr_uuid_canonical(id, canon));
    MR_CHECK_STR(canon, id);
    MR_CHECK_INT(id[14], ==, '4');
    MR_CHECK(strchr("89ab", id[19]) != NULL);

    mr_uuid_v4(canon);
    MR_CHECK(strcmp(canon, id) != 0);
}

static void
test_copy_cuts_and_terminates(void)
{
    char small[4];
    char exact[6];

    MR_CHECK_STR(mr_copy(small, sizeof(small), "abcdef"), "abc");
    MR_CHECK_STR(mr_copy(exact, sizeof(exact), "abcde"), "abcde");
    MR_CHECK_STR(mr_copy(exact, sizeof(exact), ""), "");
    MR_CHECK_STR(mr_copy(small, 1, "x"), "");
}

static void
test_uuid_rejects_bad_forms(void)
{
    static const char *const bad[] = {
        "",
        "not-a-uuid",
        "123e4567e89b12d3a456426614174000",
        "123e4567-e89b-12d3-a456-42661417400",
        "123e4567-e89b-12d3-a456-4266141740000",
        "123e4567-e89b-12d3-a456_426614174000",
        "{123e4567-e89b-12d3-a456-426614174000}",
        "123e4567-e89b-12d3-a456-42661417400g",
    };
    char out[MR_UUID_LEN + 1];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        MR_CHECK(!mr_uuid_canonical(bad[i], out));
    }
    MR_CHECK(!mr_uuid_canonical(NULL, out));
}

static void
test_uuid_lowers_case(void)
{
    char out[MR_UUID_LEN + 1];

    MR_CHECK(mr_uuid_canonical("123E4567-E89B-12D3-A456-426614174000", out));
    MR_CHECK_STR(out, "123e4567-e89b-12d3-a456-426614174000");
}

static void
test_sha256_known_vector(void)
{
    uint8_t d[MR_SHA256_LEN];
    static const uint8_t abc[4] = {0xba, 0x78, 0x16, 0xbf};

    mr_sha256("abc", 3, d);
    MR_CHECK(memcmp(d, abc, sizeof(abc)) == 0);
    MR_CHECK(mr_equal_ct(d, d, sizeof(d)));
    MR_CHECK(!mr_equal_ct(d, abc, sizeof(abc) - 1) || d[3] == abc[3]);
}

static void
test_random_token_differs(void)
{
    char a[64];
    char b[64];

    mr_util_init();
    mr_random_token(32, a, sizeof(a));
    mr_random_token(32, b, sizeof(b));
    MR_CHECK_INT(strlen(a), ==, 43);
    MR_CHECK(strcmp(a, b) != 0);
    MR_CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789-_") == strlen(a));
}

static void
test_format_time_rfc3339(void)
{
    char out[32];

    mr_format_time(1733326701123LL, out);
    MR_CHECK_STR(out, "2024-12-04T15:38:21.123Z");
    mr_format_time(0, out);
    MR_CHECK_STR(out, "1970-01-01T00:00:00.000Z");
}

static void
test_sanitize(void)
{
    char out[8];

    mr_sanitize(out, sizeof(out), "ab\x01\xff");
    MR_CHECK_STR(out, "ab??");
    mr_sanitize(out, sizeof(out), "abcdefg");
    MR_CHECK_STR(out, "abcdefg");
    mr_sanitize(out, sizeof(out), "abcdefgh");
    MR_CHECK_STR(out, "abcd...");
    mr_sanitize(out, sizeof(out), "");
    MR_CHECK_STR(out, "");
}

static void
test_mono_timespec_splits_ms(void)
{
    struct timespec ts = mr_mono_timespec(12345);
    struct timespec now;
    int64_t now_ms = mr_mono_ms();

    MR_CHECK_INT(ts.tv_sec, ==, 12);
    MR_CHECK_INT(ts.tv_nsec, ==, 345000000L);

    /* The same clock: now in mr_mono_ms is now in CLOCK_MONOTONIC. */
    clock_gettime(CLOCK_MONOTONIC, &now);
    ts = mr_mono_timespec(now_ms);
    MR_CHECK_INT(now.tv_sec - ts.tv_sec, <=, 1);
    MR_CHECK_INT(now.tv_sec - ts.tv_sec, >=, 0);
}

static const mr_test_case cases[] = {
    {"mono_timespec_splits_ms", test_mono_timespec_splits_ms},
    {"uuid_v4_is_canonical", test_uuid_v4_is_canonical},
    {"copy_cuts_and_terminates", test_copy_cuts_and_terminates},
    {"uuid_rejects_bad_forms", test_uuid_rejects_bad_forms},
    {"uuid_lowers_case", test_uuid_lowers_case},
    {"sha256_known_vector", test_sha256_known_vector},
    {"random_token_differs", test_random_token_differs},
    {"format_time_rfc3339", test_format_time_rfc3339},
    {"sanitize", test_sanitize},
};

MR_TEST_MAIN(cases)
