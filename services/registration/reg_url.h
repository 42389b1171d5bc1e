/* reg_url.h - the rules an MCP server URL must follow. */
#ifndef REG_URL_H
#define REG_URL_H

#include <stddef.h>

#include "mr_allow.h"
#include "mr_err.h"

/* REG_URL_MAX is the longest MCP server URL accepted, in bytes. */
#define REG_URL_MAX 2048

/* reg_url_rules contains the development allow-list (--dev-allow-hosts)
 * that decides which URLs may use plain http. */
typedef struct {
    mr_allow_list allow;
} reg_url_rules;

/*
 * reg_url_rules_parse fills rules from the value of --dev-allow-hosts, a
 * comma-separated list of host names, IP addresses and CIDR ranges such
 * as "localhost,[::1],127.0.0.0/8" (see mr_allow_parse). It returns
 * MR_EINVALID_FIELD for an invalid entry and MR_ENOMEM when memory runs
 * out, and then writes into message, cut to fit message_len (0 allowed),
 * the error that the discovery worker prints for the same value. The
 * caller frees rules with reg_url_rules_free.
 */
mr_err reg_url_rules_parse(reg_url_rules *rules, const char *list,
                           char *message, size_t message_len);

/* reg_url_rules_free frees the allow-list of rules and empties it. */
void reg_url_rules_free(reg_url_rules *rules);

/*
 * reg_url_check accepts url when it is an absolute https URL with a host,
 * or an http URL whose host mr_allow_http allows: a host listed in rules,
 * or an IP literal inside one of its CIDR ranges. The URL must be at most
 * REG_URL_MAX bytes and have no user info, fragment, percent-encoded host,
 * port 0, white space or control characters. Otherwise it returns
 * MR_EINVALID_URL and writes a detail naming the problem. The detail never
 * repeats the URL, which may contain credentials.
 */
mr_err reg_url_check(const reg_url_rules *rules, const char *url, char *detail,
                     size_t detail_len);

#endif
