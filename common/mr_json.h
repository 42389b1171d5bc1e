/* mr_json.h - strict JSON parsing for untrusted input, on jansson. */
#ifndef MR_JSON_H
#define MR_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "mr_err.h"

/* MR_JSON_DEPTH_MAX is the deepest nesting of arrays and objects accepted. */
#define MR_JSON_DEPTH_MAX 32

/*
 * mr_json_parse parses len bytes of buf as one JSON value. It rejects
 * invalid UTF-8, duplicate object keys, a NUL byte in a string and nesting
 * deeper than max_depth. On success it stores a new reference in *out,
 * which the caller releases with json_decref. On failure it returns
 * MR_EINVALID_BODY and writes a one-line reason, such as "duplicate object
 * key near position 12", into why.
 */
mr_err mr_json_parse(const char *buf, size_t len, int max_depth, json_t **out,
                     char *why, size_t whylen);

/* mr_json_type_name returns "string", "object" and so on for value. */
const char *mr_json_type_name(const json_t *value);

#endif
