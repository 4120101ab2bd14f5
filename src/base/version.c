/*
 * version.c — the version of the library, for programs that want to know
 * which gomap they run with (include/gomap/version.h).
 */
#include <gomap/version.h>

const char *gomap_version(void)
{
    return GOMAP_VERSION_STRING;
}
