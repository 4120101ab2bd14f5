/*
 * gomap/version.h — which gomap this is.
 *
 * The macros are the version of the headers a program was compiled with;
 * gomap_version() is the version of the library it runs with. They differ
 * when a program built against one release loads the shared library of
 * another: compare them to find out.
 *
 * This header is the single source of the version: CMakeLists.txt reads
 * GOMAP_VERSION_MAJOR, _MINOR and _PATCH from here for project(VERSION),
 * the shared library's VERSION and SOVERSION (the major number), gomap.pc
 * and the CMake package; configuring fails if GOMAP_VERSION_STRING does not
 * spell the three numbers. A release changes the numbers here only.
 */
#ifndef GOMAP_VERSION_H
#define GOMAP_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GOMAP_API
#if defined(__GNUC__) || defined(__clang__)
#define GOMAP_API __attribute__((visibility("default")))
#else
#define GOMAP_API
#endif
#endif

#define GOMAP_VERSION_MAJOR 0
#define GOMAP_VERSION_MINOR 1
#define GOMAP_VERSION_PATCH 0
#define GOMAP_VERSION_STRING "0.1.0"

/* One number that grows with every release, for #if comparisons:
 * #if GOMAP_VERSION_NUMBER >= 10200 means 1.2.0 or later. */
#define GOMAP_VERSION_NUMBER \
    (GOMAP_VERSION_MAJOR * 10000 + GOMAP_VERSION_MINOR * 100 + GOMAP_VERSION_PATCH)

/* The version of the library this program runs with, as "MAJOR.MINOR.PATCH"
 * (GOMAP_VERSION_STRING of the build that made the library). A static
 * string: never NULL, never freed. Thread-safe. */
GOMAP_API const char *gomap_version(void);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_VERSION_H */
