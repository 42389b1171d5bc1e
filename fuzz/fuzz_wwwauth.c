/* fuzz_wwwauth.c - libFuzzer target of the WWW-Authenticate parser. The
 * input is split at newlines into header values that are parsed into one
 * list, as the discovery flow does with the values of one response. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wwwauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* read_bearer looks up the parameters the discovery flow reads. */
static void
read_bearer(const disc_challenges *list)
{
    const disc_challenge *bearer = disc_challenges_find(list, "Bearer");
    const char *names[] = {"resource_metadata", "scope", "error", "realm"};

    if (bearer == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        for (size_t nth = 0; nth < 3; nth++) {
            const char *value = disc_challenge_param(bearer, names[i], nth);

            if (value != NULL && strlen(value) > SIZE_MAX / 2) {
                abort();
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    disc_challenges list = {0};
    char *text = malloc(size + 1);
    char *value;
    char *next;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    for (value = text; value != NULL; value = next) {
        size_t pos = 0;
        size_t count_before = list.count;

        next = strchr(value, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        if (disc_wwwauth_parse(value, &list, &pos) != MR_EINVALID_FIELD) {
            continue;
        }
        /* A rejected value appends nothing and points into itself. */
        if (list.count != count_before || pos > strlen(value)) {
            abort();
        }
    }

    read_bearer(&list);
    disc_challenges_free(&list);
    free(text);
    return 0;
}
