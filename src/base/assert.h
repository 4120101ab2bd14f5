/*
 * assert.h — the library's assertions. They need no map: any module, any
 * function, can state what must hold where it stands.
 *
 * Levels (GOMAP_DEBUG_LEVEL, set by the build presets):
 *   0  only the always-on cheap checks, GOMAP_ASSERT_ALWAYS (release);
 *   1  also GOMAP_ASSERT: local consistency checks, hot paths included;
 *   2  also a whole-structure validation after writes (the core map's
 *      gomap__write_end, the snapshot map's publication), which reports
 *      what it found through gomap__fatal (map_internal.h).
 *
 * A failed assertion is reported like detected misuse (misuse.h): one
 * report on stderr whose first line is
 *
 *   fatal error: assertion failed: <condition> (src/<file>:<line>)
 *
 * then the thread, the place of the check and the backtrace; the fault
 * handler (gomap_set_fault_handler) runs, and the process aborts.
 */
#ifndef GOMAP_ASSERT_H
#define GOMAP_ASSERT_H

/* The report of a failed assertion (misuse.c). Never returns. */
_Noreturn void gomap__assert_fail(const char *cond, const char *file, int line);

/* Checked in every build: for impossible states that are cheap to test
 * and would otherwise corrupt memory. */
#define GOMAP_ASSERT_ALWAYS(cond)                                \
    do {                                                         \
        if (__builtin_expect(!(cond), 0))                        \
            gomap__assert_fail(#cond, __FILE__, __LINE__);       \
    } while (0)

/* Checked at GOMAP_DEBUG_LEVEL 1 and above. Below, cond is not evaluated
 * (only type-checked, so what it names still counts as used). */
#if GOMAP_DEBUG_LEVEL >= 1
#define GOMAP_ASSERT(cond) GOMAP_ASSERT_ALWAYS(cond)
#else
#define GOMAP_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif /* GOMAP_ASSERT_H */
