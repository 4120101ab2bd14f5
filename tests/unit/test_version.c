/*
 * test_version.c — the version macros and gomap_version() agree.
 *
 *   library_matches_header  gomap_version() is GOMAP_VERSION_STRING: the
 *                           library and the headers this test was compiled
 *                           with are one release.
 *   string_spells_numbers   GOMAP_VERSION_STRING is exactly
 *                           "MAJOR.MINOR.PATCH" of the three number macros,
 *                           and GOMAP_VERSION_NUMBER is computed from them.
 *   shared_library_name     the shared library gomap builds is named after
 *                           the major version (libgomap.so.MAJOR), when the
 *                           build tells this test where it is.
 * (CMakeLists.txt also refuses to configure when the string and the
 * numbers disagree; this test checks what a compiler sees.)
 */
#include "check.h"

#include <gomap/version.h>

#include <stdio.h>
#include <string.h>

static void test_library_matches_header(void)
{
    const char *v = gomap_version();
    CHECK(v != NULL);
    CHECK_MSG(strcmp(v, GOMAP_VERSION_STRING) == 0, "library %s, headers %s", v,
              GOMAP_VERSION_STRING);
    CHECK(gomap_version() == v); /* one static string */
}

static void test_string_spells_numbers(void)
{
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", GOMAP_VERSION_MAJOR, GOMAP_VERSION_MINOR,
             GOMAP_VERSION_PATCH);
    CHECK_MSG(strcmp(want, GOMAP_VERSION_STRING) == 0, "string %s, numbers %s",
              GOMAP_VERSION_STRING, want);
    CHECK_EQ(GOMAP_VERSION_NUMBER,
             GOMAP_VERSION_MAJOR * 10000 + GOMAP_VERSION_MINOR * 100 + GOMAP_VERSION_PATCH);
    CHECK(GOMAP_VERSION_MINOR < 100 && GOMAP_VERSION_PATCH < 100);
}

static void test_shared_library_name(void)
{
#ifdef GOMAP_TEST_SONAME_FILE
    char want[64];
    snprintf(want, sizeof want, "libgomap.so.%d", GOMAP_VERSION_MAJOR);
    CHECK_MSG(strcmp(GOMAP_TEST_SONAME_FILE, want) == 0, "shared library named %s, want %s",
              GOMAP_TEST_SONAME_FILE, want);
#else
    printf("   (no shared library in this build)\n");
#endif
}

int main(void)
{
    RUN(test_library_matches_header);
    RUN(test_string_spells_numbers);
    RUN(test_shared_library_name);
    printf("ok\n");
    return 0;
}
