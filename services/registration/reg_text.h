/* reg_text.h - the rules for user ids, names and the other text ids that
 * callers choose. */
#ifndef REG_TEXT_H
#define REG_TEXT_H

#include <stddef.h>

#include "mr_err.h"

/* REG_TEXT_MAX is the longest user id, name, vendor id or external system
 * id accepted, in bytes. */
#define REG_TEXT_MAX 256

/*
 * reg_check_text checks text, the value of field, as an id that the service
 * compares byte for byte, so that two ids that look the same are the same
 * bytes. It rejects text longer than REG_TEXT_MAX bytes and invalid UTF-8.
 * It rejects control characters (Unicode category Cc), spaces other than
 * U+0020 (Zs, Zl, Zp), format characters (Cf), the other default-ignorable
 * code points, and private-use (Co) and unassigned (Cn) code points. It
 * also rejects a leading or trailing space, and text that is not in Unicode
 * Normalization Form C. It returns MR_OK, MR_ENOMEM, or MR_EINVALID_FIELD
 * with a detail that names field, the rule and any offending code point as
 * U+XXXX, and never quotes text.
 */
mr_err reg_check_text(const char *field, const char *text, char *detail,
                      size_t detail_len);

#endif
