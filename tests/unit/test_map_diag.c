/*
 * test_map_diag.c — gomap_stats histograms, gomap_dump and gomap_heatmap.
 *
 * Stats: on randomized maps (u64 and string keys, growing or presized, with
 * deletes) the histograms obey the relations diag.h implies (slots_hist sums
 * to buckets + overflow buckets and, when not growing, weighs to the entry
 * count; chain_hist sums to buckets and weighs to the overflow buckets while
 * no chain reaches the last bin), and they agree bin by bin with a census
 * taken independently from the dump's bucket listing, whose live slots
 * (current plus old array) add up to gomap_len. A degenerate custom hash
 * makes chains long enough for the last chain_hist bin.
 *
 * Dump: header figures match gomap_stats; every key of small maps appears
 * rendered by kind (integers, -0 and nan, quoted and escaped strings, long
 * strings shortened, hex bytes); mid-growth dumps show the evacuation
 * markers and never show a deleted key (evacuated slots are not read: under
 * ASan a read of a freed string key would fail the test); NULL arguments
 * give -EINVAL and a read-only stream -EIO.
 *
 * Heatmap: the text title matches the map, every line fits 80 columns
 * (counted in characters), a 100k-entry map is folded with the fold stated
 * and the cells cover every bucket, the compact form used by misuse reports
 * keeps to its rows, overflow marks appear exactly when there are overflow
 * buckets. The SVG form passes `xmllint --noout` and renders with
 * `rsvg-convert` to a non-empty PNG.
 *
 * Setting GOMAP_DIAG_DOCS=DIR also writes DIR/heatmap-100k.txt and
 * DIR/heatmap-100k.png (the pictures in the documentation).
 */
#include "check.h"
#include "ckey.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The compact text heatmap of misuse reports (library-internal). */
void gomap__heatmap_text(const gomap_t *m, FILE *out, unsigned max_rows);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static gomap_t *new_weak_map(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_CUSTOM;
    o.key_size = sizeof(ckey);
    o.val_size = 8;
    o.hash = ckey_hash_weak;
    o.equal = ckey_equal;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    return m;
}

/* What fn writes to a stream, as a NUL-terminated malloc'd string. */
typedef int (*writer_fn)(const gomap_t *m, FILE *out, int arg);

static char *capture(const gomap_t *m, writer_fn fn, int arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    CHECK_EQ(fn(m, f, arg), 0);
    CHECK_EQ(fclose(f), 0);
    CHECK(buf != NULL);
    return buf;
}

static int dump_w(const gomap_t *m, FILE *out, int arg)
{
    (void)arg;
    return gomap_dump(m, out);
}

static int heatmap_w(const gomap_t *m, FILE *out, int format)
{
    return gomap_heatmap(m, out, format);
}

static int compact_w(const gomap_t *m, FILE *out, int rows)
{
    gomap__heatmap_text(m, out, (unsigned)rows);
    return ferror(out) ? -EIO : 0;
}

static char *dump_of(const gomap_t *m) { return capture(m, dump_w, 0); }

/* Characters (UTF-8 code points) in the n bytes at s. */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Calls fn for each line of text (without its newline). */
static void for_lines(const char *text, void (*fn)(const char *line, size_t len, void *ctx),
                      void *ctx)
{
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fn(p, len, ctx);
        p += len + (nl != NULL);
    }
}

static bool starts_with(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

/* A header field "name=<number>" of a dump (name starting a word). */
static size_t dump_field(const char *text, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", name);
    for (const char *p = text; (p = strstr(p, pat)) != NULL; p++)
        if (p == text || p[-1] == ' ' || p[-1] == '\n')
            return (size_t)strtoull(p + strlen(pat), NULL, 10);
    CHECK_MSG(false, "dump has no %s field", pat);
    return 0;
}

/* Occurrences of needle in text. */
static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Removes path and checks it existed. */
static void remove_file(const char *path)
{
    CHECK_MSG(unlink(path) == 0, "cannot remove %s", path);
}

/* A scratch directory for files the external tools read and write. */
static const char *scratch_dir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/gomap-diag-XXXXXX", t && *t ? t : "/tmp");
        CHECK(mkdtemp(dir) != NULL);
    }
    return dir;
}

/* ------------------------------------------------------------------------ */
/* An independent census of the current array, from the dump's listing        */
/* ------------------------------------------------------------------------ */

typedef struct {
    size_t chain_hist[GOMAP_HIST_CHAIN];
    size_t slots_hist[GOMAP_HIST_SLOTS];
    size_t live_current, live_old; /* live slots in the current / old array */
    size_t evac_marks;             /* evacX, evacY, evacEmpty in the old array */
    long chain_ovf;                /* overflow buckets of the chain being read, -1: none */
    bool in_old;
} census;

static void census_close_chain(census *c)
{
    if (c->chain_ovf >= 0)
        c->chain_hist[c->chain_ovf < GOMAP_HIST_CHAIN - 1 ? c->chain_ovf : GOMAP_HIST_CHAIN - 1]++;
    c->chain_ovf = -1;
}

/* Counts one "  tophash: ..." line: two-digit hex tokens are live slots. */
static void census_tophash(census *c, const char *line, size_t len)
{
    unsigned live = 0, tokens = 0;
    const char *p = line + strlen("  tophash:"), *end = line + len;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *t = p;
        while (p < end && *p != ' ')
            p++;
        size_t n = (size_t)(p - t);
        if (!n)
            continue;
        tokens++;
        if (n == 2)
            live++;
        else if (!strncmp(t, "evac", 4))
            c->evac_marks++;
    }
    CHECK_EQ(tokens, 8);
    if (c->in_old) {
        c->live_old += live;
    } else {
        c->slots_hist[live]++;
        c->live_current += live;
    }
}

static void census_line(const char *line, size_t len, void *ctx)
{
    census *c = ctx;
    if (starts_with(line, len, "old array:") || starts_with(line, len, "old bucket ")) {
        census_close_chain(c);
        c->in_old = true;
    } else if (starts_with(line, len, "bucket ")) {
        const char *ovf = memmem(line, len, " overflow ", strlen(" overflow "));
        if (ovf) {
            c->chain_ovf = strtol(ovf + strlen(" overflow "), NULL, 10);
        } else {
            census_close_chain(c);
            c->chain_ovf = 0;
            if (len > 7 && !memcmp(line + len - 7, ": empty", 7))
                c->slots_hist[0]++;
        }
    } else if (starts_with(line, len, "  tophash:")) {
        census_tophash(c, line, len);
    }
}

static census census_of(const gomap_t *m)
{
    census c;
    memset(&c, 0, sizeof c);
    c.chain_ovf = -1;
    char *text = dump_of(m);
    for_lines(text, census_line, &c);
    census_close_chain(&c);
    free(text);
    return c;
}

/* The relations between the histograms and the other stats, and agreement
 * with the census of the dump and with the validator. */
static void check_histograms(const gomap_t *m)
{
    CHECK_VALID(m);
    gomap_stats_t s = check_map_stats(m);
    size_t nbuckets = 0, live = 0, chains = 0, weighed_ovf = 0;
    for (size_t i = 0; i < GOMAP_HIST_SLOTS; i++) {
        nbuckets += s.slots_hist[i];
        live += i * s.slots_hist[i];
    }
    for (size_t i = 0; i < GOMAP_HIST_CHAIN; i++) {
        chains += s.chain_hist[i];
        weighed_ovf += i * s.chain_hist[i];
    }
    CHECK_EQ(nbuckets, s.buckets + s.overflow_buckets);
    CHECK_EQ(chains, s.buckets);
    if (s.growing)
        CHECK(live <= s.entries);
    else
        CHECK_EQ(live, s.entries);
    if (s.chain_hist[GOMAP_HIST_CHAIN - 1] == 0)
        CHECK_EQ(weighed_ovf, s.overflow_buckets);
    else
        CHECK(weighed_ovf <= s.overflow_buckets);

    census c = census_of(m);
    for (size_t i = 0; i < GOMAP_HIST_SLOTS; i++)
        CHECK_MSG(c.slots_hist[i] == s.slots_hist[i], "slots_hist[%zu]: stats %zu, dump %zu",
                  i, s.slots_hist[i], c.slots_hist[i]);
    for (size_t i = 0; i < GOMAP_HIST_CHAIN; i++)
        CHECK_MSG(c.chain_hist[i] == s.chain_hist[i], "chain_hist[%zu]: stats %zu, dump %zu",
                  i, s.chain_hist[i], c.chain_hist[i]);
    CHECK_EQ(c.live_current, live);
    CHECK_EQ(c.live_current + c.live_old, gomap_len(m));
}

/* ------------------------------------------------------------------------ */
/* Stats                                                                     */
/* ------------------------------------------------------------------------ */

/* The string key number idx: distinct for distinct idx, 2 to 44 bytes, some
 * with bytes outside printable ASCII. */
static gomap_str str_key(uint32_t idx, char buf[64])
{
    int n = snprintf(buf, 64, "s%u-", idx);
    size_t extra = idx % 41;
    for (size_t i = 0; i < extra; i++)
        buf[n + i] = idx % 3 == 0 && i % 5 == 1 ? (char)(1 + i % 31) : (char)('a' + (idx + i) % 26);
    return (gomap_str){buf, (size_t)n + extra};
}

static void test_stats_randomized(void)
{
    uint64_t rng = test_seed() ^ 0x57a75;
    static const struct {
        gomap_key_kind kind;
        size_t hint;
    } cfgs[] = {{GOMAP_KEY_U64, 0}, {GOMAP_KEY_U64, 4000}, {GOMAP_KEY_STR, 0}, {GOMAP_KEY_STR, 4000}};
    for (size_t ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++) {
        gomap_t *m = check_map_new(cfgs[ci].kind, 0, 8, cfgs[ci].hint);
        check_histograms(m); /* empty: all bins zero */
        bool saw_growing = false, saw_overflow = false;
        uint32_t space = 3000 / WORK_DIV;
        for (unsigned step = 0; step < 4000 / WORK_DIV; step++) {
            uint32_t k = (uint32_t)test_rand_below(&rng, space);
            char buf[64];
            gomap_str sk = str_key(k, buf);
            uint64_t uk = k;
            const void *key = cfgs[ci].kind == GOMAP_KEY_STR ? (const void *)&sk : (const void *)&uk;
            /* Inserts dominate early, deletes catch up later. */
            if (test_rand_below(&rng, 10) < (step < 2000 / WORK_DIV ? 8u : 4u))
                CHECK_EQ(gomap_set(m, key, &uk), 0);
            else
                gomap_delete(m, key);
            gomap_stats_t s = check_map_stats(m);
            saw_growing |= s.growing;
            saw_overflow |= s.overflow_buckets > 0;
            /* Each check walks the whole map twice: often, not always. */
            if (step % 16 == 0 || (s.growing && step % 4 == 0))
                check_histograms(m);
        }
        check_histograms(m);
        if (!cfgs[ci].hint)
            CHECK(saw_growing && saw_overflow);
        gomap_free(m);
    }
}

/* A degenerate hash (four values) piles keys into a few long chains. With
 * few keys every chain stays under 8 overflow buckets and chain_hist weighs
 * exactly to the overflow count; with many, the last bin fills. */
static void test_stats_long_chains(void)
{
    static const size_t sizes[] = {20, 40, 300};
    for (size_t si = 0; si < 3; si++) {
        gomap_t *m = new_weak_map();
        for (uint32_t i = 0; i < sizes[si]; i++) {
            ckey k = {i, i * 7u, i};
            uint64_t v = i;
            CHECK_EQ(gomap_set(m, &k, &v), 0);
            check_histograms(m);
        }
        /* Overwrites move the growth along without starting another. */
        for (uint32_t i = 0; check_map_stats(m).growing; i = (i + 1) % (uint32_t)sizes[si]) {
            ckey k = {i, i * 7u, 99};
            uint64_t v = i;
            CHECK_EQ(gomap_set(m, &k, &v), 0);
        }
        check_histograms(m);
        gomap_stats_t s = check_map_stats(m);
        CHECK_EQ(s.entries, sizes[si]);
        size_t longest_possible = (sizes[si] + 7) / 8; /* one chain holds them all */
        if (longest_possible <= 8) {
            CHECK_EQ(s.chain_hist[GOMAP_HIST_CHAIN - 1], 0);
        } else {
            /* Four hash values for 300 keys: some chain holds 75 or more,
             * that is at least 9 overflow buckets. */
            CHECK(s.chain_hist[GOMAP_HIST_CHAIN - 1] >= 1);
            CHECK(s.chain_hist[GOMAP_HIST_CHAIN - 1] <= 4);
        }
        gomap_free(m);
    }
}

/* ------------------------------------------------------------------------ */
/* Dump                                                                      */
/* ------------------------------------------------------------------------ */

static void check_dump_header(const gomap_t *m, const char *text)
{
    gomap_stats_t s = check_map_stats(m);
    CHECK_EQ(dump_field(text, "count"), s.entries);
    CHECK_EQ(dump_field(text, "B"), s.b);
    CHECK_EQ(dump_field(text, "buckets"), s.buckets);
    CHECK_EQ(dump_field(text, "overflow"), s.overflow_buckets);
    CHECK_EQ(dump_field(text, "bytes_held"), s.bytes_held);
    CHECK(strstr(text, "flags=0x") != NULL);
    if (s.growing) {
        CHECK_EQ(dump_field(text, "oldbuckets"), s.old_buckets);
        CHECK(dump_field(text, "nevacuate") <= s.old_buckets);
        CHECK(strstr(text, s.same_size_grow ? "growing=same-size" : "growing=doubling"));
    } else {
        CHECK(strstr(text, "growing=no") != NULL);
    }
    CHECK(strstr(text, "seed") == NULL);
}

/* The dump contains "key=<rendered>" followed by a space or a newline. */
static void check_has_key(const char *text, const char *rendered)
{
    char pat[256];
    snprintf(pat, sizeof pat, "key=%.250s", rendered);
    for (const char *p = text; (p = strstr(p, pat)) != NULL; p++) {
        char next = p[strlen(pat)];
        if (next == ' ' || next == '\n')
            return;
    }
    CHECK_MSG(false, "dump lacks %s", pat);
}

/* A string key as the dump shows it (short keys only): double-quoted, with
 * \" \\ \t \n \r and \xNN escapes. Written to out (200 bytes). */
static const char *quoted(gomap_str k, char *out)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < k.len && o < 190; i++) {
        unsigned char c = (unsigned char)k.ptr[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\t' ? "\\t"
                        : c == '\n' ? "\\n" : c == '\r' ? "\\r" : NULL;
        if (esc)
            o += (size_t)sprintf(out + o, "%s", esc);
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)sprintf(out + o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static void test_dump_integers(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, 8, 0);
    for (uint64_t k = 0; k < 40; k++) {
        uint64_t key = k * 1000003u + (k == 39 ? UINT64_MAX - 39 * 1000003u : 0);
        uint64_t v = 0x0102030405060708ull;
        CHECK_EQ(gomap_set(m, &key, &v), 0);
    }
    char *text = dump_of(m);
    check_dump_header(m, text);
    for (uint64_t k = 0; k < 40; k++) {
        char r[32];
        snprintf(r, sizeof r, "%" PRIu64, k * 1000003u + (k == 39 ? UINT64_MAX - 39 * 1000003u : 0));
        check_has_key(text, r);
    }
    CHECK(strstr(text, "val=0807060504030201") != NULL);
    CHECK(strstr(text, "current array: ") != NULL);
    free(text);
    gomap_free(m);

    m = check_map_new(GOMAP_KEY_U32, 0, 0, 0);
    uint32_t keys[] = {0, 7, 4000000000u};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(gomap_set(m, &keys[i], NULL), 0);
    text = dump_of(m);
    check_has_key(text, "0");
    check_has_key(text, "7");
    check_has_key(text, "4000000000");
    CHECK(strstr(text, "val=") == NULL); /* a set has no values */
    free(text);
    gomap_free(m);
}

static void test_dump_floats(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_F64, 0, 8, 0);
    double keys[] = {-0.0, NAN, 1.5, 0.1, 1e300, -2.5, INFINITY, 123456789.0};
    const char *want[] = {"-0", "nan", "1.5", "0.1", "1e+300", "-2.5", "inf", "123456789"};
    for (int i = 0; i < 8; i++) {
        uint64_t v = (uint64_t)i;
        CHECK_EQ(gomap_set(m, &keys[i], &v), 0);
    }
    char *text = dump_of(m);
    check_dump_header(m, text);
    for (int i = 0; i < 8; i++)
        check_has_key(text, want[i]);
    free(text);
    gomap_free(m);
}

static void test_dump_strings_and_bytes(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_STR, 0, 200, 0);
    char longkey[300];
    memset(longkey, 'x', sizeof longkey);
    gomap_str keys[] = {{"plain", 5}, {"say \"hi\"\\", 9}, {"tab\tnl\n\x01\xff", 9},
                        {NULL, 0}, {longkey, sizeof longkey}};
    unsigned char val[200];
    for (int i = 0; i < 200; i++)
        val[i] = (unsigned char)i;
    for (int i = 0; i < 5; i++)
        CHECK_EQ(gomap_set(m, &keys[i], val), 0);
    char *text = dump_of(m);
    check_dump_header(m, text);
    check_has_key(text, "\"plain\"");
    check_has_key(text, "\"say \\\"hi\\\"\\\\\"");
    check_has_key(text, "\"tab\\tnl\\n\\x01\\xff\"");
    check_has_key(text, "\"\"");
    /* The long key is shortened and its length given. */
    CHECK(strstr(text, "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"... (300 bytes)") != NULL);
    char run[50];
    memset(run, 'x', 49);
    run[49] = '\0';
    CHECK(strstr(text, run) == NULL); /* not printed whole */
    /* 200-byte values: hex, shortened. */
    CHECK(strstr(text, "val=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f... (200 bytes)"));
    free(text);
    gomap_free(m);

    m = check_map_new(GOMAP_KEY_BYTES, 4, 8, 0);
    unsigned char bk[4] = {0xde, 0xad, 0xbe, 0xef};
    uint64_t v = 1;
    CHECK_EQ(gomap_set(m, bk, &v), 0);
    text = dump_of(m);
    check_has_key(text, "deadbeef");
    CHECK(strstr(text, "bytes keys of 4 bytes") != NULL);
    free(text);
    gomap_free(m);

    m = check_map_new(GOMAP_KEY_BYTES, 200, 8, 0); /* keys stored out of line */
    unsigned char big[200];
    memset(big, 0xab, sizeof big);
    CHECK_EQ(gomap_set(m, big, &v), 0);
    text = dump_of(m);
    check_has_key(text, "abababababababababababababababababababababababababababababababab"
                        "... (200 bytes)");
    free(text);
    gomap_free(m);
}

/* Mid-growth: the old array is listed with its evacuation markers, the
 * header tells the growth state, and keys deleted during the growth appear
 * nowhere although stale copies of them sit in evacuated old slots (whose
 * string bytes were freed by the delete: reading them is a use after free). */
static void test_dump_mid_growth(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_STR, 0, 8, 0);
    char buf[64 + 200];
    uint32_t n = 0;
    while (n < 300 || !check_map_stats(m).growing) {
        gomap_str k = str_key(n, buf);
        uint64_t v = n++;
        CHECK_EQ(gomap_set(m, &k, &v), 0);
    }
    /* A few more writes evacuate some old buckets but not all. */
    for (uint32_t i = 0; i < 3; i++) {
        gomap_str k = str_key(n, buf);
        uint64_t v = n++;
        CHECK_EQ(gomap_set(m, &k, &v), 0);
    }
    /* Delete keys inserted early, while the growth goes on. */
    uint32_t deleted = 0;
    for (uint32_t i = 0; i < n && check_map_stats(m).growing && deleted < 20; i += 3, deleted++) {
        gomap_str k = str_key(i, buf);
        CHECK(gomap_delete(m, &k));
    }
    gomap_stats_t s = check_map_stats(m);
    CHECK(s.growing);
    CHECK(s.evacuated > 0 && s.evacuated < s.old_buckets);
    check_histograms(m);

    char *text = dump_of(m);
    check_dump_header(m, text);
    CHECK(strstr(text, "old array: ") != NULL);
    CHECK(strstr(text, "old bucket ") != NULL);
    CHECK(strstr(text, " evacX") != NULL || strstr(text, " evacY") != NULL);
    census c = census_of(m);
    CHECK(c.evac_marks >= 8 * s.evacuated);
    /* Every key present is listed once, every deleted one nowhere. */
    for (uint32_t i = 0; i < n; i++) {
        gomap_str k = str_key(i, buf);
        char pat[300];
        snprintf(pat, sizeof pat, "key=%s ", quoted(k, buf + 64));
        size_t times = count_of(text, pat);
        bool gone = i % 3 == 0 && i / 3 < deleted;
        CHECK_MSG(times == !gone, "key %s listed %zu times%s", pat, times,
                  gone ? " after its delete" : "");
    }
    free(text);
    gomap_free(m);
}

static void test_dump_errors(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, 8, 0);
    uint64_t k = 1;
    CHECK_EQ(gomap_set(m, &k, &k), 0);
    CHECK_EQ(gomap_dump(NULL, stdout), -EINVAL);
    CHECK_EQ(gomap_dump(m, NULL), -EINVAL);
    CHECK_EQ(gomap_heatmap(NULL, stdout, GOMAP_HEATMAP_TEXT), -EINVAL);
    CHECK_EQ(gomap_heatmap(m, NULL, GOMAP_HEATMAP_TEXT), -EINVAL);
    CHECK_EQ(gomap_heatmap(m, stdout, 2), -EINVAL);
    CHECK_EQ(gomap_heatmap(m, stdout, -1), -EINVAL);

    char path[300];
    snprintf(path, sizeof path, "%s/readonly.txt", scratch_dir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fclose(f);
    static const int formats[] = {-1, GOMAP_HEATMAP_TEXT, GOMAP_HEATMAP_SVG};
    for (int i = 0; i < 3; i++) {
        f = fopen(path, "r");
        CHECK(f != NULL);
        int rc = formats[i] < 0 ? gomap_dump(m, f) : gomap_heatmap(m, f, formats[i]);
        CHECK_MSG(rc == -EIO, "format %d on a read-only stream: %d", formats[i], rc);
        fclose(f);
    }
    remove_file(path);

    /* A map without a bucket array yet. */
    gomap_t *e = check_map_new(GOMAP_KEY_U64, 0, 8, 0);
    char *text = dump_of(e);
    check_dump_header(e, text);
    free(text);
    gomap_free(e);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Text heatmap                                                              */
/* ------------------------------------------------------------------------ */

typedef struct {
    size_t entries, buckets, fold;
    double load;
    bool have_title;
    size_t lines, rows, cells, max_cols, marker_rows;
    bool labels_ok;
} heat_text;

static const char BAR[] = "\u2502";

static void heat_line(const char *line, size_t len, void *ctx)
{
    heat_text *h = ctx;
    h->lines++;
    size_t cols = utf8_chars(line, len);
    if (cols > h->max_cols)
        h->max_cols = cols;
    if (starts_with(line, len, "heatmap: ")) {
        CHECK_EQ(sscanf(line, "heatmap: %zu entries, %zu buckets, %zu bucket", &h->entries,
                        &h->buckets, &h->fold), 3);
        const char *lf = memmem(line, len, "load factor ", strlen("load factor "));
        CHECK(lf != NULL);
        h->load = strtod(lf + strlen("load factor "), NULL);
        h->have_title = true;
        return;
    }
    const char *first = memmem(line, len, BAR, strlen(BAR));
    if (first) {
        /* A row: label, bar, one character per cell, bar. */
        const char *last = line + len - strlen(BAR);
        CHECK(last > first && !memcmp(last, BAR, strlen(BAR)));
        size_t label = (size_t)strtoull(line, NULL, 10);
        h->labels_ok &= label == h->cells * h->fold;
        h->cells += utf8_chars(first + strlen(BAR), (size_t)(last - first) - strlen(BAR));
        h->rows++;
        return;
    }
    /* An overflow-mark line: blanks, '.' and '^' only. */
    bool only_marks = len > 0, mark = false;
    for (size_t i = 0; i < len; i++) {
        only_marks &= line[i] == ' ' || line[i] == '^' || line[i] == '.';
        mark |= line[i] != ' ';
    }
    if (only_marks && mark)
        h->marker_rows++;
}

static heat_text parse_heat(const char *text)
{
    heat_text h;
    memset(&h, 0, sizeof h);
    h.labels_ok = true;
    for_lines(text, heat_line, &h);
    CHECK(h.have_title);
    CHECK(h.labels_ok);
    CHECK_MSG(h.max_cols <= 80, "a heatmap line has %zu characters", h.max_cols);
    return h;
}

/* The title agrees with the map and the cells cover every bucket once. */
static heat_text check_heat_text(const gomap_t *m, const char *text, size_t max_rows)
{
    gomap_stats_t s = check_map_stats(m);
    heat_text h = parse_heat(text);
    CHECK_EQ(h.entries, s.entries);
    CHECK_EQ(h.buckets, s.buckets);
    CHECK(fabs(h.load - s.load_factor) < 0.006);
    CHECK(h.fold >= 1);
    CHECK(h.rows <= max_rows);
    CHECK(h.cells * h.fold >= s.buckets);
    if (s.buckets)
        CHECK((h.cells - 1) * h.fold < s.buckets);
    CHECK(strstr(text, "\u2591") != NULL || s.entries == 0); /* the legend at least */
    CHECK_EQ(strstr(text, "growing") != NULL, s.growing);
    return h;
}

static void test_heatmap_text_small(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, 8, 0);
    char *text = capture(m, heatmap_w, GOMAP_HEATMAP_TEXT); /* no array yet */
    check_heat_text(m, text, 16);
    free(text);
    for (uint64_t k = 0; k < 100; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    text = capture(m, heatmap_w, GOMAP_HEATMAP_TEXT);
    heat_text h = check_heat_text(m, text, 16);
    CHECK_EQ(h.fold, 1);
    CHECK_EQ(h.cells, check_map_stats(m).buckets);
    free(text);

    /* Mid-growth: the title says so. */
    uint64_t k = 100;
    while (!check_map_stats(m).growing) {
        CHECK_EQ(gomap_set(m, &k, &k), 0);
        k++;
    }
    text = capture(m, heatmap_w, GOMAP_HEATMAP_TEXT);
    check_heat_text(m, text, 16);
    free(text);
    gomap_free(m);
}

static gomap_t *map_100k(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, 8, 0);
    for (uint64_t k = 0; k < 100000; k++)
        CHECK_EQ(gomap_set_u64(m, k, &k), 0);
    return m;
}

static void test_heatmap_text_folded(void)
{
    gomap_t *m = map_100k();
    gomap_stats_t s = check_map_stats(m);
    char *text = capture(m, heatmap_w, GOMAP_HEATMAP_TEXT);
    heat_text h = check_heat_text(m, text, 16);
    CHECK(h.fold > 1);
    CHECK(h.rows > 1);
    free(text);

    /* The compact form of misuse reports: at most 4 rows, still covering. */
    for (int rows = 1; rows <= 4; rows++) {
        text = capture(m, compact_w, rows);
        h = check_heat_text(m, text, (size_t)rows);
        CHECK(h.fold * 64 * (size_t)rows >= s.buckets);
        free(text);
    }
    gomap_free(m);
}

static void test_heatmap_overflow_marks(void)
{
    /* Degenerate hash: overflow chains, marked. */
    gomap_t *m = new_weak_map();
    for (uint32_t i = 0; i < 200; i++) {
        ckey k = {i, i, 0};
        uint64_t v = i;
        CHECK_EQ(gomap_set(m, &k, &v), 0);
    }
    CHECK(check_map_stats(m).overflow_buckets > 0);
    char *text = capture(m, heatmap_w, GOMAP_HEATMAP_TEXT);
    heat_text h = check_heat_text(m, text, 16);
    CHECK(h.marker_rows > 0);
    free(text);
    gomap_free(m);

    /* Sparse: no overflow, no mark. */
    m = check_map_new(GOMAP_KEY_U64, 0, 8, 10000);
    for (uint64_t k = 0; k < 100; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    CHECK_EQ(check_map_stats(m).overflow_buckets, 0);
    text = capture(m, heatmap_w, GOMAP_HEATMAP_TEXT);
    h = check_heat_text(m, text, 16);
    CHECK_EQ(h.marker_rows, 0);
    CHECK(h.fold > 1); /* 2048 buckets in 1024 cells */
    free(text);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* SVG heatmap                                                               */
/* ------------------------------------------------------------------------ */

static void run_tool(const char *cmd)
{
    int rc = system(cmd);
    CHECK_MSG(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "`%s` failed (status %d)", cmd,
              rc);
}

static size_t file_size(const char *path)
{
    struct stat st;
    CHECK_MSG(stat(path, &st) == 0, "no file %s", path);
    return (size_t)st.st_size;
}

/* Writes the SVG heatmap of m to a file, checks it with xmllint and renders
 * it with rsvg-convert to png_path (at twice the size, for sharp pictures
 * in the documentation) or to a scratch file when png_path is NULL. Returns
 * the SVG text. */
static char *check_svg(const gomap_t *m, const char *png_path)
{
    char svg[300], png[300], cmd[1000];
    snprintf(svg, sizeof svg, "%s/heatmap.svg", scratch_dir());
    snprintf(png, sizeof png, "%s", png_path ? png_path : "");
    if (!png_path)
        snprintf(png, sizeof png, "%s/heatmap.png", scratch_dir());
    FILE *f = fopen(svg, "w");
    CHECK(f != NULL);
    CHECK_EQ(gomap_heatmap(m, f, GOMAP_HEATMAP_SVG), 0);
    CHECK_EQ(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", svg);
    run_tool(cmd);
    snprintf(cmd, sizeof cmd, "rsvg-convert %s-o '%s' '%s'", png_path ? "-z 2 " : "", png, svg);
    run_tool(cmd);
    CHECK(file_size(png) > 0);
    char *text = capture(m, heatmap_w, GOMAP_HEATMAP_SVG);
    remove_file(svg);
    if (!png_path)
        remove_file(png);

    gomap_stats_t s = check_map_stats(m);
    CHECK(strstr(text, "<svg") != NULL && strstr(text, "<title>") != NULL);
    char want[128];
    snprintf(want, sizeof want, "%zu entries, %zu buckets", s.entries, s.buckets);
    CHECK_MSG(strstr(text, want) != NULL, "SVG title lacks \"%s\"", want);
    CHECK(strstr(text, "each cell: ") != NULL);
    CHECK(strstr(text, "overflow") != NULL);    /* the legend names the mark */
    CHECK_EQ(strstr(text, "growing") != NULL, s.growing);
    return text;
}

static void test_heatmap_svg(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, 8, 0);
    free(check_svg(m, NULL)); /* no array */
    for (uint64_t k = 0; k < 1000; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    char *text = check_svg(m, NULL);
    /* One rect per bucket (fold 1), plus the background, the grid's
     * backdrop and nine legend swatches. */
    CHECK(strstr(text, "each cell: 1 bucket ") != NULL);
    CHECK_EQ(count_of(text, "<rect "), check_map_stats(m).buckets + 2 + 9);
    free(text);
    uint64_t k = 1000;
    while (!check_map_stats(m).growing) {
        CHECK_EQ(gomap_set(m, &k, &k), 0);
        k++;
    }
    free(check_svg(m, NULL));
    gomap_free(m);

    /* Overflow marks: dots in cells besides the legend's one, or none. */
    m = new_weak_map();
    for (uint32_t i = 0; i < 200; i++) {
        ckey ck = {i, i, 0};
        uint64_t v = i;
        CHECK_EQ(gomap_set(m, &ck, &v), 0);
    }
    text = check_svg(m, NULL);
    CHECK(count_of(text, "<circle ") > 1);
    free(text);
    gomap_free(m);
    m = check_map_new(GOMAP_KEY_U64, 0, 8, 10000);
    for (k = 0; k < 100; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    text = check_svg(m, NULL);
    CHECK_EQ(count_of(text, "<circle "), 1);
    free(text);
    gomap_free(m);
}

/* The 100k-entry map as SVG; with GOMAP_DIAG_DOCS set, also the pictures
 * of the documentation (text and PNG). */
static void test_heatmap_100k(void)
{
    gomap_t *m = map_100k();
    const char *docs = getenv("GOMAP_DIAG_DOCS");
    char png[300];
    if (docs && *docs)
        snprintf(png, sizeof png, "%s/heatmap-100k.png", docs);
    char *text = check_svg(m, docs && *docs ? png : NULL);
    CHECK(count_of(text, "<rect ") > 1000);
    free(text);
    if (docs && *docs) {
        char path[300];
        snprintf(path, sizeof path, "%s/heatmap-100k.txt", docs);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        CHECK_EQ(gomap_heatmap(m, f, GOMAP_HEATMAP_TEXT), 0);
        CHECK_EQ(fclose(f), 0);
        printf("wrote %s and %s\n", png, path);
    }
    gomap_free(m);
}

int main(void)
{
    test_seed();
    RUN(test_stats_randomized);
    RUN(test_stats_long_chains);
    RUN(test_dump_integers);
    RUN(test_dump_floats);
    RUN(test_dump_strings_and_bytes);
    RUN(test_dump_mid_growth);
    RUN(test_dump_errors);
    RUN(test_heatmap_text_small);
    RUN(test_heatmap_text_folded);
    RUN(test_heatmap_overflow_marks);
    RUN(test_heatmap_svg);
    RUN(test_heatmap_100k);
    rmdir(scratch_dir());
    return 0;
}
