#include "fail_alloc.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* Each block carries its size in front so a wrong size on free is caught. */
typedef struct { size_t size; size_t pad; } block_hdr;

static void *fa_alloc(size_t size, void *ctx)
{
    fail_alloc *fa = ctx;
    fa->attempts++;
    if (fa->fail_all || (fa->fail_at && fa->attempts == fa->fail_at)) {
        fa->failures++;
        return NULL;
    }
    block_hdr *h = malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->size = size;
    fa->allocs++;
    fa->live_blocks++;
    fa->live_bytes += size;
    /* Poison new memory so code that forgets to initialise is caught. */
    memset(h + 1, 0xA5, size);
    return h + 1;
}

static void fa_free(void *ptr, size_t size, void *ctx)
{
    fail_alloc *fa = ctx;
    if (!ptr)
        return;
    block_hdr *h = (block_hdr *)ptr - 1;
    CHECK_MSG(h->size == size, "free size %zu != allocated size %zu", size, h->size);
    CHECK(fa->live_blocks > 0);
    fa->frees++;
    fa->live_blocks--;
    fa->live_bytes -= size;
    free(h);
}

void fail_alloc_init(fail_alloc *fa)
{
    memset(fa, 0, sizeof *fa);
    fa->iface.alloc = fa_alloc;
    fa->iface.free = fa_free;
    fa->iface.ctx = fa;
}

void fail_alloc_fail_nth(fail_alloc *fa, size_t n)
{
    fa->fail_at = n ? fa->attempts + n : 0;
}
