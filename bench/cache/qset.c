/* qset.c — the link array and key table of the list-based policies. */
#include <errno.h>
#include <stdlib.h>

#include "cache/dlist.h"
#include "cache/policy.h"

void *sim_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }

int qset_init(qset *s, uint32_t n_keys)
{
    s->links = sim_calloc((size_t)n_keys + QSET_LISTS, sizeof *s->links);
    s->where = sim_calloc(n_keys, 1);
    if (!s->links || !s->where) {
        qset_free(s);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < QSET_LISTS; i++)
        dlist_init(&s->q[i], s->links, n_keys + i);
    return 0;
}

void qset_free(qset *s)
{
    free(s->links);
    free(s->where);
    s->links = NULL;
    s->where = NULL;
}
