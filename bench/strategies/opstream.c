/*
 * opstream.c — generating the strategies matrix's operation streams,
 * Zipf ranks included, and writing them for the Go peer (opstream.h).
 */
#include "strategies/opstream.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/keystream.h"

/* The ks_key streams a stream draws from, past keystream.h's four. */
enum { OPS_STREAM_KIND = 4, OPS_STREAM_RANK = 5, OPS_STREAM_FRESH = 6 };

/* ---- ranks -------------------------------------------------------------------- */

/* Ranks 0..n-1, uniform or Zipf(theta): rank r with probability
 * proportional to 1/(r+1)^theta, by the method of Gray et al., "Quickly
 * generating billion-record synthetic databases" (SIGMOD 1994), as YCSB's
 * ZipfianGenerator does. O(n) to set up (zeta(n)), O(1) per rank. */
typedef struct {
    op_dist dist;
    uint64_t n;
    double theta, alpha, zetan, eta, half_pow;
} rank_gen;

static double zeta(uint64_t n, double theta)
{
    double sum = 0;
    for (uint64_t i = 1; i <= n; i++)
        sum += 1.0 / pow((double)i, theta);
    return sum;
}

static void rank_init(rank_gen *g, op_dist dist, uint64_t n)
{
    memset(g, 0, sizeof *g);
    g->dist = dist;
    g->n = n;
    if (dist != DIST_ZIPF || n < 2)
        return;
    g->theta = OPS_ZIPF_THETA;
    g->alpha = 1.0 / (1.0 - g->theta);
    g->zetan = zeta(n, g->theta);
    g->eta = (1.0 - pow(2.0 / (double)n, 1.0 - g->theta)) /
             (1.0 - zeta(2, g->theta) / g->zetan);
    g->half_pow = 1.0 + pow(0.5, g->theta);
}

/* The rank for the 64 random bits r. */
static uint64_t rank_next(const rank_gen *g, uint64_t r)
{
    if (g->dist != DIST_ZIPF || g->n < 2)
        return (uint64_t)(((unsigned __int128)r * g->n) >> 64);
    double u = (double)(r >> 11) * 0x1p-53, uz = u * g->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < g->half_pow)
        return 1;
    uint64_t k = (uint64_t)((double)g->n * pow(g->eta * u - g->eta + 1.0, g->alpha));
    return k < g->n ? k : g->n - 1;
}

/* ---- streams ------------------------------------------------------------------ */

static op_code pick_op(const op_mix *mix, unsigned pct)
{
    if (pct < mix->get)
        return OP_GET;
    pct -= mix->get;
    if (pct < mix->set)
        return OP_SET;
    pct -= mix->set;
    return pct < mix->del ? OP_DELETE : OP_UPDATE;
}

int opstream_make(op_stream *s, const op_mix *mix, op_dist dist, uint64_t n, uint64_t nops,
                  uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->op = malloc(nops ? nops : 1);
    s->key = malloc((nops ? nops : 1) * sizeof *s->key);
    if (!s->op || !s->key) {
        opstream_free(s);
        return -ENOMEM;
    }
    s->nops = nops;
    s->prefill = mix->grow ? 0 : n;
    s->seed = seed;
    rank_gen g;
    rank_init(&g, dist, n);
    uint64_t inserted = 0; /* grow: the fresh keys so far are STREAM_SET 0..inserted-1 */
    for (uint64_t j = 0; j < nops; j++) {
        op_code op = pick_op(mix, (unsigned)(ks_key(seed, OPS_STREAM_KIND, j) % 100));
        uint64_t r = rank_next(&g, ks_key(seed, OPS_STREAM_RANK, j)), index = r;
        if (mix->grow && op == OP_SET)
            index = inserted++;
        else if (op == OP_SET && mix->fresh &&
                 ks_key(seed, OPS_STREAM_FRESH, j) % 100 < mix->fresh) {
            s->op[j] = (uint8_t)op;
            s->key[j] = ks_key(seed, STREAM_MISS, j);
            continue;
        }
        else if (mix->grow && inserted > 0)
            index = inserted - 1 - r % inserted;
        s->op[j] = (uint8_t)op;
        s->key[j] = ks_key(seed, STREAM_SET, index);
    }
    return 0;
}

void opstream_free(op_stream *s)
{
    free(s->op);
    free(s->key);
    memset(s, 0, sizeof *s);
}

int opstream_set_get_copy(op_stream *out, const op_stream *s, unsigned threads)
{
    uint64_t slice = s->nops / (threads ? threads : 1);
    memset(out, 0, sizeof *out);
    out->op = malloc(s->nops ? s->nops : 1);
    out->key = malloc((s->nops ? s->nops : 1) * sizeof *out->key);
    if (!out->op || !out->key) {
        opstream_free(out);
        return -ENOMEM;
    }
    out->nops = s->nops;
    out->prefill = s->prefill;
    out->seed = s->seed;
    memset(out->op, OP_SET_GET, s->nops);
    for (uint64_t j = 0; j < s->nops; j++) {
        uint64_t t = slice ? j / slice : 0;
        out->key[j] = t == 0 ? s->key[j] : ks_mix(s->key[j] + t);
    }
    return 0;
}

/* ---- the file for the Go peer --------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Writes the keys little-endian whatever the host's byte order, a block at
 * a time. */
static bool write_keys(FILE *f, const uint64_t *key, uint64_t n)
{
    unsigned char buf[8 * 4096];
    for (uint64_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < 4096 && i < n; k++, i++)
            put_u64(buf + 8 * k, key[i]);
        if (fwrite(buf, 8, k, f) != k)
            return false;
    }
    return true;
}

int opstream_write_temp(const op_stream *s, char *path, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, len, "%s/gomap-bench-ops-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        path[0] = 0;
        return -errno;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(path);
        path[0] = 0;
        return -e;
    }
    unsigned char head[48] = "GOMAPOPS", pad[8] = {0};
    put_u32(head + 8, 1);
    put_u32(head + 12, sizeof head);
    put_u64(head + 16, s->nops);
    put_u64(head + 24, s->prefill);
    put_u64(head + 32, s->seed);
    bool ok = fwrite(head, sizeof head, 1, f) == 1 &&
              fwrite(s->op, 1, s->nops, f) == s->nops &&
              fwrite(pad, 1, (8 - s->nops % 8) % 8, f) == (8 - s->nops % 8) % 8 &&
              write_keys(f, s->key, s->nops);
    if (fclose(f) != 0 || !ok) {
        unlink(path);
        path[0] = 0;
        return -EIO;
    }
    return 0;
}

/* ---- the cap for maps whose writes copy ------------------------------------------ */

uint64_t opstream_copy_prefix(const op_stream *s, bool grow, unsigned threads, double budget)
{
    double work = 0;
    uint64_t size = s->prefill, slice = s->nops / threads;
    for (uint64_t i = 0; i < slice; i++)
        for (unsigned t = 0; t < threads; t++) {
            uint8_t op = s->op[t * slice + i];
            if (op == OP_GET)
                continue;
            work += (double)size;
            if (work > budget)
                return i > 0 ? i : 1;
            size += grow && op == OP_SET;
        }
    return slice;
}
