/*
 * validate.h — how every map's validate function reports why it failed
 * (gomap_validate, gomap_sync_validate, gomap_shard_validate,
 * gomap_snap_validate).
 */
#ifndef GOMAP_VALIDATE_H
#define GOMAP_VALIDATE_H

#include <stddef.h>

/* The caller's buffer for the reason: the `why` and `why_len` arguments of
 * a public validate call (NULL or 0: no reason wanted). */
struct gomap__why {
    char *buf;
    size_t len;
};

/* The buffer, emptied when there is one: a validation that passes leaves
 * "" in it. */
static inline struct gomap__why gomap__why_start(char *buf, size_t len)
{
    if (buf && len)
        buf[0] = '\0';
    return (struct gomap__why){buf, len};
}

/* Writes the reason, printf-style, into w (cut to fit, NUL-terminated)
 * when w has room, and returns -EFAULT: every validator's answer for a
 * structure that breaks an invariant. */
int gomap__why_fail(struct gomap__why w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* GOMAP_VALIDATE_H */
