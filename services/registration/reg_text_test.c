/* reg_text_test.c - unit tests of the rules for user ids and other text
 * ids: each class of look-alike Unicode is rejected, and ids in other
 * scripts pass. */
#include <stdio.h>
#include <string.h>

#include "mr_test.h"
#include "reg_text.h"

/* text_case is one id, surrounded by "alice" and "bob", and what the
 * detail must contain: the code point and the rule. */
typedef struct {
    const char *name;
    const char *inner;
    const char *code_point;
    const char *rule;
} text_case;

static bool
is_printable_ascii(const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < 0x20 || *c > 0x7e) {
            return false;
        }
    }
    return true;
}

/* Checks that reg_check_text rejects text with a detail that names the
 * field, contains each fragment and quotes no byte of text. */
static void
check_rejected(const char *name, const char *text, const char *fragment,
               const char *rule)
{
    char detail[512] = "";
    mr_err err = reg_check_text("user_id", text, detail, sizeof(detail));

    MR_CHECK_INT(err, ==, MR_EINVALID_FIELD);
    MR_CHECK(strstr(detail, "'user_id'") != NULL);
    MR_CHECK(fragment == NULL || strstr(detail, fragment) != NULL);
    MR_CHECK(strstr(detail, rule) != NULL);
    MR_CHECK(is_printable_ascii(detail));
    MR_CHECK(strstr(detail, "alice") == NULL);
    if (err != MR_EINVALID_FIELD || strstr(detail, rule) == NULL) {
        fprintf(stderr, "    case '%s': %s\n", name, detail);
    }
}

static void
run_rejected(const text_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char text[64];

        snprintf(text, sizeof(text), "alice%sbob", cases[i].inner);
        check_rejected(cases[i].name, text, cases[i].code_point,
                       cases[i].rule);
    }
}

static void
text_rejects_unicode_spaces(void)
{
    static const text_case cases[] = {
        {"no-break space", "\xc2\xa0", "U+00A0", "spaces other than"},
        {"ideographic space", "\xe3\x80\x80", "U+3000", "spaces other than"},
        {"en quad", "\xe2\x80\x80", "U+2000", "spaces other than"},
        {"line separator", "\xe2\x80\xa8", "U+2028", "spaces other than"},
        {"paragraph separator", "\xe2\x80\xa9", "U+2029", "spaces other than"},
    };

    run_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
text_rejects_format_characters(void)
{
    static const text_case cases[] = {
        {"zero width space", "\xe2\x80\x8b", "U+200B", "category Cf"},
        {"zero width joiner", "\xe2\x80\x8d", "U+200D", "category Cf"},
        {"right-to-left mark", "\xe2\x80\x8f", "U+200F", "category Cf"},
        {"right-to-left override", "\xe2\x80\xae", "U+202E", "category Cf"},
        {"word joiner", "\xe2\x81\xa0", "U+2060", "category Cf"},
        {"byte order mark", "\xef\xbb\xbf", "U+FEFF", "category Cf"},
        {"soft hyphen", "\xc2\xad", "U+00AD", "category Cf"},
        {"language tag", "\xf3\xa0\x80\x81", "U+E0001", "category Cf"},
    };

    run_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
text_rejects_invisible_letters(void)
{
    static const text_case cases[] = {
        {"hangul filler", "\xe3\x85\xa4", "U+3164", "default-ignorable"},
        {"variation selector 16", "\xef\xb8\x8f", "U+FE0F",
         "default-ignorable"},
        {"combining grapheme joiner", "\xcd\x8f", "U+034F",
         "default-ignorable"},
    };

    run_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
text_rejects_blank_symbols(void)
{
    static const text_case cases[] = {
        {"braille pattern blank", "\xe2\xa0\x80", "U+2800", "blank space"},
        {"object replacement character", "\xef\xbf\xbc", "U+FFFC",
         "blank space"},
        {"musical symbol null notehead", "\xf0\x9d\x85\x99", "U+1D159",
         "blank space"},
    };

    run_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
text_rejects_private_and_unassigned(void)
{
    static const text_case cases[] = {
        {"private use", "\xee\x80\x80", "U+E000", "private-use"},
        {"plane 15 private use", "\xf3\xb0\x80\x80", "U+F0000", "private-use"},
        {"unassigned", "\xcd\xb8", "U+0378", "does not assign"},
        {"noncharacter FFFF", "\xef\xbf\xbf", "U+FFFF", "does not assign"},
        {"noncharacter FDD0", "\xef\xb7\x90", "U+FDD0", "does not assign"},
    };

    run_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
text_rejects_controls(void)
{
    static const text_case cases[] = {
        {"tab", "\t", "U+0009", "control characters"},
        {"delete", "\x7f", "U+007F", "control characters"},
        {"next line (C1)", "\xc2\x85", "U+0085", "control characters"},
    };

    run_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
text_rejects_other_than_nfc(void)
{
    /* e and U+0301, whose NFC is U+00E9. */
    check_rejected("decomposed e acute", "\x65\xcc\x81lodie", NULL, "NFC");
    /* U+212B ANGSTROM SIGN, whose NFC is U+00C5. */
    check_rejected("angstrom sign", "\xe2\x84\xab", NULL, "NFC");
    /* U+1100 U+1161, the conjoining jamo of U+AC00. */
    check_rejected("decomposed hangul", "\xe1\x84\x80\xe1\x85\xa1", NULL,
                   "NFC");
    /* The same mark after the mark of another class, in the wrong order:
     * U+0061 U+0301 U+0323 has the canonical order U+1EA1 U+0301. */
    check_rejected("marks out of order", "a\xcc\x81\xcc\xa3", NULL, "NFC");
}

/* The other rules that reg_check_text keeps (surrounding spaces, invalid
 * UTF-8) are tested in reg_keys_test.c. */
static void
text_length_limit(void)
{
    char long_text[REG_TEXT_MAX + 2];
    char detail[512] = "";

    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    MR_CHECK_INT(reg_check_text("user_id", long_text, detail, sizeof(detail)),
                 ==, MR_EINVALID_FIELD);
    MR_CHECK(strstr(detail, "'user_id'") != NULL);

    long_text[REG_TEXT_MAX] = '\0';
    MR_CHECK_INT(reg_check_text("user_id", long_text, detail, sizeof(detail)),
                 ==, MR_OK);
}

static void
text_accepts_ids_in_any_script(void)
{
    static const char *const good[] = {
        "",
        "alice@example.com",
        "al ice",
        "\xc3\xa9lodie", /* élodie, U+00E9 */
        "\xe3\x83\xa6\xe3\x83\xbc\xe3\x82\xb6\xe3\x83\xbc", /* ユーザー */
        "\xce\x95\xce\xbb\xce\xad\xce\xbd\xce\xb7", /* Ελένη, U+03AD */
        "\xed\x95\x9c\xea\xb5\xad",                 /* 한국 */
        "\xd0\xb0\xd0\xbb\xd0\xb8\xd1\x81\xd0\xb0", /* алиса */
        "bob-\xf0\x9f\x98\x80",                     /* U+1F600 */
        "q\xcc\x81", /* q and U+0301: NFC, as no precomposed form exists */
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char detail[512] = "";
        mr_err err =
            reg_check_text("user_id", good[i], detail, sizeof(detail));

        MR_CHECK_INT(err, ==, MR_OK);
        if (err != MR_OK) {
            fprintf(stderr, "    id %zu: %s\n", i, detail);
        }
    }
}

static const mr_test_case cases[] = {
    {"text_rejects_unicode_spaces", text_rejects_unicode_spaces},
    {"text_rejects_format_characters", text_rejects_format_characters},
    {"text_rejects_invisible_letters", text_rejects_invisible_letters},
    {"text_rejects_blank_symbols", text_rejects_blank_symbols},
    {"text_rejects_private_and_unassigned",
     text_rejects_private_and_unassigned},
    {"text_rejects_controls", text_rejects_controls},
    {"text_rejects_other_than_nfc", text_rejects_other_than_nfc},
    {"text_length_limit", text_length_limit},
    {"text_accepts_ids_in_any_script", text_accepts_ids_in_any_script},
};

MR_TEST_MAIN(cases)
