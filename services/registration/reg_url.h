/* reg_url.h - the rules an MCP server URL must follow. */
#ifndef REG_URL_H
#define REG_URL_H

#include <stddef.h>

#include "mr_err.h"

/* REG_URL_MAX is the longest MCP server URL accepted, in bytes. */
#define REG_URL_MAX 2048

/* reg_url_rules is the list of development hosts that may use plain http. */
typedef struct {
    char **hosts; /* lower case, IPv6 addresses without brackets */
    size_t nhosts;
} reg_url_rules;

/*
 * reg_url_rules_parse fills rules from a comma-separated list of hosts, such
 * as "localhost,127.0.0.1,[::1]"; white space around a host and empty items
 * are ignored. It returns MR_ENOMEM when memory runs out. The caller frees
 * rules with reg_url_rules_free.
 */
mr_err reg_url_rules_parse(reg_url_rules *rules, const char *list);

/* reg_url_rules_free frees the hosts of rules and empties it. */
void reg_url_rules_free(reg_url_rules *rules);

/*
 * reg_url_check accepts url when it is an absolute https URL with a host,
 * or an http URL whose host is in rules. The URL must be at most
 * REG_URL_MAX bytes and have no user info, fragment, percent-encoded host,
 * port 0, white space or control characters. Otherwise it returns
 * MR_EINVALID_URL and writes a detail naming the problem. The detail never
 * repeats the URL, which may contain credentials.
 */
mr_err reg_url_check(const reg_url_rules *rules, const char *url, char *detail,
                     size_t detail_len);

#endif
