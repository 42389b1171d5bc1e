/* mr_json.c - strict JSON parsing for untrusted input. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mr_json.h"

/* nesting_depth returns the deepest nesting of [ and { in buf outside
 * strings, stopping early once it exceeds limit. */
static int
nesting_depth(const char *buf, size_t len, int limit)
{
    int depth = 0;
    int deepest = 0;
    bool in_string = false;

    for (size_t i = 0; i < len && deepest <= limit; i++) {
        char c = buf[i];

        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            depth++;
            if (depth > deepest) {
                deepest = depth;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return deepest;
}

mr_err
mr_json_parse(const char *buf, size_t len, int max_depth, json_t **out,
              char *why, size_t whylen)
{
    json_error_t error;
    json_t *value;

    *out = NULL;
    if (nesting_depth(buf, len, max_depth) > max_depth) {
        snprintf(why, whylen, "JSON nesting is deeper than %d levels",
                 max_depth);
        return MR_EINVALID_BODY;
    }

    /* jansson validates UTF-8 itself; JSON_REJECT_DUPLICATES turns on the
     * duplicate-key check and NUL bytes in strings stay rejected because
     * JSON_ALLOW_NUL is not given. */
    value =
        json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (value == NULL) {
        /* jansson quotes the input near the error ("near 'abc'"); drop
         * that, because a remote document can hold a secret. */
        char *near = strstr(error.text, " near ");

        if (near != NULL) {
            *near = '\0';
        }
        /* jansson names its own flag for a \u0000 escape. */
        if (strstr(error.text, "JSON_ALLOW_NUL") != NULL) {
            snprintf(error.text, sizeof(error.text),
                     "a \\u0000 escape is not allowed in strings");
        }
        snprintf(why, whylen, "%s at position %d", error.text, error.position);
        return MR_EINVALID_BODY;
    }

    *out = value;
    return MR_OK;
}

const char *
mr_json_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}
