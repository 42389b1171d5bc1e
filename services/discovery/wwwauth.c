/* wwwauth.c - WWW-Authenticate challenge parser (RFC 9110, 11.6.1). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wwwauth.h"

/*
 * The grammar, from RFC 9110 sections 5.6 and 11:
 *   WWW-Authenticate = #challenge
 *   challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param  = token BWS "=" BWS ( token / quoted-string )
 *   token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 *                 *"="
 * A comma separates both challenges and the auth-params of one challenge,
 * so after a comma the parser looks ahead: "token BWS =" starts another
 * auth-param, anything else starts the next challenge.
 */

/* cursor is the read position in the field value being parsed. */
typedef struct {
    const char *text;
    size_t pos;
    size_t len;
} cursor;

static bool
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static bool
is_tchar(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool
is_token68_char(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("-._~+/", c));
}

static bool
is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* is_qdtext accepts the bytes allowed unescaped in a quoted-string:
 * HTAB, SP, visible ASCII but '"' and '\', and obs-text. */
static bool
is_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

/* is_quoted_pair_char accepts the byte after a backslash: HTAB, SP,
 * VCHAR or obs-text. */
static bool
is_quoted_pair_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static unsigned char
peek(const cursor *c)
{
    return c->pos < c->len ? (unsigned char)c->text[c->pos] : '\0';
}

static bool
at_end(const cursor *c)
{
    return c->pos >= c->len;
}

static bool
at_equals_sign(const cursor *c)
{
    return peek(c) == '=';
}

static void
skip_ows(cursor *c)
{
    while (!at_end(c) && is_ows(peek(c))) {
        c->pos++;
    }
}

/* skip_separators skips whitespace and commas, and so also the empty list
 * elements that RFC 9110 section 5.6.1 requires recipients to accept. */
static void
skip_separators(cursor *c)
{
    while (!at_end(c) && (is_ows(peek(c)) || peek(c) == ',')) {
        c->pos++;
    }
}

static size_t
span_token(const cursor *c, size_t from)
{
    size_t end = from;

    while (end < c->len && is_tchar((unsigned char)c->text[end])) {
        end++;
    }
    return end - from;
}

int
disc_ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a;
        unsigned char y = (unsigned char)*b;

        if (x >= 'A' && x <= 'Z') {
            x = (unsigned char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (unsigned char)(y - 'A' + 'a');
        }
        if (x != y || x == '\0') {
            return (int)x - (int)y;
        }
    }
}

/* read_token copies the token at the cursor into *out; an empty token is a
 * syntax error. */
static mr_err
read_token(cursor *c, char **out)
{
    size_t n = span_token(c, c->pos);

    if (n == 0) {
        return MR_EINVALID_FIELD;
    }

    *out = strndup(c->text + c->pos, n);
    if (*out == NULL) {
        return MR_ENOMEM;
    }
    c->pos += n;
    return MR_OK;
}

/* read_quoted copies the quoted-string at the cursor, without the quotes
 * and with each quoted-pair replaced by its second byte. */
static mr_err
read_quoted(cursor *c, char **out)
{
    char *value = malloc(c->len - c->pos + 1);
    size_t n = 0;

    if (value == NULL) {
        return MR_ENOMEM;
    }

    c->pos++; /* the opening quote */
    while (!at_end(c) && peek(c) != '"') {
        unsigned char ch = peek(c);

        if (ch == '\\' && c->pos + 1 < c->len &&
            is_quoted_pair_char((unsigned char)c->text[c->pos + 1])) {
            value[n++] = c->text[c->pos + 1];
            c->pos += 2;
        } else if (is_qdtext(ch)) {
            value[n++] = (char)ch;
            c->pos++;
        } else {
            free(value);
            return MR_EINVALID_FIELD;
        }
    }

    if (at_end(c)) {
        free(value); /* no closing quote */
        return MR_EINVALID_FIELD;
    }
    c->pos++;
    value[n] = '\0';
    *out = value;
    return MR_OK;
}

static mr_err
add_param(disc_challenge *ch, char *name, char *value)
{
    disc_auth_param *grown =
        realloc(ch->params, (ch->nparams + 1) * sizeof(*grown));

    if (grown == NULL) {
        free(name);
        free(value);
        return MR_ENOMEM;
    }
    ch->params = grown;
    ch->params[ch->nparams].name = name;
    ch->params[ch->nparams].value = value;
    ch->nparams++;
    return MR_OK;
}

/* read_param reads "token BWS = BWS ( token / quoted-string )". */
static mr_err
read_param(cursor *c, disc_challenge *ch)
{
    char *name = NULL;
    char *value = NULL;
    mr_err err = read_token(c, &name);

    if (err != MR_OK) {
        goto out;
    }

    skip_ows(c);
    if (!at_equals_sign(c)) {
        err = MR_EINVALID_FIELD;
        goto out;
    }
    c->pos++;
    skip_ows(c);

    if (peek(c) == '"') {
        err = read_quoted(c, &value);
    } else {
        err = read_token(c, &value);
    }
    if (err != MR_OK) {
        goto out;
    }

    err = add_param(ch, name, value);
    name = NULL;
    value = NULL;
out:
    free(name);
    free(value);
    return err;
}

/* starts_param returns whether "token BWS =" follows a comma, which makes
 * the next element an auth-param rather than a new challenge. */
static bool
starts_param(const cursor *c)
{
    size_t i = c->pos + span_token(c, c->pos);

    if (i == c->pos) {
        return false;
    }
    while (i < c->len && is_ows((unsigned char)c->text[i])) {
        i++;
    }
    return i < c->len && c->text[i] == '=';
}

/* read_token68 reads a token68 that ends the challenge, so the end of the
 * value or a comma must follow it. Otherwise it returns false and leaves
 * the cursor where it was. */
static bool
read_token68(cursor *c, disc_challenge *ch, mr_err *err)
{
    size_t end = c->pos;
    size_t next;

    while (end < c->len && is_token68_char((unsigned char)c->text[end])) {
        end++;
    }
    if (end == c->pos) {
        return false;
    }
    while (end < c->len && c->text[end] == '=') {
        end++;
    }

    next = end;
    while (next < c->len && is_ows((unsigned char)c->text[next])) {
        next++;
    }
    if (next < c->len && c->text[next] != ',') {
        return false;
    }

    ch->token68 = strndup(c->text + c->pos, end - c->pos);
    *err = ch->token68 == NULL ? MR_ENOMEM : MR_OK;
    c->pos = next;
    return true;
}

/* read_params reads the auth-params of one challenge and stops before the
 * comma that precedes the next challenge, or at the end. */
static mr_err
read_params(cursor *c, disc_challenge *ch)
{
    for (;;) {
        mr_err err = read_param(c, ch);
        size_t comma;

        if (err != MR_OK) {
            return err;
        }

        skip_ows(c);
        if (at_end(c)) {
            return MR_OK;
        }
        if (peek(c) != ',') {
            return MR_EINVALID_FIELD;
        }

        comma = c->pos;
        skip_separators(c);
        if (at_end(c) || !starts_param(c)) {
            c->pos = comma;
            return MR_OK;
        }
    }
}

static mr_err
add_challenge(disc_challenges *list, char *scheme)
{
    disc_challenge *grown =
        realloc(list->items, (list->count + 1) * sizeof(*grown));

    if (grown == NULL) {
        free(scheme);
        return MR_ENOMEM;
    }
    list->items = grown;
    list->items[list->count] = (disc_challenge){.scheme = scheme};
    list->count++;
    return MR_OK;
}

/* read_challenge reads "auth-scheme [ 1*SP ( token68 / #auth-param ) ]". */
static mr_err
read_challenge(cursor *c, disc_challenges *list)
{
    char *scheme = NULL;
    disc_challenge *ch;
    mr_err err = read_token(c, &scheme);

    if (err == MR_OK) {
        err = add_challenge(list, scheme);
    }
    if (err != MR_OK) {
        return err;
    }
    ch = &list->items[list->count - 1];

    if (at_end(c) || peek(c) == ',') {
        return MR_OK;
    }
    if (!is_ows(peek(c))) {
        return MR_EINVALID_FIELD;
    }
    skip_ows(c);
    if (at_end(c) || peek(c) == ',') {
        return MR_OK;
    }

    if (read_token68(c, ch, &err)) {
        return err;
    }
    return read_params(c, ch);
}

static void
free_challenge(disc_challenge *ch)
{
    for (size_t i = 0; i < ch->nparams; i++) {
        free(ch->params[i].name);
        free(ch->params[i].value);
    }
    free(ch->params);
    free(ch->scheme);
    free(ch->token68);
}

/* append_all moves every challenge of from to the end of list. */
static mr_err
append_all(disc_challenges *list, disc_challenges *from)
{
    disc_challenge *grown;

    if (from->count == 0) {
        return MR_OK;
    }

    grown = realloc(list->items, (list->count + from->count) * sizeof(*grown));
    if (grown == NULL) {
        return MR_ENOMEM;
    }
    memcpy(grown + list->count, from->items, from->count * sizeof(*grown));
    list->items = grown;
    list->count += from->count;

    free(from->items);
    *from = (disc_challenges){0};
    return MR_OK;
}

mr_err
disc_wwwauth_parse(const char *value, disc_challenges *list, size_t *error_pos)
{
    cursor c = {value, 0, strlen(value)};
    disc_challenges parsed = {0};
    mr_err err = MR_OK;

    for (;;) {
        skip_separators(&c);
        if (at_end(&c)) {
            break;
        }
        err = read_challenge(&c, &parsed);
        if (err != MR_OK) {
            goto out;
        }
    }

    err = append_all(list, &parsed);
out:
    *error_pos = c.pos;
    disc_challenges_free(&parsed);
    return err;
}

void
disc_challenges_free(disc_challenges *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free_challenge(&list->items[i]);
    }
    free(list->items);
    *list = (disc_challenges){0};
}

const disc_challenge *
disc_challenges_find(const disc_challenges *list, const char *scheme)
{
    for (size_t i = 0; i < list->count; i++) {
        if (disc_ascii_casecmp(list->items[i].scheme, scheme) == 0) {
            return &list->items[i];
        }
    }
    return NULL;
}

const char *
disc_challenge_param(const disc_challenge *challenge, const char *name,
                     size_t nth)
{
    for (size_t i = 0; i < challenge->nparams; i++) {
        if (disc_ascii_casecmp(challenge->params[i].name, name) != 0) {
            continue;
        }
        if (nth == 0) {
            return challenge->params[i].value;
        }
        nth--;
    }
    return NULL;
}
