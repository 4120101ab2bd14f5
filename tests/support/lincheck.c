/*
 * lincheck.c — Wing–Gong linearizability checking with Lowe's memoisation,
 * history recording, shrinking, printing and a random-history driver.
 *
 * The search (lincheck_check). Every operation contributes two events, its
 * call and its return, kept in one doubly linked list sorted by time. The
 * search walks the list from the front. At a call event it tries to
 * linearise that operation next: if the model accepts the operation's
 * recorded result in the current state, the operation is "lifted" (its call
 * and return events unlinked), the choice pushed on a stack, and the walk
 * restarts at the front. Reaching a return event means the operation it ends
 * should have been linearised already (everything before it in the list is
 * a call that could go first): the last choice is undone and the walk goes
 * on after it. An empty list means every operation is linearised: OK. An
 * empty stack at a return event means every order was tried: VIOLATION.
 *
 * Memoisation (Lowe, "Testing for linearizability", 2017): the future of
 * the search depends only on which operations are linearised (a bitset) and
 * on the model state, not on the order that got there. Each such pair is
 * remembered in a hash set; a choice that leads to a pair seen before is
 * skipped. The bitset's hash is kept incrementally (Zobrist: XOR of a random
 * word per linearised operation). With p threads the linearised sets are
 * essentially "a prefix of each thread plus some overlapping operations", so
 * the number of configurations is about (n/p)^p times the states reached,
 * each costing O(n) list work — milliseconds for the few hundred operations
 * of a test history, where the plain search is exponential.
 *
 * A pending operation (called, not returned) may be linearised after its
 * call or never: reaching its return event, which sorts after every other,
 * means everything else is linearised, so the search succeeds there.
 *
 * Shrinking (lincheck_minimize) uses only reductions that keep "violating"
 * implying "the original violates": locality (one key), prefixes in time
 * (every prefix of a linearizable history is linearizable, with the ops
 * running at the cut pending; violation is monotone in the cut, so a binary
 * search finds the shortest), dropping ops that changed nothing, and
 * folding a sequential start into the initial state.
 *
 * Recording takes a timestamp from one shared seq_cst counter before calling
 * the map and another after it returned. A real operation takes effect
 * between the two, so "a returned before b was called" in stamps implies it
 * in real time, and checking against the stamped intervals never reports a
 * violation the map did not commit. lincheck_run pins its workers to
 * different CPUs and releases them with a spin barrier, so that they
 * really run at the same time (see pin_worker).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np */
#endif
#define _POSIX_C_SOURCE 200809L

#include "lincheck.h"

#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    CHECK_MSG(p != NULL, "lincheck: out of memory (%zu x %zu bytes)", n, size);
    return p;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------------ */
/* The sequential model                                                      */
/* ------------------------------------------------------------------------ */

static unsigned state_len(lc_state s)
{
    unsigned n = 0;
    for (unsigned k = 0; k < LC_MAX_KEYS; k++)
        n += lc_state_get(s, k, NULL);
    return n;
}

/* Whether an operation that reports (found, out) saw the key as (present, cur). */
static bool saw(const lc_op *op, bool present, uint64_t cur)
{
    return op->found == present && (!present || op->out == cur);
}

bool lincheck_apply(lc_state s, const lc_op *op, lc_state *next)
{
    uint64_t cur = 0;
    bool present = op->key < LC_MAX_KEYS && lc_state_get(s, op->key, &cur);
    bool hit = present && cur == op->arg; /* CAS / CAD comparison */
    *next = s;
    if (op->ret == LC_PENDING) {
        lc_op effect = *op;
        effect.ret = 0;
        lincheck_apply(s, &effect, next);
        return true;
    }
    switch (op->kind) {
    case LC_LOAD:
        return saw(op, present, cur);
    case LC_STORE:
        *next = lc_state_put(s, op->key, op->arg);
        return true;
    case LC_SWAP:
        *next = lc_state_put(s, op->key, op->arg);
        return saw(op, present, cur);
    case LC_LOAD_OR_STORE:
        if (present)
            return op->found && op->out == cur;
        *next = lc_state_put(s, op->key, op->arg);
        return !op->found && op->out == op->arg;
    case LC_LOAD_AND_DELETE:
        *next = lc_state_del(s, op->key);
        return saw(op, present, cur);
    case LC_DELETE:
        *next = lc_state_del(s, op->key);
        return true;
    case LC_COMPARE_AND_SWAP:
        if (hit)
            *next = lc_state_put(s, op->key, op->arg2);
        return op->found == hit;
    case LC_COMPARE_AND_DELETE:
        if (hit)
            *next = lc_state_del(s, op->key);
        return op->found == hit;
    case LC_CLEAR:
        *next = 0;
        return true;
    case LC_LEN:
        return op->out == state_len(s);
    case LC_SNAPSHOT:
        return op->out == s;
    case LC_KIND_COUNT:
        break;
    }
    return false;
}

static bool is_whole_map(lc_kind k)
{
    return k == LC_CLEAR || k == LC_LEN || k == LC_SNAPSHOT;
}

/* Operations whose recorded result says they changed nothing. Any legal
 * order of a history stays legal without them, so a history without them
 * that is not linearizable proves the full one is not either. */
static bool changes_nothing(const lc_op *op)
{
    if (op->ret == LC_PENDING) /* its result unknown: only pure reads */
        return op->kind == LC_LOAD || op->kind == LC_LEN || op->kind == LC_SNAPSHOT;
    switch (op->kind) {
    case LC_LOAD:
    case LC_LEN:
    case LC_SNAPSHOT:
        return true;
    case LC_LOAD_OR_STORE:
        return op->found;
    case LC_LOAD_AND_DELETE:
    case LC_COMPARE_AND_SWAP:
    case LC_COMPARE_AND_DELETE:
        return !op->found;
    default:
        return false;
    }
}

static bool stores_arg(lc_kind k)
{
    return k == LC_STORE || k == LC_SWAP || k == LC_LOAD_OR_STORE;
}

static bool valid_op(const lc_op *op, size_t i)
{
    const char *why = NULL;
    if ((unsigned)op->kind >= LC_KIND_COUNT)
        why = "unknown kind";
    else if (!is_whole_map(op->kind) && op->key >= LC_MAX_KEYS)
        why = "key out of range";
    else if (stores_arg(op->kind) && op->arg > LC_MAX_VALUE)
        why = "stored value out of range";
    else if (op->kind == LC_COMPARE_AND_SWAP && op->arg2 > LC_MAX_VALUE)
        why = "stored value out of range";
    else if (op->ret < op->call)
        why = "returns before it is called";
    if (why)
        fprintf(stderr, "lincheck: invalid history: operation %zu: %s\n", i, why);
    return why == NULL;
}

/* ------------------------------------------------------------------------ */
/* The event list                                                            */
/* ------------------------------------------------------------------------ */

#define NIL UINT32_MAX

/* Node 0 is the list head; node 1+2i is op i's call, node 2+2i its return. */
typedef struct {
    uint32_t prev, next;
} link;

typedef struct {
    uint64_t time;
    uint32_t node;
} stamp;

static int cmp_stamp(const void *a, const void *b)
{
    const stamp *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    /* At equal times calls come first (the operations overlap), then by node. */
    bool xr = x->node % 2 == 0, yr = y->node % 2 == 0;
    if (xr != yr)
        return xr ? 1 : -1;
    return x->node < y->node ? -1 : x->node > y->node;
}

static link *build_list(const lc_op *ops, size_t n)
{
    stamp *order = xcalloc(2 * n, sizeof *order);
    for (size_t i = 0; i < n; i++) {
        order[2 * i] = (stamp){ops[i].call, (uint32_t)(1 + 2 * i)};
        order[2 * i + 1] = (stamp){ops[i].ret, (uint32_t)(2 + 2 * i)};
    }
    qsort(order, 2 * n, sizeof *order, cmp_stamp);
    link *l = xcalloc(2 * n + 1, sizeof *l);
    uint32_t prev = 0;
    l[0].prev = NIL;
    for (size_t i = 0; i < 2 * n; i++) {
        l[prev].next = order[i].node;
        l[order[i].node].prev = prev;
        prev = order[i].node;
    }
    l[prev].next = NIL;
    free(order);
    return l;
}

static void unlink_node(link *l, uint32_t x)
{
    l[l[x].prev].next = l[x].next;
    if (l[x].next != NIL)
        l[l[x].next].prev = l[x].prev;
}

static void relink_node(link *l, uint32_t x)
{
    l[l[x].prev].next = x;
    if (l[x].next != NIL)
        l[l[x].next].prev = x;
}

/* Removes op's call node and its return node (undone in reverse order). */
static void lift(link *l, uint32_t call)
{
    unlink_node(l, call);
    unlink_node(l, call + 1);
}

static void unlift(link *l, uint32_t call)
{
    relink_node(l, call + 1);
    relink_node(l, call);
}

/* ------------------------------------------------------------------------ */
/* The memo: a hash set of (linearised set, state)                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t zob;       /* Zobrist hash of the set */
    lc_state state;
    size_t bits;        /* offset of the set's words in the arena, + 1 (0: empty) */
} memo_slot;

typedef struct {
    memo_slot *slots;
    size_t cap, count;
    uint64_t *arena;
    size_t arena_cap, arena_used;
    size_t words;       /* words per set */
} memo;

static size_t memo_pos(const memo *m, uint64_t zob, lc_state s)
{
    return (size_t)mix(zob ^ mix(s)) & (m->cap - 1);
}

static void memo_init(memo *m, size_t words)
{
    m->cap = 1024;
    m->count = 0;
    m->slots = xcalloc(m->cap, sizeof *m->slots);
    m->words = words;
    m->arena_cap = 1024 * words;
    m->arena_used = 0;
    m->arena = xcalloc(m->arena_cap, sizeof *m->arena);
}

static void memo_free(memo *m)
{
    free(m->slots);
    free(m->arena);
}

static void memo_grow(memo *m)
{
    memo old = *m;
    m->cap *= 2;
    m->slots = xcalloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.slots[i].bits)
            continue;
        size_t p = memo_pos(m, old.slots[i].zob, old.slots[i].state);
        while (m->slots[p].bits)
            p = (p + 1) & (m->cap - 1);
        m->slots[p] = old.slots[i];
    }
    free(old.slots);
}

static size_t memo_store_bits(memo *m, const uint64_t *bits)
{
    if (m->arena_used + m->words > m->arena_cap) {
        m->arena_cap *= 2;
        m->arena = realloc(m->arena, m->arena_cap * sizeof *m->arena);
        CHECK_MSG(m->arena != NULL, "lincheck: out of memory (memo of %zu sets)", m->count);
    }
    memcpy(m->arena + m->arena_used, bits, m->words * sizeof *bits);
    m->arena_used += m->words;
    return m->arena_used - m->words + 1;
}

/* Adds (bits, s); returns false if it was already there. */
static bool memo_add(memo *m, const uint64_t *bits, uint64_t zob, lc_state s)
{
    if (2 * (m->count + 1) > m->cap)
        memo_grow(m);
    size_t p = memo_pos(m, zob, s);
    for (; m->slots[p].bits; p = (p + 1) & (m->cap - 1)) {
        const memo_slot *e = &m->slots[p];
        if (e->zob == zob && e->state == s &&
            memcmp(m->arena + e->bits - 1, bits, m->words * sizeof *bits) == 0)
            return false;
    }
    m->slots[p] = (memo_slot){zob, s, memo_store_bits(m, bits)};
    m->count++;
    return true;
}

/* ------------------------------------------------------------------------ */
/* The search                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint32_t call;      /* the node of the call event linearised */
    lc_state before;    /* the state before it */
} choice;

typedef struct {
    const lc_op *ops;
    link *list;
    memo memo;
    uint64_t *bits;     /* the linearised set */
    uint64_t zob;
    uint64_t *zkeys;    /* Zobrist word of each op */
    choice *stack;
    size_t depth;
    lc_state state;
    lc_stats stats;
} search;

static void toggle(search *s, size_t op)
{
    s->bits[op / 64] ^= (uint64_t)1 << (op % 64);
    s->zob ^= s->zkeys[op];
}

/* Tries to linearise the operation whose call node is `call` now. */
static bool try_linearise(search *s, uint32_t call)
{
    size_t op = (call - 1) / 2;
    lc_state next;
    s->stats.steps++;
    if (!lincheck_apply(s->state, &s->ops[op], &next))
        return false;
    toggle(s, op);
    if (!memo_add(&s->memo, s->bits, s->zob, next)) {
        toggle(s, op);
        return false;
    }
    s->stack[s->depth++] = (choice){call, s->state};
    s->state = next;
    lift(s->list, call);
    return true;
}

/* Undoes the last choice; returns the node to continue from. */
static uint32_t backtrack(search *s)
{
    choice c = s->stack[--s->depth];
    unlift(s->list, c.call);
    toggle(s, (c.call - 1) / 2);
    s->state = c.before;
    return s->list[c.call].next;
}

static bool search_run(search *s)
{
    link *l = s->list;
    uint32_t node = l[0].next;
    while (l[0].next != NIL) {
        if (node % 2 == 1) {  /* a call */
            node = try_linearise(s, node) ? l[0].next : l[node].next;
        } else if (s->ops[node / 2 - 1].ret == LC_PENDING) {
            return true;      /* only pending ops left: they need not happen */
        } else {              /* a return whose op is not linearised yet */
            if (s->depth == 0)
                return false;
            node = backtrack(s);
        }
    }
    return true;
}

static bool valid_history(const lc_op *ops, size_t n)
{
    if (n >= NIL / 2) {
        fprintf(stderr, "lincheck: invalid history: %zu operations\n", n);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (!valid_op(&ops[i], i))
            return false;
    return true;
}

lc_verdict lincheck_check(const lc_op *ops, size_t n, lc_state initial, lc_stats *st)
{
    if (!valid_history(ops, n))
        return LC_INVALID;
    search s = {.ops = ops, .state = initial};
    size_t words = n / 64 + 1;
    s.list = build_list(ops, n);
    s.bits = xcalloc(words, sizeof *s.bits);
    s.zkeys = xcalloc(n, sizeof *s.zkeys);
    for (size_t i = 0; i < n; i++)
        s.zkeys[i] = mix(0x9E3779B97F4A7C15ull * (i + 1));
    s.stack = xcalloc(n, sizeof *s.stack);
    memo_init(&s.memo, words);
    bool ok = search_run(&s);
    s.stats.configs = s.memo.count;
    if (st)
        *st = s.stats;
    memo_free(&s.memo);
    free(s.stack);
    free(s.zkeys);
    free(s.bits);
    free(s.list);
    return ok ? LC_OK : LC_VIOLATION;
}

/* ------------------------------------------------------------------------ */
/* Shrinking                                                                 */
/* ------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_call(const void *a, const void *b)
{
    const lc_op *x = a, *y = b;
    if (x->call != y->call)
        return x->call < y->call ? -1 : 1;
    return (x->ret > y->ret) - (x->ret < y->ret);
}

static bool violates(const lc_op *ops, size_t n, lc_state initial)
{
    return lincheck_check(ops, n, initial, NULL) == LC_VIOLATION;
}

/* Keeps the operations on one key if that alone violates (only when no
 * whole-map operation ties the keys together). */
static size_t keep_one_key(lc_op *ops, size_t n, lc_state initial)
{
    for (size_t i = 0; i < n; i++)
        if (is_whole_map(ops[i].kind))
            return n;
    lc_op *part = xcalloc(n, sizeof *part);
    size_t m = n;
    for (unsigned k = 0; k < LC_MAX_KEYS && m == n; k++) {
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            if (ops[i].key == k)
                part[cnt++] = ops[i];
        if (cnt < n && violates(part, cnt, initial)) {
            memcpy(ops, part, cnt * sizeof *part);
            m = cnt;
        }
    }
    free(part);
    return m;
}

/* The part of ops (sorted by call) before time t: the operations called by
 * then, those still running made pending. Returns its length. */
static size_t prefix_at(const lc_op *ops, size_t n, uint64_t t, lc_op *out)
{
    size_t m = 0;
    for (; m < n && ops[m].call <= t; m++) {
        out[m] = ops[m];
        if (out[m].ret > t)
            out[m].ret = LC_PENDING;
    }
    return m;
}

/* Keeps the shortest violating prefix, cut at the return of an operation.
 * Violation only grows with the prefix, so a binary search finds it. */
static size_t cut_shortest_prefix(lc_op *ops, size_t n, lc_state initial)
{
    uint64_t *rets = xcalloc(n, sizeof *rets);
    size_t nr = 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i].ret != LC_PENDING)
            rets[nr++] = ops[i].ret;
    qsort(rets, nr, sizeof *rets, cmp_u64);
    lc_op *part = xcalloc(n, sizeof *part);
    size_t lo = 0, hi = nr; /* the prefix at rets[hi - 1] (the whole) violates */
    while (lo + 1 < hi) {
        size_t mid = (lo + hi) / 2;
        if (violates(part, prefix_at(ops, n, rets[mid - 1], part), initial))
            hi = mid;
        else
            lo = mid;
    }
    if (hi < nr)
        n = prefix_at(ops, n, rets[hi - 1], ops);
    free(part);
    free(rets);
    return n;
}

/* Replaces the longest sequential prefix (each op returned before the next
 * was called, and before everything after it) by the state it leaves: it
 * comes first in every order of the history and, being sequential, has one
 * outcome. Stops before an op the model rejects (the violation is there). */
static size_t skip_sequential_prefix(lc_op *ops, size_t n, lc_state *initial)
{
    lc_state s = *initial;
    size_t p = 0;
    for (; p + 1 < n && ops[p].ret < ops[p + 1].call; p++) {
        lc_state next;
        if (!lincheck_apply(s, &ops[p], &next))
            break;
        s = next;
    }
    if (p == 0)
        return n;
    memmove(ops, ops + p, (n - p) * sizeof *ops);
    *initial = s;
    return n - p;
}

/* Drops, one at a time, each operation that changed nothing if the rest
 * still violates. */
static size_t drop_idle_ops(lc_op *ops, size_t n, lc_state initial)
{
    for (size_t i = n; i-- > 0;) {
        if (!changes_nothing(&ops[i]))
            continue;
        lc_op keep = ops[i];
        memmove(&ops[i], &ops[i + 1], (n - i - 1) * sizeof *ops);
        if (violates(ops, n - 1, initial)) {
            n--;
        } else {
            memmove(&ops[i + 1], &ops[i], (n - i - 1) * sizeof *ops);
            ops[i] = keep;
        }
    }
    return n;
}

size_t lincheck_minimize(lc_op *ops, size_t n, lc_state *initial)
{
    qsort(ops, n, sizeof *ops, cmp_call);
    if (!violates(ops, n, *initial))
        return n;
    for (size_t before = n + 1; n < before;) {
        before = n;
        n = keep_one_key(ops, n, *initial);
        n = cut_shortest_prefix(ops, n, *initial);
        n = skip_sequential_prefix(ops, n, initial);
        n = drop_idle_ops(ops, n, *initial);
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Printing                                                                  */
/* ------------------------------------------------------------------------ */

static int format_state(char *buf, size_t len, lc_state s)
{
    int w = snprintf(buf, len, "{");
    const char *sep = "";
    for (unsigned k = 0; k < LC_MAX_KEYS; k++) {
        uint64_t v;
        if (lc_state_get(s, k, &v) && (size_t)w < len) {
            w += snprintf(buf + w, len - (size_t)w, "%sk%u=%" PRIu64, sep, k, v);
            sep = ", ";
        }
    }
    if ((size_t)w < len)
        w += snprintf(buf + w, len - (size_t)w, "}");
    return w;
}

/* The operation and its arguments: "compare_and_swap(k1, 2 -> 3)". */
static void format_call(char *buf, size_t len, const lc_op *op)
{
    static const char *const names[LC_KIND_COUNT] = {
        [LC_LOAD] = "load", [LC_STORE] = "store", [LC_SWAP] = "swap",
        [LC_LOAD_OR_STORE] = "load_or_store", [LC_LOAD_AND_DELETE] = "load_and_delete",
        [LC_DELETE] = "delete", [LC_COMPARE_AND_SWAP] = "compare_and_swap",
        [LC_COMPARE_AND_DELETE] = "compare_and_delete", [LC_CLEAR] = "clear",
        [LC_LEN] = "len", [LC_SNAPSHOT] = "snapshot",
    };
    if ((unsigned)op->kind >= LC_KIND_COUNT)
        snprintf(buf, len, "kind %d?", (int)op->kind);
    else if (is_whole_map(op->kind))
        snprintf(buf, len, "%s()", names[op->kind]);
    else if (op->kind == LC_COMPARE_AND_SWAP)
        snprintf(buf, len, "%s(k%u, %" PRIu64 " -> %" PRIu64 ")", names[op->kind], op->key,
                 op->arg, op->arg2);
    else if (stores_arg(op->kind) || op->kind == LC_COMPARE_AND_DELETE)
        snprintf(buf, len, "%s(k%u, %" PRIu64 ")", names[op->kind], op->key, op->arg);
    else
        snprintf(buf, len, "%s(k%u)", names[op->kind], op->key);
}

/* What it returned ("" for kinds that return nothing). */
static void format_result(char *buf, size_t len, const lc_op *op)
{
    const char *prefix = "";
    switch (op->kind) {
    case LC_SWAP: prefix = "previous "; break;
    case LC_LOAD_OR_STORE: prefix = "loaded "; break;
    case LC_LOAD_AND_DELETE: prefix = "deleted "; break;
    default: break;
    }
    if (op->ret == LC_PENDING)
        snprintf(buf, len, "pending");
    else if (op->kind == LC_COMPARE_AND_SWAP)
        snprintf(buf, len, "%s", op->found ? "swapped" : "failed");
    else if (op->kind == LC_COMPARE_AND_DELETE)
        snprintf(buf, len, "%s", op->found ? "deleted" : "failed");
    else if (op->kind == LC_LEN)
        snprintf(buf, len, "%" PRIu64, op->out);
    else if (op->kind == LC_SNAPSHOT)
        format_state(buf, len, op->out);
    else if (op->kind == LC_LOAD_OR_STORE && !op->found)
        snprintf(buf, len, "stored");
    else if (op->kind == LC_STORE || op->kind == LC_DELETE || op->kind == LC_CLEAR)
        snprintf(buf, len, "%s", "");
    else if (op->found)
        snprintf(buf, len, "%s%" PRIu64, prefix, op->out);
    else
        snprintf(buf, len, "%s", op->kind == LC_SWAP ? "was absent" : "absent");
}

static void format_op(char *buf, size_t len, const lc_op *op)
{
    char call[64], res[96];
    format_call(call, sizeof call, op);
    format_result(res, sizeof res, op);
    snprintf(buf, len, "%s%s%s", call, *res ? " -> " : "", res);
}

/* The rank of t among the sorted distinct times. */
static size_t rank_of(const uint64_t *times, size_t n, uint64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (times[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

enum { TIMELINE_MAX = 60 };

/* "  [---]  " from column `from` to `to`; a pending op runs off the end. */
static void print_timeline(FILE *f, size_t from, size_t to, bool pending, size_t width)
{
    char bar[TIMELINE_MAX + 2];
    width += pending;
    for (size_t c = 0; c < width; c++)
        bar[c] = c < from || c > to ? ' ' : c == from ? '[' : c == to ? ']' : '-';
    if (from == to)
        bar[from] = '|';
    if (pending)
        bar[width - 1] = '>';
    bar[width] = '\0';
    fprintf(f, "  %s", bar);
}

void lincheck_print(FILE *f, const lc_op *ops, size_t n, lc_state initial)
{
    lc_op *sorted = xcalloc(n, sizeof *sorted);
    uint64_t *times = xcalloc(2 * n, sizeof *times);
    memcpy(sorted, ops, n * sizeof *ops);
    qsort(sorted, n, sizeof *sorted, cmp_call);
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        times[nt++] = sorted[i].call;
        if (sorted[i].ret != LC_PENDING)
            times[nt++] = sorted[i].ret;
    }
    qsort(times, nt, sizeof *times, cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < nt; i++)
        if (distinct == 0 || times[distinct - 1] != times[i])
            times[distinct++] = times[i];
    char buf[192];
    format_state(buf, sizeof buf, initial);
    fprintf(f, "  map before: %s; %zu operations (times renumbered):\n", buf, n);
    for (size_t i = 0; i < n; i++) {
        const lc_op *op = &sorted[i];
        bool pending = op->ret == LC_PENDING;
        size_t c = rank_of(times, distinct, op->call);
        size_t r = pending ? distinct : rank_of(times, distinct, op->ret);
        char th[16];
        if (op->thread == LC_THREAD_MAIN)
            snprintf(th, sizeof th, "main");
        else
            snprintf(th, sizeof th, "T%u", op->thread);
        format_op(buf, sizeof buf, op);
        if (pending)
            fprintf(f, "  %-4s [%3zu, ...]", th, c);
        else
            fprintf(f, "  %-4s [%3zu,%4zu]", th, c, r);
        if (distinct <= TIMELINE_MAX)
            print_timeline(f, c, r, pending, distinct);
        fprintf(f, "  %s\n", buf);
    }
    fflush(f);
    free(times);
    free(sorted);
}

/* ------------------------------------------------------------------------ */
/* Recording                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    lc_op *ops;
    size_t n;
    char pad[64 - sizeof(lc_op *) - sizeof(size_t)]; /* one cache line each */
} thread_log;

struct lincheck_recorder {
    _Atomic uint64_t clock;
    unsigned threads;
    size_t capacity;
    thread_log *logs;   /* one per worker, then LC_THREAD_MAIN's */
    lc_op *merged;
};

lincheck_recorder *lincheck_recorder_new(unsigned threads, size_t capacity)
{
    lincheck_recorder *r = xcalloc(1, sizeof *r);
    atomic_init(&r->clock, 1);
    r->threads = threads;
    r->capacity = capacity;
    r->logs = xcalloc(threads + 1, sizeof *r->logs);
    for (unsigned t = 0; t <= threads; t++)
        r->logs[t].ops = xcalloc(capacity, sizeof(lc_op));
    return r;
}

void lincheck_recorder_free(lincheck_recorder *r)
{
    if (!r)
        return;
    for (unsigned t = 0; t <= r->threads; t++)
        free(r->logs[t].ops);
    free(r->logs);
    free(r->merged);
    free(r);
}

void lincheck_recorder_reset(lincheck_recorder *r)
{
    for (unsigned t = 0; t <= r->threads; t++)
        r->logs[t].n = 0;
    free(r->merged);
    r->merged = NULL;
}

static thread_log *log_of(lincheck_recorder *r, unsigned thread)
{
    unsigned t = thread == LC_THREAD_MAIN ? r->threads : thread;
    CHECK_MSG(t <= r->threads, "lincheck: thread %u of %u", thread, r->threads);
    return &r->logs[t];
}

lc_op *lincheck_begin(lincheck_recorder *r, unsigned thread, const lc_op *plan)
{
    thread_log *log = log_of(r, thread);
    CHECK_MSG(log->n < r->capacity, "lincheck: thread %u recorded %zu operations", thread,
              log->n);
    lc_op *op = &log->ops[log->n++];
    *op = (lc_op){.kind = plan->kind, .key = plan->key, .arg = plan->arg,
                  .arg2 = plan->arg2, .thread = thread};
    op->call = atomic_fetch_add(&r->clock, 1);
    return op;
}

void lincheck_end(lincheck_recorder *r, lc_op *op)
{
    op->ret = atomic_fetch_add(&r->clock, 1);
}

const lc_op *lincheck_history(lincheck_recorder *r, size_t *n)
{
    size_t total = 0;
    for (unsigned t = 0; t <= r->threads; t++)
        total += r->logs[t].n;
    free(r->merged);
    r->merged = xcalloc(total, sizeof *r->merged);
    size_t at = 0;
    for (unsigned t = 0; t <= r->threads; t++) {
        memcpy(r->merged + at, r->logs[t].ops, r->logs[t].n * sizeof(lc_op));
        at += r->logs[t].n;
    }
    qsort(r->merged, total, sizeof *r->merged, cmp_call);
    *n = total;
    return r->merged;
}

/* ------------------------------------------------------------------------ */
/* Running an adapter                                                        */
/* ------------------------------------------------------------------------ */

const unsigned lincheck_default_weights[LC_KIND_COUNT] = {
    [LC_LOAD] = 8, [LC_STORE] = 6, [LC_SWAP] = 4, [LC_LOAD_OR_STORE] = 6,
    [LC_LOAD_AND_DELETE] = 4, [LC_DELETE] = 4, [LC_COMPARE_AND_SWAP] = 6,
    [LC_COMPARE_AND_DELETE] = 4, [LC_CLEAR] = 1, [LC_LEN] = 2, [LC_SNAPSHOT] = 2,
};

static bool supports(const lc_adapter *a, lc_kind k)
{
    switch (k) {
    case LC_LOAD: return a->load != NULL;
    case LC_STORE: return a->store != NULL;
    case LC_SWAP: return a->swap != NULL;
    case LC_LOAD_OR_STORE: return a->load_or_store != NULL;
    case LC_LOAD_AND_DELETE: return a->load_and_delete != NULL;
    case LC_DELETE: return a->del != NULL;
    case LC_COMPARE_AND_SWAP: return a->compare_and_swap != NULL;
    case LC_COMPARE_AND_DELETE: return a->compare_and_delete != NULL;
    case LC_CLEAR: return a->clear != NULL;
    case LC_LEN: return a->len != NULL;
    case LC_SNAPSHOT: return a->snapshot != NULL;
    case LC_KIND_COUNT: break;
    }
    return false;
}

void lincheck_exec(const lc_adapter *a, void *obj, lc_op *op)
{
    CHECK_MSG(supports(a, op->kind), "lincheck: %s has no operation of kind %d", a->name,
              (int)op->kind);
    uint64_t k = op->key;
    switch (op->kind) {
    case LC_LOAD: op->found = a->load(obj, k, &op->out); break;
    case LC_STORE: a->store(obj, k, op->arg); break;
    case LC_SWAP: op->found = a->swap(obj, k, op->arg, &op->out); break;
    case LC_LOAD_OR_STORE: op->found = a->load_or_store(obj, k, op->arg, &op->out); break;
    case LC_LOAD_AND_DELETE: op->found = a->load_and_delete(obj, k, &op->out); break;
    case LC_DELETE: a->del(obj, k); break;
    case LC_COMPARE_AND_SWAP: op->found = a->compare_and_swap(obj, k, op->arg, op->arg2); break;
    case LC_COMPARE_AND_DELETE: op->found = a->compare_and_delete(obj, k, op->arg); break;
    case LC_CLEAR: a->clear(obj); break;
    case LC_LEN: op->out = a->len(obj); break;
    case LC_SNAPSHOT: op->out = a->snapshot(obj, LC_MAX_KEYS); break;
    case LC_KIND_COUNT: break;
    }
}

static lc_kind pick_kind(const unsigned *w, unsigned total, uint64_t *rng)
{
    uint64_t x = test_rand_below(rng, total);
    unsigned k = 0;
    while (x >= w[k])
        x -= w[k++];
    return (lc_kind)k;
}

/* Fills plan[0..n) with random operations of the kinds the adapter has. */
static void plan_ops(const lc_adapter *a, const lc_config *cfg, uint64_t *rng, lc_op *plan,
                     size_t n)
{
    const unsigned *given = cfg->weights ? cfg->weights : lincheck_default_weights;
    unsigned w[LC_KIND_COUNT], total = 0;
    for (int k = 0; k < LC_KIND_COUNT; k++)
        total += w[k] = supports(a, (lc_kind)k) ? given[k] : 0;
    CHECK_MSG(total > 0, "lincheck: %s: no operation to generate", a->name);
    for (size_t i = 0; i < n; i++)
        plan[i] = (lc_op){
            .kind = pick_kind(w, total, rng),
            .key = (unsigned)test_rand_below(rng, cfg->nkeys),
            .arg = test_rand_below(rng, cfg->nvalues),
            .arg2 = test_rand_below(rng, cfg->nvalues),
        };
}

typedef struct {
    const lc_adapter *a;
    void *obj;
    lincheck_recorder *rec;
    _Atomic unsigned arrived;
    unsigned threads;
} run_shared;

typedef struct {
    run_shared *sh;
    unsigned id;
    const lc_op *plan;
    size_t n;
    unsigned pause;
    uint64_t rng;       /* for the pauses */
    pthread_t thread;
} worker;

static void record(run_shared *sh, unsigned thread, const lc_op *plan)
{
    lc_op *op = lincheck_begin(sh->rec, thread, plan);
    lincheck_exec(sh->a, sh->obj, op);
    lincheck_end(sh->rec, op);
}

/* Every worker spins until all have arrived, so they start together (a
 * sleeping barrier would wake them one by one, tens of microseconds apart,
 * longer than a whole thread's work). Yields when spinning long: there may
 * be fewer cores than threads. */
static void spin_barrier(run_shared *sh)
{
    atomic_fetch_add(&sh->arrived, 1);
    for (unsigned spins = 0; atomic_load(&sh->arrived) < sh->threads; spins++)
        if (spins > 100)
            sched_yield();
}

static void pause_a_little(worker *w)
{
    if (w->pause == 0)
        return;
    volatile unsigned sink = 0;
    for (uint64_t i = test_rand_below(&w->rng, w->pause); i > 0; i--)
        sink = sink + 1;
}

/* Pins worker t to the t-th CPU the process may use (round robin). Left
 * to itself the scheduler often starts a new thread on the CPU of the
 * thread waiting at the barrier, and the two then run one after the other,
 * never together. Best effort: a failure leaves the thread unpinned. */
static void pin_worker(unsigned t)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2)
        return;
    unsigned want = t % (unsigned)CPU_COUNT(&allowed);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &allowed) && want-- == 0) {
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pin_worker(w->id);
    spin_barrier(w->sh);
    for (size_t i = 0; i < w->n; i++) {
        pause_a_little(w);
        record(w->sh, w->id, &w->plan[i]);
    }
    return NULL;
}

static bool overlap(const lc_op *a, const lc_op *b)
{
    return a->call <= b->ret && b->call <= a->ret;
}

static void count_overlaps(const lc_op *ops, size_t n, lc_outcome *out)
{
    for (size_t i = 0; i < n; i++) {
        if (ops[i].thread == LC_THREAD_MAIN)
            continue;
        out->concurrent++;
        for (size_t j = 0; j < n; j++) {
            if (ops[j].thread != LC_THREAD_MAIN && ops[j].thread != ops[i].thread &&
                overlap(&ops[i], &ops[j])) {
                out->overlapping++;
                break;
            }
        }
    }
}

static void report_violation(const lc_adapter *a, const lc_config *cfg, const lc_op *ops,
                             size_t n)
{
    lc_op *copy = xcalloc(n, sizeof *copy);
    memcpy(copy, ops, n * sizeof *ops);
    lc_state initial = 0;
    size_t m = lincheck_minimize(copy, n, &initial);
    fprintf(cfg->report, "lincheck: %s: history not linearizable (%u threads, %u keys, "
            "history seed %" PRIu64 "). Minimal violating sub-history:\n",
            a->name, cfg->threads, cfg->nkeys, cfg->seed);
    lincheck_print(cfg->report, copy, m, initial);
    fprintf(cfg->report, "lincheck: the full history:\n");
    lincheck_print(cfg->report, ops, n, 0);
    free(copy);
}

static void run_workers(run_shared *sh, worker *ws, lc_op *plans, const lc_config *cfg)
{
    for (unsigned t = 0; t < cfg->threads; t++) {
        ws[t] = (worker){.sh = sh, .id = t, .plan = plans + (size_t)t * cfg->ops_per_thread,
                         .n = cfg->ops_per_thread, .pause = cfg->pause,
                         .rng = cfg->seed ^ (0x1234567u * (t + 1))};
        CHECK_EQ(pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]), 0);
    }
    for (unsigned t = 0; t < cfg->threads; t++)
        CHECK_EQ(pthread_join(ws[t].thread, NULL), 0);
}

static void run_sequential(run_shared *sh, const lc_config *cfg)
{
    for (size_t i = 0; i < cfg->nsetup; i++)
        record(sh, LC_THREAD_MAIN, &cfg->setup[i]);
}

static void run_final_loads(run_shared *sh, const lc_config *cfg)
{
    for (unsigned k = 0; cfg->final_loads && k < cfg->nkeys; k++)
        record(sh, LC_THREAD_MAIN, &(lc_op){.kind = LC_LOAD, .key = k});
}

static void check_config(const lc_adapter *a, const lc_config *cfg)
{
    CHECK_MSG(cfg->threads >= 1 && cfg->threads <= LC_MAX_THREADS, "threads %u", cfg->threads);
    CHECK_MSG(cfg->nkeys >= 1 && cfg->nkeys <= LC_MAX_KEYS, "nkeys %u", cfg->nkeys);
    CHECK_MSG(cfg->nvalues >= 1 && cfg->nvalues <= LC_MAX_VALUE + 1, "nvalues %u",
              cfg->nvalues);
    CHECK_MSG(!cfg->final_loads || a->load, "final loads need %s's load", a->name);
}

lc_outcome lincheck_run(const lc_adapter *a, void *obj, const lc_config *cfg)
{
    check_config(a, cfg);
    uint64_t rng = cfg->seed;
    size_t per = cfg->ops_per_thread;
    size_t main_ops = cfg->nsetup + (cfg->final_loads ? cfg->nkeys : 0);
    lc_op *plans = xcalloc((size_t)cfg->threads * per, sizeof *plans);
    plan_ops(a, cfg, &rng, plans, (size_t)cfg->threads * per);

    run_shared sh = {.a = a, .obj = obj, .threads = cfg->threads};
    sh.rec = lincheck_recorder_new(cfg->threads, per > main_ops ? per : main_ops);
    atomic_init(&sh.arrived, 0);
    worker ws[LC_MAX_THREADS];
    run_sequential(&sh, cfg);
    run_workers(&sh, ws, plans, cfg);
    run_final_loads(&sh, cfg);

    lc_outcome out = {0};
    const lc_op *h = lincheck_history(sh.rec, &out.ops);
    count_overlaps(h, out.ops, &out);
    out.verdict = lincheck_check(h, out.ops, 0, &out.stats);
    if (out.verdict == LC_VIOLATION && cfg->report)
        report_violation(a, cfg, h, out.ops);
    lincheck_recorder_free(sh.rec);
    free(plans);
    return out;
}

static const uint64_t real_keys[LC_MAX_KEYS] = {
    0, UINT64_MAX, 1, 0x8000000000000000ull, 42, 0xDEADBEEFull, 1ull << 32, 7,
};

const void *lincheck_key(uint64_t k) { return &real_keys[k]; }
