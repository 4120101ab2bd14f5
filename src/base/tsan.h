/*
 * tsan.h — GOMAP_TSAN is defined in ThreadSanitizer builds (gcc's and
 * clang's spellings).
 */
#ifndef GOMAP_TSAN_H
#define GOMAP_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define GOMAP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GOMAP_TSAN 1
#endif
#endif

#endif /* GOMAP_TSAN_H */
