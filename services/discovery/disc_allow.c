/* disc_allow.c - the address decision that the socket callback of
 * disc_fetch.c makes with the development allow-list. */
#include "disc_allow.h"
#include "disc_url.h"

disc_connect_verdict
disc_allow_connect(const mr_allow_list *list, bool https, const char *host,
                   const struct sockaddr *addr)
{
    bool listed = mr_allow_contains(list, host);
    bool in_range = mr_allow_covers(list, addr);

    /* Plain http needs a listed host, or an IP literal in a range and a
     * connected address in a range, so the decision does not rely on curl
     * connecting to the address that the literal names. mr_allow_http is
     * "listed, or an IP literal in a range", so the test below is that
     * condition. */
    if (!https && !(mr_allow_http(list, host) && (listed || in_range))) {
        return DISC_CONNECT_SCHEME;
    }
    if (listed || in_range || disc_addr_is_public(addr)) {
        return DISC_CONNECT_OK;
    }
    return DISC_CONNECT_ADDRESS;
}
