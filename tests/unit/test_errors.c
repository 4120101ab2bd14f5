/*
 * test_errors.c — gomap_strerror names every error code a public function
 * can return.
 *
 *   every_code_named   each code the headers document (0, -ENOMEM, -EINVAL,
 *                      -EBUSY, -EFAULT, -EIO, and -EEXIST / -ENOENT, which
 *                      DESIGN.md reserves) has its own name: not the text
 *                      for unknown codes, and no two codes share one.
 *   unknown_codes      codes gomap never returns, and positive errno
 *                      values, get the unknown text (never NULL).
 *   io_errors_named    gomap_dump, gomap_heatmap (both formats) and
 *                      gomap_shard_heatmap writing to a stream that refuses
 *                      writes return -EIO, and its name says so.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <gomap.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* What gomap_strerror answers for a code it does not know. */
static const char *unknown_text(void)
{
    return gomap_strerror(-ERANGE);
}

static const struct {
    int code;
    const char *what;
} documented[] = {
    {0, "0"},
    {-ENOMEM, "-ENOMEM"},
    {-EINVAL, "-EINVAL"},
    {-EBUSY, "-EBUSY"},
    {-EFAULT, "-EFAULT"},
    {-EIO, "-EIO"},
    {-EEXIST, "-EEXIST"},
    {-ENOENT, "-ENOENT"},
};

enum { N_DOCUMENTED = sizeof documented / sizeof documented[0] };

static void test_every_code_named(void)
{
    const char *unknown = unknown_text();
    CHECK(unknown != NULL);
    for (size_t i = 0; i < N_DOCUMENTED; i++) {
        const char *name = gomap_strerror(documented[i].code);
        CHECK_MSG(name != NULL && *name, "%s has no name", documented[i].what);
        CHECK_MSG(strcmp(name, unknown) != 0, "%s is named as unknown: \"%s\"",
                  documented[i].what, name);
        for (size_t j = 0; j < i; j++)
            CHECK_MSG(strcmp(name, gomap_strerror(documented[j].code)) != 0,
                      "%s and %s share the name \"%s\"", documented[i].what,
                      documented[j].what, name);
    }
    /* The name says what happened, in words a log reader recognises. */
    CHECK(strstr(gomap_strerror(-EIO), "output") != NULL);
}

static void test_unknown_codes(void)
{
    static const int never[] = {-ERANGE, -EAGAIN, -EPERM, -1000, EIO, EINVAL, 1, INT32_MIN};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        const char *name = gomap_strerror(never[i]);
        CHECK(name != NULL);
        CHECK_MSG(strcmp(name, unknown_text()) == 0, "code %d named \"%s\"", never[i], name);
    }
}

/* A stream whose writes all fail: a memory stream opened for reading. */
static FILE *refusing_stream(char *buf, size_t len)
{
    FILE *f = fmemopen(buf, len, "r");
    CHECK(f != NULL);
    return f;
}

static void test_io_errors_named(void)
{
    char buf[64] = "";
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = sizeof(uint64_t);
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    for (uint64_t k = 0; k < 100; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);

    FILE *f = refusing_stream(buf, sizeof buf);
    CHECK_EQ(gomap_dump(m, f), -EIO);
    fclose(f);
    f = refusing_stream(buf, sizeof buf);
    CHECK_EQ(gomap_heatmap(m, f, GOMAP_HEATMAP_TEXT), -EIO);
    fclose(f);
    f = refusing_stream(buf, sizeof buf);
    CHECK_EQ(gomap_heatmap(m, f, GOMAP_HEATMAP_SVG), -EIO);
    fclose(f);

    gomap_shard_options so;
    memset(&so, 0, sizeof so);
    so.map = o;
    so.shards = 4;
    gomap_shard_t *s = NULL;
    CHECK_EQ(gomap_shard_new(&s, &so), 0);
    for (uint64_t k = 0; k < 100; k++)
        CHECK_EQ(gomap_shard_set(s, &k, &k), 0);
    f = refusing_stream(buf, sizeof buf);
    CHECK_EQ(gomap_shard_heatmap(s, f, GOMAP_HEATMAP_TEXT), -EIO);
    fclose(f);
    f = refusing_stream(buf, sizeof buf);
    CHECK_EQ(gomap_shard_heatmap(s, f, GOMAP_HEATMAP_SVG), -EIO);
    fclose(f);

    CHECK(strcmp(gomap_strerror(-EIO), unknown_text()) != 0);
    gomap_shard_free(s);
    gomap_free(m);
}

int main(void)
{
    RUN(test_every_code_named);
    RUN(test_unknown_codes);
    RUN(test_io_errors_named);
    printf("ok\n");
    return 0;
}
