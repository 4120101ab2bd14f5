/*
 * trace.c — trace readers for gomap-cachesim. LIRS traces are gzip text,
 * one decimal block number a line, where a line `*` is a marker and not an
 * access; cache2k traces are xz, big-endian signed 32-bit integers. Both
 * are decompressed by the system's gzip / xz through popen, so the tool
 * links no compression library. Keys become dense ids through a gomap core
 * map (raw key -> id).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/trace.h"
#include "gomap/map.h"

const trace_info trace_catalog[] = {
    {"2_pools", "lirs/2_pools.trace.gz", TRACE_LIRS, {1000, 2500, 5000, 7500}},
    {"cpp", "lirs/cpp.trace.gz", TRACE_LIRS, {100, 250, 500, 1000}},
    {"cs", "lirs/cs.trace.gz", TRACE_LIRS, {100, 250, 500, 1000}},
    {"gli", "lirs/gli.trace.gz", TRACE_LIRS, {250, 500, 1000, 2000}},
    {"loop", "lirs/loop.trace.gz", TRACE_LIRS, {250, 500, 750, 1000}},
    {"multi1", "lirs/multi1.trace.gz", TRACE_LIRS, {500, 1000, 1500, 2000}},
    {"multi2", "lirs/multi2.trace.gz", TRACE_LIRS, {500, 1000, 2000, 3000}},
    {"multi3", "lirs/multi3.trace.gz", TRACE_LIRS, {500, 1000, 2000, 4000}},
    {"ps", "lirs/ps.trace.gz", TRACE_LIRS, {250, 500, 1000, 2000}},
    {"sprite", "lirs/sprite.trace.gz", TRACE_LIRS, {100, 250, 500, 1000}},
    {"web07", "cache2k/web07.trace.xz", TRACE_CACHE2K, {500, 1000, 2000, 4000}},
    {"web12", "cache2k/web12.trace.xz", TRACE_CACHE2K, {500, 1000, 2000, 4000}},
};
const size_t trace_catalog_len = sizeof trace_catalog / sizeof trace_catalog[0];

typedef struct {
    uint64_t *v;
    size_t len, cap;
} u64_vec;

static int push(u64_vec *a, uint64_t x)
{
    if (a->len == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 4096;
        uint64_t *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->len++] = x;
    return 0;
}

/* One line of a LIRS trace: 1 and *key for an access, 0 for a marker or a
 * blank line, -1 for anything else. */
static int parse_lirs_line(const char *line, uint64_t *key)
{
    while (isspace((unsigned char)*line))
        line++;
    if (*line == '\0' || *line == '*')
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(line, &end, 10);
    if (end == line || errno || !isdigit((unsigned char)*line))
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    *key = v;
    return 1;
}

static int read_lirs(FILE *f, u64_vec *raw)
{
    char line[256];
    while (fgets(line, sizeof line, f)) {
        uint64_t key;
        int r = parse_lirs_line(line, &key);
        if (r < 0 || (r == 1 && push(raw, key)))
            return -1;
    }
    return 0;
}

static int read_cache2k(FILE *f, u64_vec *raw)
{
    unsigned char b[4];
    size_t n;
    while ((n = fread(b, 1, 4, f)) == 4) {
        uint32_t u = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        /* Signed in the file: negative ids are keys like any other. */
        if (push(raw, (uint64_t)(int64_t)(int32_t)u))
            return -1;
    }
    return n == 0 ? 0 : -1;
}

int64_t trace_densify(uint64_t *raw, size_t n, uint32_t *ids)
{
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint32_t), .hint = 1024};
    gomap_t *m;
    if (gomap_new(&m, &o))
        return -1;
    uint32_t next = 0;
    for (size_t i = 0; i < n; i++) {
        const uint32_t *id = gomap_get_u64(m, raw[i]);
        if (id) {
            ids[i] = *id;
        } else {
            if (gomap_set_u64(m, raw[i], &next)) {
                gomap_free(m);
                return -1;
            }
            ids[i] = next++;
        }
    }
    gomap_free(m);
    return next;
}

int trace_load(trace *t, const char *path, trace_format format)
{
    memset(t, 0, sizeof *t);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        fprintf(stderr, "gomap-cachesim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fclose(probe);
    /* The path goes to the shell in single quotes; refuse one that holds a
     * quote rather than escape it. */
    if (strchr(path, '\'')) {
        fprintf(stderr, "gomap-cachesim: %s: a trace path may not contain a quote\n", path);
        return -1;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s '%s'", format == TRACE_LIRS ? "gzip -dc" : "xz -dc", path);
    FILE *f = popen(cmd, "r");
    if (!f) {
        fprintf(stderr, "gomap-cachesim: %s: %s\n", cmd, strerror(errno));
        return -1;
    }
    u64_vec raw = {0};
    int bad = format == TRACE_LIRS ? read_lirs(f, &raw) : read_cache2k(f, &raw);
    int status = pclose(f);
    if (bad || status != 0 || raw.len == 0) {
        fprintf(stderr, "gomap-cachesim: %s: %s\n", path,
                bad ? "malformed trace or out of memory"
                    : status ? "decompression failed" : "empty trace");
        free(raw.v);
        return -1;
    }
    t->keys = malloc(raw.len * sizeof *t->keys);
    int64_t n_keys = t->keys ? trace_densify(raw.v, raw.len, t->keys) : -1;
    free(raw.v);
    if (n_keys < 0) {
        fprintf(stderr, "gomap-cachesim: %s: out of memory\n", path);
        trace_free(t);
        return -1;
    }
    t->len = raw.len;
    t->n_keys = (uint32_t)n_keys;
    return 0;
}

void trace_free(trace *t)
{
    free(t->keys);
    t->keys = NULL;
}
