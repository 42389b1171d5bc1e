/* mr_rpc_pipes.c - what clients and servers know of their connections. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "mr_rpc.h"
#include "mr_rpc_internal.h"

/* find returns the index of id in set, or -1. */
static int
find(const mr_rpc__pipes *set, uint32_t id)
{
    for (int i = 0; i < set->n; i++) {
        if (set->ids[i] == id) {
            return i;
        }
    }
    return -1;
}

bool
mr_rpc__pipes_add(mr_rpc__pipes *set, uint32_t id)
{
    if (set->n == set->cap) {
        int cap = set->cap > 0 ? set->cap * 2 : 8;
        uint32_t *grown = realloc(set->ids, (size_t)cap * sizeof(*grown));

        if (grown == NULL) {
            return false;
        }
        set->ids = grown;
        set->cap = cap;
    }
    set->ids[set->n++] = id;
    return true;
}

bool
mr_rpc__pipes_remove(mr_rpc__pipes *set, uint32_t id)
{
    int at = find(set, id);

    if (at < 0) {
        return false;
    }
    set->ids[at] = set->ids[--set->n];
    return true;
}

bool
mr_rpc__pipes_has(const mr_rpc__pipes *set, uint32_t id)
{
    return find(set, id) >= 0;
}

void
mr_rpc__pipes_free(mr_rpc__pipes *set)
{
    free(set->ids);
    *set = (mr_rpc__pipes){0};
}

void
mr_rpc__peer_address(nng_pipe pipe, char buf[MR_RPC_PEER_ADDR_MAX])
{
    char host[INET6_ADDRSTRLEN] = "";
    nng_sockaddr sa;

    if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) != 0) {
        snprintf(buf, MR_RPC_PEER_ADDR_MAX, "unknown");
        return;
    }

    /* nng stores the address and port in network byte order. */
    if (sa.s_family == NNG_AF_INET) {
        inet_ntop(AF_INET, &sa.s_in.sa_addr, host, sizeof(host));
        snprintf(buf, MR_RPC_PEER_ADDR_MAX, "%s:%u", host,
                 (unsigned)ntohs(sa.s_in.sa_port));
    } else if (sa.s_family == NNG_AF_INET6) {
        inet_ntop(AF_INET6, sa.s_in6.sa_addr, host, sizeof(host));
        snprintf(buf, MR_RPC_PEER_ADDR_MAX, "[%s]:%u", host,
                 (unsigned)ntohs(sa.s_in6.sa_port));
    } else {
        snprintf(buf, MR_RPC_PEER_ADDR_MAX, "local");
    }
}
