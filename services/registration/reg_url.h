/* reg_url.h - the rules an MCP server URL or an issuer URL must follow,
 * and the comparison of MCP server URLs. */
#ifndef REG_URL_H
#define REG_URL_H

#include <stdbool.h>
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

/* reg_url_subject names the URL that reg_url_check_named checks in its
 * details: the request field, the noun for its value, and an example. */
typedef struct {
    const char *field;   /* "url" */
    const char *noun;    /* "the MCP server URL" */
    const char *example; /* "https://mcp.example.com/mcp" */
} reg_url_subject;

/* reg_url_mcp_server names the 'url' of an MCP server, and reg_url_issuer
 * the 'issuer' of an operator client. */
extern const reg_url_subject reg_url_mcp_server;
extern const reg_url_subject reg_url_issuer;

/*
 * reg_url_check_named is reg_url_check for the URL that subject names, so
 * that the detail about an invalid issuer names the issuer, not the MCP
 * server URL.
 */
mr_err reg_url_check_named(const reg_url_rules *rules, const char *url,
                           const reg_url_subject *subject, char *detail,
                           size_t detail_len);

/*
 * reg_url_same returns whether a and b name the same MCP server URL: equal
 * byte for byte once the scheme and the authority are ASCII case-folded,
 * as RFC 3986 section 6.2.2.1 allows. The whole authority may be folded
 * because reg_url_check admits no user info, whose case matters. Other
 * spellings of one URL, such as a default port written out or a
 * percent-encoded path character, count as different URLs. A text without
 * "://" is compared byte for byte.
 */
bool reg_url_same(const char *a, const char *b);

#endif
