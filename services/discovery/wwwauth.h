/* wwwauth.h - parser of WWW-Authenticate challenges (RFC 9110, 11.6.1). */
#ifndef DISC_WWWAUTH_H
#define DISC_WWWAUTH_H

#include <stddef.h>

#include "mr_err.h"

/* disc_auth_param is one auth-param of a challenge, with the quoted-string
 * value unescaped. */
typedef struct {
    char *name;
    char *value;
} disc_auth_param;

/* disc_challenge is one challenge: a scheme with a token68 or a list of
 * auth-params (or neither). */
typedef struct {
    char *scheme;
    char *token68; /* NULL unless the challenge carries a token68 */
    disc_auth_param *params;
    size_t nparams;
} disc_challenge;

/* disc_challenges is the list of challenges of one or more header fields,
 * in the order they were received. */
typedef struct {
    disc_challenge *items;
    size_t count;
} disc_challenges;

/*
 * disc_wwwauth_parse parses one WWW-Authenticate field value and appends
 * its challenges to list, so several fields can be parsed into one list.
 * It accepts several challenges per value, empty list elements, token68,
 * quoted strings with backslash escapes and whitespace around "=". On a
 * syntax error it returns MR_EINVALID_FIELD, appends nothing, and stores
 * the byte offset of the error in *error_pos. It returns MR_ENOMEM when
 * memory runs out. The list owns the strings; free it with
 * disc_challenges_free.
 */
mr_err disc_wwwauth_parse(const char *value, disc_challenges *list,
                          size_t *error_pos);

/* disc_challenges_free frees the challenges of list and empties it. */
void disc_challenges_free(disc_challenges *list);

/* disc_challenges_find returns the first challenge whose scheme equals
 * scheme, compared case-insensitively, or NULL when there is none. */
const disc_challenge *disc_challenges_find(const disc_challenges *list,
                                           const char *scheme);

/*
 * disc_challenge_param returns the value of the nth auth-param (counting
 * from 0) whose name equals name exactly but for ASCII case, or NULL when
 * the challenge has fewer. The value is owned by the challenge.
 */
const char *disc_challenge_param(const disc_challenge *challenge,
                                 const char *name, size_t nth);

/* disc_ascii_casecmp compares two strings ignoring ASCII case only, so the
 * result does not depend on the locale; it returns 0 when they are equal. */
int disc_ascii_casecmp(const char *a, const char *b);

#endif
