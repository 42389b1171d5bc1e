/* mr_rpc_pipes.c - the set of connection ids that clients and servers keep. */
#include <stdlib.h>

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
