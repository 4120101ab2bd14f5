/*
 * promparse.h — a strict reader of the Prometheus text exposition format
 * 0.0.4 as gomap writes it, for the metrics tests (tests/metrics/).
 *
 * prom_parse fails the test (CHECK) unless every line is a "# HELP", a
 * "# TYPE" or a sample; every family has exactly one HELP and one TYPE,
 * both before its samples; a family's samples are contiguous; every name
 * starts with gomap_; counter names end in _total; histogram samples are
 * _bucket (with an le label, cumulative, ending with +Inf), _sum and
 * _count (equal to the +Inf bucket); label values use only the format's
 * escapes; values parse as numbers. Samples are then looked up by name
 * and labels exactly as written ("map=\"x\",shard=\"3\"").
 *
 * prom_promtool runs `promtool check metrics` on a text as well (the
 * Debian package prometheus; installed by scripts/install-deps.sh test).
 */
#ifndef GOMAP_TEST_PROMPARSE_H
#define GOMAP_TEST_PROMPARSE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct prom_sample {
    char *name;
    char *labels; /* between the braces, as written ("" for none) */
    double value;
} prom_sample;

typedef struct prom_doc {
    prom_sample *samples;
    size_t n;
    char **families; /* names of the TYPE lines, in order */
    char **types;    /* their types */
    size_t nfam;
} prom_doc;

prom_doc *prom_parse(const char *text);
void prom_free(prom_doc *d);

/* The value of the sample name{labels}; false if there is none. */
bool prom_find(const prom_doc *d, const char *name, const char *labels, double *out);

/* As prom_find, failing the test when it is missing. */
double prom_value(const prom_doc *d, const char *name, const char *labels);

/* Samples named `name`; families named `family` (0 or 1). */
size_t prom_count(const prom_doc *d, const char *name);
bool prom_has_family(const prom_doc *d, const char *family);

/* Fails the test unless `promtool check metrics` accepts text. */
void prom_promtool(const char *text);

#endif
