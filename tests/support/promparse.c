/*
 * promparse.c — the metrics tests' reader of the text exposition format
 * (promparse.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "promparse.h"

#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    CHECK(d != NULL);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Length of the metric or label name at s (0 if none). */
static size_t name_len(const char *s)
{
    size_t n = 0;
    while (name_char(s[n], n == 0))
        n++;
    return n;
}

static long family_index(const prom_doc *d, const char *name)
{
    for (size_t i = 0; i < d->nfam; i++)
        if (strcmp(d->families[i], name) == 0)
            return (long)i;
    return -1;
}

/* The family a sample belongs to: a histogram's _bucket, _sum and _count
 * belong to the histogram. */
static long sample_family(const prom_doc *d, const char *name)
{
    long i = family_index(d, name);
    if (i >= 0)
        return i;
    static const char *const parts[] = {"_bucket", "_sum", "_count"};
    for (int k = 0; k < 3; k++) {
        if (!ends_with(name, parts[k]))
            continue;
        char *base = dup_n(name, strlen(name) - strlen(parts[k]));
        i = family_index(d, base);
        free(base);
        if (i >= 0 && strcmp(d->types[i], "histogram") == 0)
            return i;
    }
    return -1;
}

/* Checks the labels at *p up to '}' and returns them as written. */
static char *parse_labels(const char **p, int line)
{
    const char *s = *p, *start = s;
    while (*s != '}') {
        size_t n = name_len(s);
        CHECK_MSG(n > 0, "line %d: bad label name at '%.20s'", line, s);
        s += n;
        CHECK_MSG(s[0] == '=' && s[1] == '"', "line %d: label without =\"", line);
        s += 2;
        for (; *s != '"'; s++) {
            CHECK_MSG(*s && *s != '\n', "line %d: unterminated label value", line);
            if (*s == '\\') {
                s++;
                CHECK_MSG(*s == '\\' || *s == '"' || *s == 'n', "line %d: bad escape \\%c", line,
                          *s);
            }
        }
        s++;
        if (*s == ',')
            s++;
        else
            CHECK_MSG(*s == '}', "line %d: expected , or } after a label", line);
    }
    *p = s + 1;
    return dup_n(start, (size_t)(s - start));
}

static double parse_value(const char *s, int line)
{
    if (strcmp(s, "+Inf") == 0)
        return INFINITY;
    if (strcmp(s, "-Inf") == 0)
        return -INFINITY;
    if (strcmp(s, "NaN") == 0)
        return NAN;
    char *end;
    double v = strtod(s, &end);
    CHECK_MSG(end != s && *end == '\0', "line %d: bad value '%s'", line, s);
    return v;
}

typedef struct {
    prom_doc *d;
    char *pending_help; /* family of the HELP line just read, awaiting its TYPE */
    long current;       /* family of the samples being read; -1 none */
    bool *finished;     /* per family: its samples have ended */
    size_t cap, famcap;
} parser;

static void add_family(parser *p, const char *name, const char *type, int line)
{
    prom_doc *d = p->d;
    CHECK_MSG(family_index(d, name) < 0, "line %d: a second TYPE for %s", line, name);
    CHECK_MSG(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                  strcmp(type, "histogram") == 0,
              "line %d: type %s", line, type);
    CHECK_MSG(strncmp(name, "gomap_", 6) == 0, "line %d: %s has no gomap_ prefix", line, name);
    if (strcmp(type, "counter") == 0)
        CHECK_MSG(ends_with(name, "_total"), "line %d: counter %s does not end in _total", line,
                  name);
    else
        CHECK_MSG(!ends_with(name, "_total"), "line %d: %s %s ends in _total", line, type, name);
    if (d->nfam == p->famcap) {
        p->famcap = p->famcap ? 2 * p->famcap : 16;
        d->families = realloc(d->families, p->famcap * sizeof *d->families);
        d->types = realloc(d->types, p->famcap * sizeof *d->types);
        p->finished = realloc(p->finished, p->famcap * sizeof *p->finished);
        CHECK(d->families && d->types && p->finished);
    }
    d->families[d->nfam] = dup_n(name, strlen(name));
    d->types[d->nfam] = dup_n(type, strlen(type));
    p->finished[d->nfam] = false;
    d->nfam++;
}

/* "# HELP name text", then at once "# TYPE name type": once per family,
 * before its samples. */
static void comment_line(parser *p, const char *l, int line)
{
    bool help = strncmp(l, "# HELP ", 7) == 0;
    CHECK_MSG(help || strncmp(l, "# TYPE ", 7) == 0, "line %d: unknown comment '%s'", line, l);
    const char *name = l + 7;
    size_t n = name_len(name);
    CHECK_MSG(n > 0 && name[n] == ' ' && name[n + 1], "line %d: '%s'", line, l);
    char *fam = dup_n(name, n);
    CHECK_MSG(family_index(p->d, fam) < 0, "line %d: a second %s line for %s", line,
              help ? "HELP" : "TYPE", fam);
    if (help) {
        CHECK_MSG(!p->pending_help, "line %d: HELP of %s follows a HELP without TYPE", line, fam);
        p->pending_help = fam;
        return;
    }
    CHECK_MSG(p->pending_help && strcmp(p->pending_help, fam) == 0,
              "line %d: TYPE of %s without its HELP just before it", line, fam);
    add_family(p, fam, name + n + 1, line);
    free(p->pending_help);
    p->pending_help = NULL;
    free(fam);
    if (p->current >= 0)
        p->finished[p->current] = true;
    p->current = (long)p->d->nfam - 1;
}

static void sample_line(parser *p, const char *l, int line)
{
    prom_doc *d = p->d;
    size_t n = name_len(l);
    CHECK_MSG(n > 0, "line %d: '%s'", line, l);
    char *name = dup_n(l, n);
    const char *s = l + n;
    char *labels;
    if (*s == '{') {
        s++;
        labels = parse_labels(&s, line);
    } else {
        labels = dup_n("", 0);
    }
    CHECK_MSG(*s == ' ', "line %d: no space before the value", line);
    double v = parse_value(s + 1, line);
    long fam = sample_family(d, name);
    CHECK_MSG(fam >= 0 && !p->pending_help, "line %d: sample %s without its family's TYPE", line,
              name);
    CHECK_MSG(fam == p->current && !p->finished[fam],
              "line %d: sample of %s apart from its family's other lines", line, name);
    if (d->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 256;
        d->samples = realloc(d->samples, p->cap * sizeof *d->samples);
        CHECK(d->samples != NULL);
    }
    d->samples[d->n++] = (prom_sample){name, labels, v};
}

/* The labels of a histogram line other than le: a _bucket line's labels
 * up to its le (a comma before it dropped), a _count line's as they are. */
static size_t series_key_len(const char *labels)
{
    const char *le = strstr(labels, "le=\"");
    size_t n = le ? (size_t)(le - labels) : strlen(labels);
    return n && labels[n - 1] == ',' ? n - 1 : n;
}

/* Each series of a histogram (one set of labels besides le): its buckets
 * are cumulative and end with +Inf, and its _count, which follows them,
 * is that bucket. */
static void check_histograms(const prom_doc *d)
{
    for (size_t f = 0; f < d->nfam; f++) {
        if (strcmp(d->types[f], "histogram") != 0)
            continue;
        size_t len = strlen(d->families[f]);
        const char *key = NULL; /* the series whose buckets are being read */
        size_t key_len = 0;
        double last = -1, inf = -1;
        size_t series = 0;
        for (size_t i = 0; i < d->n; i++) {
            const prom_sample *s = &d->samples[i];
            if (strncmp(s->name, d->families[f], len) != 0)
                continue;
            size_t kl = series_key_len(s->labels);
            if (strcmp(s->name + len, "_bucket") == 0) {
                CHECK_MSG(strstr(s->labels, "le=\"") != NULL, "%s without le", s->name);
                if (!key || kl != key_len || strncmp(key, s->labels, kl) != 0) {
                    CHECK_MSG(!key, "%s{%.*s}: buckets without a _count", s->name, (int)key_len,
                              key);
                    key = s->labels;
                    key_len = kl;
                    last = inf = -1;
                }
                CHECK_MSG(s->value >= last, "%s{%s} not cumulative", s->name, s->labels);
                last = s->value;
                if (strstr(s->labels, "le=\"+Inf\""))
                    inf = s->value;
            } else if (strcmp(s->name + len, "_count") == 0) {
                CHECK_MSG(key && kl == key_len && strncmp(key, s->labels, kl) == 0,
                          "%s{%s} apart from its buckets", s->name, s->labels);
                CHECK_MSG(inf >= 0 && inf == s->value, "%s{%s}: +Inf bucket %g, count %g",
                          d->families[f], s->labels, inf, s->value);
                key = NULL;
                series++;
            }
        }
        CHECK_MSG(series > 0 && !key, "%s: a series without a _count", d->families[f]);
    }
}

prom_doc *prom_parse(const char *text)
{
    prom_doc *d = calloc(1, sizeof *d);
    CHECK(d != NULL);
    parser p = {.d = d, .current = -1};
    int line = 0;
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        CHECK_MSG(nl != NULL, "the last line has no line feed");
        char *cur = dup_n(l, (size_t)(nl - l));
        line++;
        CHECK_MSG(cur[0] != '\0', "line %d is empty", line);
        if (cur[0] == '#')
            comment_line(&p, cur, line);
        else
            sample_line(&p, cur, line);
        free(cur);
        l = nl + 1;
    }
    CHECK_MSG(!p.pending_help, "a HELP with no TYPE at the end");
    for (size_t f = 0; f < d->nfam; f++) {
        bool any = false;
        for (size_t i = 0; i < d->n && !any; i++)
            any = sample_family(d, d->samples[i].name) == (long)f;
        CHECK_MSG(any, "family %s has no samples", d->families[f]);
    }
    check_histograms(d);
    free(p.finished);
    return d;
}

void prom_free(prom_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->samples[i].name);
        free(d->samples[i].labels);
    }
    for (size_t i = 0; i < d->nfam; i++) {
        free(d->families[i]);
        free(d->types[i]);
    }
    free(d->samples);
    free(d->families);
    free(d->types);
    free(d);
}

bool prom_find(const prom_doc *d, const char *name, const char *labels, double *out)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->samples[i].name, name) == 0 && strcmp(d->samples[i].labels, labels) == 0) {
            *out = d->samples[i].value;
            return true;
        }
    return false;
}

double prom_value(const prom_doc *d, const char *name, const char *labels)
{
    double v = 0;
    CHECK_MSG(prom_find(d, name, labels, &v), "no sample %s{%s}", name, labels);
    return v;
}

size_t prom_count(const prom_doc *d, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += strcmp(d->samples[i].name, name) == 0;
    return n;
}

bool prom_has_family(const prom_doc *d, const char *family)
{
    return family_index(d, family) >= 0;
}

void prom_promtool(const char *text)
{
    char path[] = "/tmp/gomap-promtool-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    size_t len = strlen(text);
    CHECK_EQ(write(fd, text, len), (long long)len);
    CHECK_EQ(close(fd), 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    CHECK_MSG(p != NULL, "cannot run promtool");
    char out[4096];
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int rc = pclose(p);
    unlink(path);
    bool ok = rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
    if (!ok)
        fprintf(stderr, "promtool says:\n%s\n", out);
    CHECK_MSG(ok,
              "promtool check metrics failed (exit %d; not installed? "
              "scripts/install-deps.sh test)",
              rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
}
