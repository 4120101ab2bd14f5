/*
 * test_errors.c — gomap_strerror names exactly the error codes the public
 * functions return.
 *
 *   every_code_named   each code the library returns (0, -ENOMEM, -EINVAL,
 *                      -EBUSY, -EFAULT, -EIO, -ENOENT, -EAGAIN, -EDEADLK) has its own
 *                      name: not the text
 *                      for unknown codes, and no two codes share one.
 *   unknown_codes      codes gomap never returns (-EEXIST included), and
 *                      positive errno
 *                      values, get the unknown text (never NULL).
 *   codes_returned     -ENOMEM, -EINVAL, -EBUSY and -EFAULT come from the
 *                      calls that document them, and their names say what
 *                      happened.
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
    {-ENOENT, "-ENOENT"},
    {-EAGAIN, "-EAGAIN"},
    {-EDEADLK, "-EDEADLK"},
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
    CHECK(strstr(gomap_strerror(-ENOENT), "expired") != NULL);
}

static void test_unknown_codes(void)
{
    static const int never[] = {-ERANGE, -EPERM, -EEXIST, -ESRCH, -1000,
                                EIO,     EINVAL, 1,       INT32_MIN};
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

/* An allocator that refuses everything. */
static void *refuse_alloc(size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    return NULL;
}

static void refuse_free(void *p, size_t size, void *ctx)
{
    (void)p;
    (void)size;
    (void)ctx;
}

/* A custom hash whose answers change when `flip` is set: the keys stored
 * before then sit in the wrong buckets, which the validator reports. */
static bool flip;

static uint64_t flippable_hash(const void *key, uint64_t seed)
{
    uint64_t z;
    memcpy(&z, key, sizeof z);
    z = (z ^ seed) * 0x9E3779B97F4A7C15ull;
    z ^= z >> 29;
    return flip ? z ^ 1 : z;
}

static bool u64_equal(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(uint64_t)) == 0;
}

/* The named codes are ones the library really returns, with their names. */
static void test_codes_returned(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = sizeof(uint64_t);
    gomap_t *m = NULL;

    CHECK_EQ(gomap_new(NULL, &o), -EINVAL);
    CHECK(strstr(gomap_strerror(-EINVAL), "invalid") != NULL);

    gomap_allocator refuse = {refuse_alloc, refuse_free, NULL};
    gomap_options ro = o;
    ro.alloc = &refuse;
    CHECK_EQ(gomap_new(&m, &ro), -ENOMEM);
    CHECK(m == NULL);
    CHECK(strstr(gomap_strerror(-ENOMEM), "memory") != NULL);

    CHECK_EQ(gomap_new(&m, &o), 0);
    for (uint64_t k = 0; k < 100; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it, NULL, NULL));
    CHECK_EQ(gomap_shrink(m), -EBUSY);
    gomap_iter_done(&it);
    CHECK_EQ(gomap_shrink(m), 0);
    CHECK(strstr(gomap_strerror(-EBUSY), "busy") != NULL);
    gomap_free(m);

    gomap_options co = o;
    co.key_kind = GOMAP_KEY_CUSTOM;
    co.key_size = sizeof(uint64_t);
    co.hash = flippable_hash;
    co.equal = u64_equal;
    CHECK_EQ(gomap_new(&m, &co), 0);
    for (uint64_t k = 0; k < 100; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    char why[256] = "";
    CHECK_EQ(gomap_validate(m, why, sizeof why), 0);
    flip = true;
    CHECK_EQ(gomap_validate(m, why, sizeof why), -EFAULT);
    flip = false;
    CHECK(why[0] != '\0');
    CHECK(strstr(gomap_strerror(-EFAULT), "validation") != NULL);
    gomap_free(m);
}

int main(void)
{
    RUN(test_every_code_named);
    RUN(test_unknown_codes);
    RUN(test_codes_returned);
    RUN(test_io_errors_named);
    printf("ok\n");
    return 0;
}
