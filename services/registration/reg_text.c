/* reg_text.c - the rules for user ids, names and the other text ids that
 * callers choose. Ids are compared and stored byte for byte, so the rules
 * reject what would let two ids look the same, instead of normalising. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "reg_text.h"

/* Characters that are neither format characters nor default-ignorable,
 * but fonts usually draw as blank space or a placeholder box. */
static const ucs4_t blank_symbols[] = {
    0x2800,  /* BRAILLE PATTERN BLANK */
    0xFFFC,  /* OBJECT REPLACEMENT CHARACTER */
    0x1D159, /* MUSICAL SYMBOL NULL NOTEHEAD */
};

static bool
is_blank_symbol(ucs4_t c)
{
    for (size_t i = 0; i < sizeof(blank_symbols) / sizeof(blank_symbols[0]);
         i++) {
        if (blank_symbols[i] == c) {
            return true;
        }
    }
    return false;
}

/* Returns why code point c is not allowed in an id, or NULL when it is. */
static const char *
rejection_reason(ucs4_t c)
{
    if (uc_is_general_category(c, UC_CATEGORY_Cc)) {
        return "control characters are not allowed";
    }
    if (c != ' ' && uc_is_general_category(c, UC_CATEGORY_Z)) {
        return "spaces other than U+0020 are not allowed";
    }
    if (uc_is_general_category(c, UC_CATEGORY_Cf)) {
        return "invisible format characters (Unicode category Cf) are not "
               "allowed";
    }
    /* Hangul fillers, variation selectors and the like: letters or marks
     * by category, but drawn as nothing. */
    if (uc_is_property_default_ignorable_code_point(c)) {
        return "invisible (default-ignorable) characters are not allowed";
    }
    if (is_blank_symbol(c)) {
        return "symbols drawn as blank space are not allowed";
    }
    if (uc_is_general_category(c, UC_CATEGORY_Co)) {
        return "private-use characters are not allowed";
    }
    /* NOTE: the Unicode version of the installed libunistring decides what
     * is assigned (Unicode 14.0 in libunistring 1.0), so a character added
     * later is rejected until libunistring is upgraded. */
    if (uc_is_general_category(c, UC_CATEGORY_Cn)) {
        return "code points that Unicode does not assign are not allowed";
    }
    return NULL;
}

/* Checks each code point of text, which is valid UTF-8 of len bytes. */
static mr_err
check_code_points(const char *field, const uint8_t *text, size_t len,
                  char *detail, size_t detail_len)
{
    size_t offset = 0;

    while (offset < len) {
        ucs4_t c = 0;
        int count = u8_mbtouc(&c, text + offset, len - offset);
        const char *reason = rejection_reason(c);

        if (reason != NULL) {
            snprintf(detail, detail_len,
                     "Remove U+%04X at byte offset %zu from '%s': %s",
                     (unsigned)c, offset, field, reason);
            return MR_EINVALID_FIELD;
        }
        offset += (size_t)count;
    }
    return MR_OK;
}

static bool
is_ascii(const uint8_t *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] >= 0x80) {
            return false;
        }
    }
    return true;
}

/* Checks that text, valid UTF-8 of len bytes, is in NFC. */
static mr_err
check_nfc(const char *field, const uint8_t *text, size_t len, char *detail,
          size_t detail_len)
{
    size_t nfc_len = 0;
    uint8_t *nfc;
    bool same;

    /* ASCII text is always in NFC, so the common case needs no
     * allocation. */
    if (is_ascii(text, len)) {
        return MR_OK;
    }

    nfc = u8_normalize(UNINORM_NFC, text, len, NULL, &nfc_len);
    if (nfc == NULL) {
        return MR_ENOMEM;
    }
    same = nfc_len == len && memcmp(nfc, text, len) == 0;
    free(nfc);

    if (!same) {
        snprintf(detail, detail_len,
                 "Send '%s' in Unicode Normalization Form C (NFC): the value "
                 "is not in NFC, and ids are stored as sent, never "
                 "normalised",
                 field);
        return MR_EINVALID_FIELD;
    }
    return MR_OK;
}

mr_err
reg_check_text(const char *field, const char *text, char *detail,
               size_t detail_len)
{
    const uint8_t *bytes = (const uint8_t *)text;
    size_t len = strlen(text);
    mr_err err;

    if (len > REG_TEXT_MAX) {
        snprintf(detail, detail_len,
                 "Shorten '%s' to at most %d bytes: the value is %zu bytes "
                 "long",
                 field, REG_TEXT_MAX, len);
        return MR_EINVALID_FIELD;
    }
    if (u8_check(bytes, len) != NULL) {
        snprintf(detail, detail_len,
                 "Send '%s' as UTF-8 text: the value is not valid UTF-8",
                 field);
        return MR_EINVALID_FIELD;
    }

    err = check_code_points(field, bytes, len, detail, detail_len);
    if (err != MR_OK) {
        return err;
    }

    if (len > 0 && (text[0] == ' ' || text[len - 1] == ' ')) {
        snprintf(detail, detail_len,
                 "Remove the spaces around '%s': a leading or trailing "
                 "space would name another value",
                 field);
        return MR_EINVALID_FIELD;
    }
    return check_nfc(field, bytes, len, detail, detail_len);
}
